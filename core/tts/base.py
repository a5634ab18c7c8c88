"""The text-to-speech interface, its errors, and encoding speech into the requested format."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Literal, Protocol

from voxdesk.core.audio.ffmpeg import configure_pydub
from voxdesk.core.errors import VoxdeskError

SpeechFormat = Literal["ogg", "mp3", "wav"]
_EXPORT_OPTIONS: dict[str, dict[str, str]] = {
    "ogg": {"format": "ogg", "codec": "libopus", "bitrate": "64k"},  # Discord plays Opus best
    "mp3": {"format": "mp3", "codec": "libmp3lame", "bitrate": "128k"},
    "wav": {"format": "wav"},
}


class SpeechError(VoxdeskError):
    """Text could not be spoken."""


class LanguageNotSpoken(SpeechError):
    """The voice has nothing for the language asked: another language or voice would speak."""


@dataclass(frozen=True)
class Speech:
    """Encoded audio of spoken text."""

    data: bytes
    format: SpeechFormat
    engine: str
    language: str


class Synthesizer(Protocol):
    @property
    def name(self) -> str: ...

    async def synthesize(self, text: str, *, language: str, output: SpeechFormat) -> Speech:
        """Speak ``text`` in ``language`` and return it encoded as ``output``."""
        ...


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise SpeechError("There is no text to speak.")
    return text


async def encode(data: bytes, source_codec: str, output: SpeechFormat) -> bytes:
    """Re-encode audio we produced ourselves (trusted input) with pydub.

    The source codec is named, so pydub does not call ffprobe, which imageio-ffmpeg lacks.
    """
    return await asyncio.to_thread(_encode, data, source_codec, output)


def _encode(data: bytes, source_codec: str, output: SpeechFormat) -> bytes:
    configure_pydub()
    from pydub import AudioSegment

    if source_codec == "wav":
        segment = AudioSegment.from_wav(io.BytesIO(data))
    else:
        segment = AudioSegment.from_file(io.BytesIO(data), format=source_codec, codec=source_codec)
    buffer = io.BytesIO()
    segment.export(buffer, **_EXPORT_OPTIONS[output])
    return buffer.getvalue()
