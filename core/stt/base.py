"""The one interface every speech-to-text engine implements, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.errors import VoxdeskError

ProgressCallback = Callable[[float], None]
"""Called on the event loop with the share of the audio done, from 0.0 to 1.0."""


class TranscriptionError(VoxdeskError):
    """An engine could not transcribe (network down, service refused, model broken...)."""


class EngineUnavailable(TranscriptionError):
    """An engine cannot run here: a package, model or secret it needs is missing."""


@dataclass(frozen=True)
class Word:
    """A word with its times (seconds from the start of the audio) and the engine's confidence."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    """A stretch of speech with its start and end in seconds from the start of the audio.

    ``words`` are there when the engine timed each word (Whisper with word timestamps);
    ``speaker`` when someone named who speaks (the transcript editor).
    """

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str = ""


@dataclass(frozen=True)
class Timings:
    audio_seconds: float
    transcribe_seconds: float
    load_seconds: float = 0.0
    decode_seconds: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """Transcription time over audio length; below 1 is faster than real time."""
        return self.transcribe_seconds / self.audio_seconds if self.audio_seconds else 0.0


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    engine: str
    timings: Timings
    model: str | None = None
    segments: tuple[Segment, ...] = field(default_factory=tuple)


class Transcriber(Protocol):
    """Speech to text. Implementations are async, cancellable and report progress."""

    @property
    def name(self) -> str: ...

    async def transcribe(
        self,
        audio: Pcm,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """Transcribe ``audio``; ``language`` None means detect it where the engine can."""
        ...


def split_language(language: str | None) -> str | None:
    """'ru-RU' -> 'ru', 'auto' or None -> None (detect)."""
    if not language or language.lower() == "auto":
        return None
    return language.replace("_", "-").split("-")[0].lower()
