"""Writing transcripts as plain text, SubRip, WebVTT or JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, Literal

from voxdesk.core.stt.base import Segment, Timings, Transcript

OutputFormat = Literal["txt", "srt", "vtt", "json"]


def render(transcript: Transcript, output_format: OutputFormat) -> str:
    renderers: dict[str, Callable[[Transcript], str]] = {
        "txt": to_text,
        "srt": to_srt,
        "vtt": to_vtt,
        "json": to_json,
    }
    return renderers[output_format](transcript)


def to_text(transcript: Transcript) -> str:
    return transcript.text + "\n"


def to_srt(transcript: Transcript) -> str:
    cues = [
        f"{number}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{_lines(cue.text)}\n"
        for number, cue in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(cues)


def to_vtt(transcript: Transcript) -> str:
    cues = [
        f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{_vtt_text(cue.text)}\n"
        for cue in _cues(transcript)
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
    data = dataclasses.asdict(transcript)
    data["timings"]["real_time_factor"] = round(transcript.timings.real_time_factor, 4)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _cues(transcript: Transcript) -> tuple[Segment, ...]:
    """Segments, or the whole text as one cue for engines that give none."""
    if transcript.segments or not transcript.text:
        return transcript.segments
    return (Segment(0.0, transcript.timings.audio_seconds, transcript.text),)


def _clock(seconds: float, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def from_dict(data: dict[str, Any]) -> Transcript:
    """A transcript back from ``dataclasses.asdict`` (or ``to_json``) form."""
    timings = {k: v for k, v in data["timings"].items() if k != "real_time_factor"}
    return Transcript(
        text=data["text"],
        language=data.get("language"),
        engine=data["engine"],
        timings=Timings(**timings),
        model=data.get("model"),
        segments=tuple(Segment(**segment) for segment in data.get("segments", [])),
    )
