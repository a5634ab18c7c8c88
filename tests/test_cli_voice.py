"""`voxdesk speak` falls back to the next voice when the preferred one cannot speak."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import GENEROUS
from tests.test_cli import voxdesk
from voxdesk.core.audio import decode_to_pcm


async def test_speak_falls_back_to_piper_without_google(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    target = tmp_path / "reply.wav"
    closed = f"http://127.0.0.1:{unused_tcp_port}"  # gTTS fails at once, no internet touched
    run = await voxdesk("speak", "Hello there.", "-o", str(target), "-e", "gtts", "-l", "en",
                        env={"HTTPS_PROXY": closed, "https_proxy": closed})  # fmt: skip
    assert run.code == 0, run.err
    said = run.err.strip().splitlines()  # the log says why, once; then what was written
    assert len(said) == 2 and "Speaking with piper instead of gtts (gtts: gTTS could" in said[0]
    assert said[1].endswith("bytes, piper).")
    assert (await decode_to_pcm(target, GENEROUS)).duration > 0.5


async def test_an_unknown_voice_is_one_line(tmp_path: Path) -> None:
    run = await voxdesk("speak", "Hello.", "-o", str(tmp_path / "x.wav"), "-e", "festival")
    assert run.code == 1 and "Traceback" not in run.err
    assert run.err.strip().splitlines() == [
        "error: Unknown voice engine 'festival'. Choose one of: gtts, espeak, piper."
    ]
