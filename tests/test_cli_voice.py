"""`voxdesk speak`: the next voice when the preferred one cannot speak, said once and plainly;
the voice asked for with -e, or why it cannot speak; one line for what cannot be said."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import GENEROUS
from tests.test_cli import assert_one_line_error, voxdesk
from voxdesk.core.audio import decode_to_pcm


async def test_speak_falls_back_to_piper_without_google_and_says_so_plainly(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    target = tmp_path / "reply.wav"
    closed = f"http://127.0.0.1:{unused_tcp_port}"  # gTTS fails at once, no internet touched
    offline = {"HTTPS_PROXY": closed, "https_proxy": closed}
    run = await voxdesk("speak", "Hello there.", "-o", str(target), "-l", "en", env=offline)
    assert run.code == 0, run.err
    said = run.err.strip().splitlines()  # why, once, with no log stamp; then what was written
    assert said[0].startswith("Spoke with piper: gtts: gTTS could not reach Google (no conn")
    assert len(said) == 2 and "WARNING" not in run.err
    assert said[1].endswith("bytes, piper).")
    assert (await decode_to_pcm(target, GENEROUS)).duration > 0.5
    # the settings' preference speaks each text in its own language: no Piper voice for this
    run = await voxdesk("speak", "Привет", "-o", str(tmp_path / "ru.ogg"), env=offline)
    assert run.code == 0, run.err
    assert run.err.startswith("Spoke with espeak: gtts: gTTS could not reach Google"), run.err
    # the engine asked for speaks, or the command says why: no other voice in its place
    run = await voxdesk("speak", "Hello.", "-o", str(target), "-e", "gtts", env=offline)
    assert_one_line_error(run, "gTTS could not reach Google (no connection)", "espeak")


async def test_an_unknown_voice_is_one_line(tmp_path: Path) -> None:
    run = await voxdesk("speak", "Hello.", "-o", str(tmp_path / "x.wav"), "-e", "festival")
    assert run.code == 1 and "Traceback" not in run.err
    assert run.err.strip().splitlines() == [
        "error: Unknown voice engine 'festival'. Choose one of: gtts, espeak, piper."
    ]


async def test_speak_empty_text_is_one_line(tmp_path: Path) -> None:
    run = await voxdesk("speak", "  ", "-o", str(tmp_path / "e.wav"))
    assert_one_line_error(run, "There is no text to speak.")
    assert "espeak-ng" not in run.err and not (tmp_path / "e.wav").exists()


async def test_speak_with_the_engine_asked_for_or_says_why_not(tmp_path: Path) -> None:
    target = tmp_path / "p.wav"
    # tts.language is 'auto' by default, and only an English Piper voice is bundled
    run = await voxdesk("speak", "-e", "piper", "Привет, как дела?", "-o", str(target))
    assert_one_line_error(run, "No Piper voice for 'ru'", "tts.language is 'auto' ('ru' here)")
    assert not target.exists()
    run = await voxdesk("speak", "-e", "piper", "-l", "en", "Hello", "-o", str(target))
    assert run.code == 0, run.err
    assert "piper)" in run.err
    assert (await decode_to_pcm(target, GENEROUS)).duration > 0.3
