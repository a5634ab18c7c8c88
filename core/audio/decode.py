"""Decoding anything ffmpeg reads into 16 kHz mono PCM, within size, length and time limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from voxdesk.core.audio.errors import (
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    NoAudioStream,
    UnsupportedAudio,
)
from voxdesk.core.audio.ffmpeg import OutputLimitExceeded, run_ffmpeg
from voxdesk.core.audio.pcm import SAMPLE_RATE, SAMPLE_WIDTH, Pcm
from voxdesk.core.audio.sniff import Sniffed, ogg_is_truncated, sniff, wav_length_unknown
from voxdesk.core.config.settings import AudioSettings

log = logging.getLogger(__name__)

_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
# ffmpeg reports damage with these words but may still exit 0 having decoded a part.
_DAMAGE_MARKERS = (
    "Packet corrupt",
    "File ended prematurely",
    "decode_frame() failed",
    "Decoding error",
    "Error while decoding",
    "Invalid data found when processing input",
)
_NO_AUDIO_MARKERS = ("matches no streams", "does not contain any stream")
# A container's declared length may be a little off; less than this share decoded is damage.
_SHORTFALL_RATIO = 0.9
_SHORTFALL_SECONDS = 0.5

SampleFormat = Literal["s16le", "s16be", "s32le", "f32le", "u8"]


@dataclass(frozen=True)
class RawFormat:
    """How to read headerless PCM, which carries no description of itself."""

    sample_rate: int = SAMPLE_RATE
    channels: int = 1
    sample_format: SampleFormat = "s16le"


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int
    max_seconds: float
    timeout: float

    @classmethod
    def from_settings(cls, settings: AudioSettings) -> DecodeLimits:
        return cls(settings.max_bytes, settings.max_seconds, settings.decode_timeout)


async def decode_to_pcm(
    source: Path | bytes,
    limits: DecodeLimits,
    *,
    raw: RawFormat | None = None,
    name: str = "audio",
) -> Pcm:
    """Decode a file or in-memory bytes to 16 kHz mono s16le PCM.

    ``name`` is only used in messages. Raises a subclass of ``AudioError`` for input that is
    empty, not audio, damaged, too large, too long, or that takes too long to decode.
    """
    async with _as_file(source, limits, name) as (path, data):
        _check_content(data, name, raw)
        open_ended = wav_length_unknown(data)
        return await _decode_file(path, limits, raw, name, sniff(data[:64]), open_ended)


@contextlib.asynccontextmanager
async def _as_file(
    source: Path | bytes, limits: DecodeLimits, name: str
) -> AsyncIterator[tuple[Path, bytes]]:
    """Yield a path ffmpeg can seek in (m4a needs it) and the bytes, within the size limit."""
    if isinstance(source, Path):
        data = await asyncio.to_thread(_read_limited, source, limits.max_bytes, name)
        yield source, data
        return
    _check_size(len(source), limits.max_bytes, name)
    temp = await asyncio.to_thread(_write_temp, source)
    try:
        yield temp, source
    finally:
        await asyncio.to_thread(temp.unlink, missing_ok=True)


def _write_temp(data: bytes) -> Path:
    """A new file of our own (unique name, private mode): names from users never become paths."""
    fd, name = tempfile.mkstemp(prefix="voxdesk-audio-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return Path(name)


def _read_limited(path: Path, max_bytes: int, name: str) -> bytes:
    name = name or str(path)  # "." and "/" have no name of their own
    try:
        size = path.stat().st_size
        _check_size(size, max_bytes, name)
        return path.read_bytes()
    except FileNotFoundError:
        raise UnsupportedAudio(f"{name}: no such file.") from None
    except IsADirectoryError:
        raise UnsupportedAudio(f"{name} is a folder, not an audio file.") from None
    except PermissionError:
        raise UnsupportedAudio(f"{name}: permission denied.") from None


def _check_size(size: int, max_bytes: int, name: str) -> None:
    if size == 0:
        raise EmptyAudio(f"{name} is empty (0 bytes).", hint="Record or send the audio again.")
    if size > max_bytes:
        raise AudioTooLarge(
            f"{name} is {_mib(size)}, over the {_mib(max_bytes)} limit.",
            hint="Send a shorter recording, or raise audio.max_bytes in the settings.",
        )


def _check_content(data: bytes, name: str, raw: RawFormat | None) -> None:
    if raw is not None:
        return  # headerless PCM has no signature to check
    found = sniff(data[:64])
    if found and not found.is_audio:
        raise UnsupportedAudio(
            f"{name} is {found.kind}, not audio.",
            hint="Send a voice message or an audio file (ogg, mp3, m4a, wav, flac, webm...).",
        )
    if found and found.kind == "Ogg" and ogg_is_truncated(data):
        raise CorruptAudio(
            f"{name} is cut short: its last Ogg page is incomplete.",
            hint="The upload or recording was interrupted; send it again.",
        )


async def _decode_file(
    path: Path,
    limits: DecodeLimits,
    raw: RawFormat | None,
    name: str,
    kind: Sniffed | None,
    open_ended: bool,
) -> Pcm:
    declared: list[float] = []

    def watch_log(line: str) -> None:
        match = _DURATION.search(line)
        if match:
            seconds = _seconds(*match.groups())
            declared.append(seconds)
            if seconds > limits.max_seconds:
                raise _too_long(name, seconds, limits.max_seconds)

    max_output = int(limits.max_seconds * SAMPLE_RATE) * SAMPLE_WIDTH
    try:
        result = await run_ffmpeg(
            _decode_args(path, raw),
            time_limit=limits.timeout,
            max_output=max_output,
            on_log_line=watch_log,
        )
    except OutputLimitExceeded:
        raise _too_long(name, None, limits.max_seconds) from None
    if result.returncode != 0:
        raise _failure(result.log, name, kind)
    pcm = Pcm(result.output)
    if not open_ended:  # a streamed WAV's end is always "short" of its placeholder length
        _check_complete(pcm, result.log, declared, name)
    if pcm.frame_count == 0:
        raise EmptyAudio(f"{name} holds no sound.", hint="Record or send the audio again.")
    return pcm


def _decode_args(path: Path, raw: RawFormat | None) -> list[str]:
    source = ["-i", str(path)]
    if raw is not None:
        layout = ["-f", raw.sample_format, "-ar", str(raw.sample_rate), "-ac", str(raw.channels)]
        source = [*layout, *source]
    return [
        "-hide_banner", "-nostats", "-v", "info",
        *source,
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le", "-",
    ]  # fmt: skip


def _check_complete(pcm: Pcm, ffmpeg_log: str, declared: list[float], name: str) -> None:
    damage = next((marker for marker in _DAMAGE_MARKERS if marker in ffmpeg_log), None)
    if damage:
        log.info("ffmpeg reported damage in %s: %s", name, damage)
        raise CorruptAudio(
            f"{name} is damaged or cut short (decoded {pcm.duration:.1f} s before the error).",
            hint="Send the file again, or re-export it from the recording app.",
        )
    if declared and _is_shortfall(pcm.duration, declared[0]):
        raise CorruptAudio(
            f"{name} is cut short: it declares {declared[0]:.1f} s but holds {pcm.duration:.1f} s.",
            hint="The upload or recording was interrupted; send it again.",
        )


def _is_shortfall(decoded: float, declared: float) -> bool:
    missing = declared - decoded
    return missing > _SHORTFALL_SECONDS and decoded < declared * _SHORTFALL_RATIO


def _failure(ffmpeg_log: str, name: str, kind: Sniffed | None) -> Exception:
    log.info("ffmpeg failed on %s:\n%s", name, ffmpeg_log[-2000:])
    if any(marker in ffmpeg_log for marker in _NO_AUDIO_MARKERS):
        return NoAudioStream(f"{name} has no audio track.", hint="Send a file with sound in it.")
    if kind and kind.is_audio:
        return CorruptAudio(
            f"{name} looks like {kind.kind} but cannot be decoded: it is damaged or cut short.",
            hint="Send the file again, or re-export it from the recording app.",
        )
    return UnsupportedAudio(
        f"{name} is not an audio format that can be read.",
        hint="Send a voice message or an audio file (ogg, mp3, m4a, wav, flac, webm...).",
    )


def _too_long(name: str, seconds: float | None, limit: float) -> AudioTooLong:
    length = f" ({seconds:.0f} s)" if seconds is not None else ""
    return AudioTooLong(
        f"{name} is longer{length} than the {limit:g} s limit.",
        hint="Send a shorter recording, or raise audio.max_seconds in the settings.",
    )


def _seconds(hours: str, minutes: str, seconds: str) -> float:
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
