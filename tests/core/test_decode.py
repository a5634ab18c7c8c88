"""Decoding every format to 16 kHz mono PCM, and every kind of bad input to a typed error."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import CORPUS, GENEROUS, clip
from voxdesk.core.audio import (
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    DecodeLimits,
    DecodeTimeout,
    EmptyAudio,
    NoAudioStream,
    RawFormat,
    UnsupportedAudio,
    decode_to_pcm,
)
from voxdesk.core.audio.ffmpeg import ffmpeg_executable

SOURCE = CORPUS / "pocketsphinx_librivox_0870.wav"  # 7.1 s of speech
SOURCE_SECONDS = 7.1
ENCODERS = {
    "ogg": ["-c:a", "libopus"],
    "opus": ["-c:a", "libopus"],
    "mp3": ["-c:a", "libmp3lame"],
    "m4a": ["-c:a", "aac"],
    "webm": ["-c:a", "libopus"],
    "flac": [],
    "wav": [],
    "aiff": [],
}


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_executable(), "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same recording in every format, made with the bundled ffmpeg."""
    folder = tmp_path_factory.mktemp("formats")
    files = {}
    for extension, options in ENCODERS.items():
        files[extension] = folder / f"speech.{extension}"
        ffmpeg("-i", str(SOURCE), *options, str(files[extension]))
    return files


@pytest.mark.parametrize("extension", sorted(ENCODERS))
async def test_every_format_decodes_to_16k_mono(encoded: dict[str, Path], extension: str) -> None:
    pcm = await decode_to_pcm(encoded[extension], GENEROUS)
    assert pcm.sample_rate == 16_000
    assert pcm.duration == pytest.approx(SOURCE_SECONDS, abs=0.1)
    assert pcm.samples().std() > 100  # real sound, not silence


async def test_bytes_decode_like_files(encoded: dict[str, Path]) -> None:
    from_file = await decode_to_pcm(encoded["ogg"], GENEROUS)
    from_bytes = await decode_to_pcm(encoded["ogg"].read_bytes(), GENEROUS)
    assert from_bytes == from_file


async def test_raw_pcm_needs_and_uses_its_stated_format() -> None:
    goforward = clip("pocketsphinx_goforward.raw")
    pcm = await decode_to_pcm(goforward.path, GENEROUS, raw=RawFormat(16_000, 1, "s16le"))
    assert pcm.duration == pytest.approx(goforward.duration, abs=0.05)
    # Read as 8 kHz, the same bytes last twice as long once resampled to 16 kHz.
    slow = await decode_to_pcm(goforward.path, GENEROUS, raw=RawFormat(8_000, 1, "s16le"))
    assert slow.duration == pytest.approx(2 * goforward.duration, abs=0.05)


async def test_streamed_wav_with_placeholder_length_is_not_damage(tmp_path: Path) -> None:
    streamed = subprocess.run(
        [ffmpeg_executable(), "-v", "error", "-i", str(SOURCE), "-f", "wav", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert streamed[4:8] == b"\xff\xff\xff\xff"  # written to a pipe: length unknown
    pcm = await decode_to_pcm(streamed, GENEROUS)
    assert pcm.duration == pytest.approx(SOURCE_SECONDS, abs=0.1)


async def test_empty_input_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "voice.ogg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudio, match="empty"):
        await decode_to_pcm(empty, GENEROUS)
    with pytest.raises(EmptyAudio):
        await decode_to_pcm(b"", GENEROUS)


async def test_zero_samples_is_empty(tmp_path: Path) -> None:
    silent = tmp_path / "nothing.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", str(silent))
    with pytest.raises(EmptyAudio, match="no sound"):
        await decode_to_pcm(silent, GENEROUS)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        (b"%PDF-1.7\n" + bytes(200), "PDF document"),
        (b"hello, this is not a voice message at all\n" * 5, "text file"),
    ],
)
async def test_mislabelled_files_say_what_they_are(
    tmp_path: Path, content: bytes, kind: str
) -> None:
    fake = tmp_path / "voice-message.ogg"
    fake.write_bytes(content)
    with pytest.raises(UnsupportedAudio, match=kind) as raised:
        await decode_to_pcm(fake, GENEROUS, name=fake.name)
    assert raised.value.hint  # and what to send instead


