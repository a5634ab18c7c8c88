"""The ``voxdesk`` command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.scoring import error_counts
from tests.conftest import GENEROUS, clip
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.audio import decode_to_pcm

VOXDESK = str(Path(sys.executable).parent / "voxdesk")


@dataclass
class Run:
    code: int
    out: str
    err: str


async def voxdesk(*args: str, env: dict[str, str] | None = None) -> Run:
    process = await asyncio.create_subprocess_exec(
        VOXDESK, *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def assert_one_line_error(run: Run, *words: str) -> None:
    assert run.code == 1
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    for word in words:
        assert word in lines[0]


@pytest.mark.slow
async def test_transcribe_prints_the_text() -> None:
    run = await voxdesk("transcribe", str(clip("deepspeech_new_home_in_the_stars.wav").path))
    assert run.code == 0, run.err
    assert run.out == "We must find a new home in the stars.\n"


@pytest.mark.slow
async def test_transcribe_several_files_into_subtitles(tmp_path: Path) -> None:
    files = [clip("speechrec_english.wav").path, clip("speechrec_french.aiff").path]
    run = await voxdesk("transcribe", *map(str, files), "-f", "srt", "-o", str(tmp_path / "subs"))
    assert run.code == 0, run.err
    english = (tmp_path / "subs" / "speechrec_english.srt").read_text()
    assert english.startswith("1\n00:00:00,000 --> ")
    assert "dictée" in (tmp_path / "subs" / "speechrec_french.srt").read_text()


@pytest.mark.slow
async def test_raw_pcm_needs_its_format_stated() -> None:
    raw = str(clip("pocketsphinx_goforward.raw").path)
    assert_one_line_error(await voxdesk("transcribe", raw), "headerless PCM", "--raw")
    run = await voxdesk("transcribe", "--raw", "16000:1:s16le", "-f", "json", raw)
    assert run.code == 0 and '"text": "Go forward 10 meters."' in run.out


async def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    fake = tmp_path / "voice.ogg"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert_one_line_error(await voxdesk("transcribe", str(fake)), "PNG image", "not audio")
    missing = str(tmp_path / "missing.wav")
    assert_one_line_error(await voxdesk("transcribe", missing), "no such file")
    assert_one_line_error(await voxdesk("transcribe", "-f", "docx", missing), "output format")
    assert_one_line_error(await voxdesk("transcribe", "-e", "siri", str(fake)), "siri")


async def test_inputs_that_are_no_readable_file_and_unwritable_outputs(tmp_path: Path) -> None:
    audio = clip("pocketsphinx_cards_001.wav").path
    fifo = tmp_path / "take.wav"
    os.mkfifo(fifo)
    assert_one_line_error(await voxdesk("transcribe", str(fifo)), "take.wav is a pipe")
    # <(…) hands over /dev/fd/N, a pipe, which read as "empty (0 bytes)"
    substituted = await shell(f"'{VOXDESK}' transcribe <(cat '{audio}')")
    assert_one_line_error(substituted, "/dev/fd/", "is a pipe")
    assert_one_line_error(
        await voxdesk("transcribe", str(unreadable_file(tmp_path))), "cannot be read"
    )
    a_file = tmp_path / "notes.txt"
    a_file.write_text("")
    for place in (a_file / "out.txt", Path("/proc/voxdesk/out.txt")):
        run = await voxdesk("transcribe", str(audio), "-o", str(place))
        assert_one_line_error(run, f"Cannot write to {place}")


def unreadable_file(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        path = tmp_path / "locked.wav"
        path.write_bytes(clip("pocketsphinx_cards_001.wav").path.read_bytes())
        path.chmod(0)
        return path
    path = Path("/proc/sys/vm/compact_memory")  # write-only, even for root
    if not path.exists():
        pytest.skip("no file here that root cannot read")
    return path


async def shell(command: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


@pytest.mark.slow
async def test_record_live_prints_final_words_as_they_come() -> None:
    item = clip("pocketsphinx_librivox_0870.wav")
    run = await voxdesk("record", "--live", "-s", "9", "-l", "en", "--from-file", str(item.path))
    assert run.code == 0, run.err
    assert run.out.count("\n") == 1  # one utterance, one line; a pipe gets no status line
    assert error_counts(item.reference, run.out)[0] <= 2, run.out
    refused = await voxdesk("record", "--live", "-e", "sphinx", "--from-file", str(item.path))
    assert_one_line_error(refused, "whisper engine")


async def test_speak_writes_a_voice_file(tmp_path: Path) -> None:
    target = tmp_path / "reply.ogg"
    run = await voxdesk("speak", "Привет, я бот.", "-o", str(target), "-e", "espeak")
    assert run.code == 0, run.err
    pcm = await decode_to_pcm(target, GENEROUS)
    assert pcm.duration > 0.5


@pytest.mark.slow
async def test_record_from_a_stand_in_microphone(tmp_path: Path) -> None:
    source = clip("pocketsphinx_librivox_0880.wav").path
    saved = tmp_path / "take.wav"
    run = await voxdesk(
        "record", "--seconds", "3", "--transcribe", "-o", str(saved), "--from-file", str(source)
    )
    assert run.code == 0, run.err
    assert "ill disposed young man" in run.out.replace("-", " ")
    assert (await decode_to_pcm(saved, GENEROUS)).duration == pytest.approx(3.0, abs=0.05)


async def test_devices_never_crashes() -> None:
    run = await voxdesk("devices")
    if run.code != 0:  # a machine without a microphone or PortAudio
        assert_one_line_error(run)
    else:
        assert "name" in run.out


async def test_config_set_show_and_masked_secrets(tmp_path: Path) -> None:
    secret = "sk-cli-secret-abcdefghijklmnop"
    assert (await voxdesk("config", "set", "speech.language", "ru-RU")).code == 0
    assert_one_line_error(await voxdesk("config", "set", "speech.nonsense", "1"), "no setting")
    assert_one_line_error(await voxdesk("config", "set", "audio.max_bytes", "many"), "max_bytes")
    run = await voxdesk("config", "show", env={"OPENAI_API_KEY": secret})
    assert run.code == 0, run.err
    assert 'language = "ru-RU"' in run.out
    assert "OPENAI_API_KEY = ****mnop (from environment)" in run.out
    assert "DISCORD_TOKEN = not set" in run.out
    assert secret not in run.out + run.err


async def test_no_secret_in_debug_logs_of_a_real_api_call() -> None:
    server = await FakeOpenAI(transcript="one two three").start()
    try:
        run = await voxdesk(
            "-vv", "transcribe", "-e", "openai", str(clip("speechrec_english.wav").path),
            env={"OPENAI_API_KEY": API_KEY, "VOXDESK_OPENAI__BASE_URL": server.base_url},
        )  # fmt: skip
    finally:
        await server.stop()
    assert run.code == 0, run.err
    assert run.out == "one two three\n"
    assert "DEBUG" in run.err and "/v1/audio/transcriptions" in run.err  # logging was on
    assert API_KEY not in run.err + run.out
