"""The one interface every speech-to-text engine implements, and what it returns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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
    """A word with its times (seconds from the start of the audio) and the engine's confidence.

    ``text`` has no surrounding spaces: ``join_words`` puts them back where the script has them.
    """

    start: float
    end: float
    text: str
    probability: float = 1.0


_CLOSING = ".,!?:;)]}”…。，！？：、"  # punctuation that joins the text before it, never spaced
# Scripts written without spaces between words: Thai, Lao, Tibetan, Myanmar, Khmer, CJK
# punctuation, kana, Bopomofo, Han, full-width forms. Korean (Hangul) is written with spaces.
_UNSPACED = re.compile(
    "[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff\u3000-\u312f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)


def word_gap(before: str, after: str) -> str:
    """What goes between two pieces of text: a space, unless either side is in a script written
    without spaces (Chinese, Japanese, Thai...), one of them is empty, or the second starts with
    closing punctuation (a comma heard on its own, after words already final)."""
    before, after = before.rstrip(), after.lstrip()
    if not before or not after or _UNSPACED.match(before[-1]) or _UNSPACED.match(after[0]):
        return ""
    return "" if after[0] in _CLOSING else " "


def join_words(words: Iterable[Word | str]) -> str:
    """Words (or pieces of text already joined) as one text, spaced as their script is."""
    text = ""
    for word in words:
        piece = (word.text if isinstance(word, Word) else word).strip()
        text += word_gap(text, piece) + piece
    return text


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