async def test_unknown_binary_is_unsupported() -> None:
    with pytest.raises(UnsupportedAudio, match="not an audio format"):
        await decode_to_pcm(bytes(range(256)) * 40, GENEROUS)


@pytest.mark.parametrize("extension", sorted(ENCODERS))
async def test_truncated_files_are_reported(encoded: dict[str, Path], extension: str) -> None:
    data = encoded[extension].read_bytes()
    with pytest.raises(CorruptAudio, match="cut short|damaged"):
        await decode_to_pcm(data[: len(data) * 6 // 10], GENEROUS)


async def test_garbage_inside_an_ogg_is_corrupt(encoded: dict[str, Path]) -> None:
    data = bytearray(encoded["ogg"].read_bytes())
    data[200:4000] = bytes(3800)
    with pytest.raises(CorruptAudio):
        await decode_to_pcm(bytes(data), GENEROUS)


async def test_video_without_sound_has_no_audio_track(tmp_path: Path) -> None:
    video = tmp_path / "clip.webm"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1", "-c:v", "libvpx", str(video)
    )
    with pytest.raises(NoAudioStream, match="no audio track"):
        await decode_to_pcm(video, GENEROUS)


async def test_over_the_byte_limit_is_refused_before_decoding(encoded: dict[str, Path]) -> None:
    limits = DecodeLimits(max_bytes=1000, max_seconds=3600, timeout=60)
    with pytest.raises(AudioTooLarge, match="over the 0.0 MiB limit"):
        await decode_to_pcm(encoded["wav"], limits)


async def test_over_the_length_limit_is_refused(encoded: dict[str, Path]) -> None:
    limits = DecodeLimits(max_bytes=1 << 30, max_seconds=3, timeout=60)
    for extension in ("wav", "ogg"):
        with pytest.raises(AudioTooLong, match="3 s limit"):
            await decode_to_pcm(encoded[extension], limits)


async def test_length_limit_holds_when_the_header_does_not_say(tmp_path: Path) -> None:
    limits = DecodeLimits(max_bytes=1 << 30, max_seconds=2, timeout=60)
    raw = tmp_path / "long.raw"
    raw.write_bytes(bytes(16_000 * 2 * 5))  # 5 s of headerless PCM: only decoding can tell
    with pytest.raises(AudioTooLong):
        await decode_to_pcm(raw, limits, raw=RawFormat())


async def test_slow_decoding_is_stopped(tmp_path: Path) -> None:
    long_audio = tmp_path / "long.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "900", str(long_audio))
    limits = DecodeLimits(max_bytes=1 << 30, max_seconds=3600, timeout=0.2)
    with pytest.raises(DecodeTimeout, match="longer than 0.2 s"):
        await decode_to_pcm(long_audio, limits)


async def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedAudio, match="no such file"):
        await decode_to_pcm(tmp_path / "absent.ogg", GENEROUS)
    with pytest.raises(UnsupportedAudio, match="folder"):
        await decode_to_pcm(tmp_path, GENEROUS)


async def test_temp_files_are_unique_and_removed(
    encoded: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    good = encoded["ogg"].read_bytes()
    bad = good[: len(good) // 2]
    results = await asyncio.gather(
        *(decode_to_pcm(data, GENEROUS) for data in [good, bad, good, bad, good]),
        return_exceptions=True,
    )
    assert [type(result).__name__ for result in results] == [
        "Pcm", "CorruptAudio", "Pcm", "CorruptAudio", "Pcm",
    ]  # fmt: skip
    assert list(tmp_path.iterdir()) == []
