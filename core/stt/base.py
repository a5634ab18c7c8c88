"""The one interface every speech-to-text engine implements, and what it returns."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from core.audio.pcm import Pcm
from core.errors import VoxdeskError

ProgressCallback = Callable[[float], None]
"""Called on the event loop with the share of the audio done, from 0.0 to 1.0."""

T = TypeVar("T")


class TranscriptionError(VoxdeskError):
    """An engine could not transcribe (network down, service refused, model broken...)."""


class EngineUnavailable(TranscriptionError):
    """An engine cannot run here: a package, model or secret it needs is missing."""


@dataclass(frozen=True)
class Segment:
    """A stretch of speech with its start and end in seconds from the start of the audio."""

    start: float
    end: float
    text: str


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


async def run_blocking(
    work: Callable[[threading.Event, ProgressCallback], T],
    progress: ProgressCallback | None = None,
) -> T:
    """Run blocking engine code in a worker thread, cancellably.

    ``work`` gets an event that is set when the awaiting task is cancelled (it should check it
    between chunks and stop) and a progress function that is safe to call from the thread.
    """
    loop = asyncio.get_running_loop()
    cancelled = threading.Event()

    def report(done: float) -> None:
        if progress is not None:
            loop.call_soon_threadsafe(progress, min(1.0, max(0.0, done)))

    future = loop.run_in_executor(None, work, cancelled, report)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancelled.set()
        raise


class Cancelled(Exception):
    """Raised inside a worker thread when its task was cancelled."""


def check_cancelled(cancelled: threading.Event) -> None:
    if cancelled.is_set():
        raise Cancelled


def split_language(language: str | None) -> str | None:
    """'ru-RU' -> 'ru', 'auto' or None -> None (detect)."""
    if not language or language.lower() == "auto":
        return None
    return language.replace("_", "-").split("-")[0].lower()
