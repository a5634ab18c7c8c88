"""Writing transcripts as plain text, SubRip, WebVTT or JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from functools import partial
from typing import Literal

from voxdesk.core.stt.base import Segment, Timings, Transcript, join_words
from voxdesk.core.stt.words import aligned_words

OutputFormat = Literal["txt", "srt", "vtt", "json"]


@dataclasses.dataclass(frozen=True)
class CueLimits:
    """How long a subtitle may be: characters per line (at most ``max_lines`` lines) and
    seconds on screen. Long segments are cut between words to fit; a single word longer than
    either limit stays whole."""

    max_line_length: int | None = None
    max_cue_seconds: float | None = None
    max_lines: int = 2

    def __bool__(self) -> bool:
        return self.max_line_length is not None or self.max_cue_seconds is not None


def render(
    transcript: Transcript, output_format: OutputFormat, limits: CueLimits | None = None
) -> str:
    limits = limits or CueLimits()
    renderers: dict[str, Callable[[Transcript], str]] = {
        "txt": to_text,
        "srt": partial(to_srt, limits=limits),
        "vtt": partial(to_vtt, limits=limits),
        "json": to_json,
    }
    return renderers[output_format](transcript)


def spoken_by(captions: Iterable[Segment], engine: str, audio_seconds: float) -> Transcript:
    """Several speakers' captions (each ``Segment`` with its ``speaker``) as one transcript in
    the order they were said, each line led by its speaker's name: text, SubRip and WebVTT have
    no other place for it."""
    segments = tuple(
        dataclasses.replace(caption, text=f"{caption.speaker}: {caption.text}")
        for caption in sorted(captions, key=lambda caption: caption.start)
    )
    text = "\n".join(segment.text for segment in segments)
    return Transcript(text, None, engine, Timings(audio_seconds, 0.0), segments=segments)


def to_text(transcript: Transcript) -> str:
    return transcript.text + "\n"


def to_srt(transcript: Transcript, limits: CueLimits | None = None) -> str:
    cues = [
        f"{number}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{_lines(cue.text)}\n"
        for number, cue in enumerate(_cues(transcript, limits or CueLimits()), start=1)
    ]
    return "\n".join(cues)


def to_vtt(transcript: Transcript, limits: CueLimits | None = None) -> str:
    cues = [
        f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{_vtt_text(cue.text)}\n"
        for cue in _cues(transcript, limits or CueLimits())
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def _lines(text: str) -> str:
    """Cue text without blank lines: in SubRip and WebVTT a blank line ends the cue."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _vtt_text(text: str) -> str:
    # WebVTT reads "<" as the start of a tag and "&" as the start of a character reference.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _lines(escaped)


def to_json(transcript: Transcript) -> str:
    """The transcript with its timings and segments; words (with their probability) and the
    speaker where they are known."""
    data = dataclasses.asdict(transcript)
    data["timings"]["real_time_factor"] = round(transcript.timings.real_time_factor, 4)
    for segment in data["segments"]:
        for key in ("words", "speaker"):
            if not segment[key]:
                del segment[key]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _cues(transcript: Transcript, limits: CueLimits) -> tuple[Segment, ...]:
    """Segments (cut to the limits), or the whole text as one cue for engines that give none."""
    segments = transcript.segments
    if not segments and transcript.text:
        segments = (Segment(0.0, transcript.timings.audio_seconds, transcript.text),)
    if not limits:
        return segments
    return tuple(cue for segment in segments for cue in _fitted(segment, limits))


def _fitted(segment: Segment, limits: CueLimits) -> list[Segment]:
    """The segment as cues within the limits, each cut between two words."""
    cues: list[Segment] = []
    words: list[str] = []
    start = end = segment.start
    for word in aligned_words(segment):
        too_long = len(_wrapped([*words, word.text], limits.max_line_length)) > limits.max_lines
        too_slow = limits.max_cue_seconds is not None and word.end - start > limits.max_cue_seconds
        if words and (too_long or too_slow):
            cues.append(Segment(start, end, "\n".join(_wrapped(words, limits.max_line_length))))
            words = []
        if not words:
            start = word.start
        words.append(word.text)
        end = word.end
    if words:
        cues.append(Segment(start, end, "\n".join(_wrapped(words, limits.max_line_length))))
    return cues


def _wrapped(words: list[str], width: int | None) -> list[str]:
    """Words filled into lines of at most ``width`` characters (a longer word alone)."""
    lines: list[str] = []
    for word in words:
        longer = join_words([lines[-1], word]) if lines else word
        if lines and (width is None or len(longer) <= width):
            lines[-1] = longer
        else:
            lines.append(word)
    return lines


def _clock(seconds: float, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"
