"""Transcribing long audio a bounded piece at a time, for engines that take one request each."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.stt.base import ProgressCallback, Segment
from voxdesk.core.work import check_cancelled


def chunks(audio: Pcm, seconds: float) -> Iterator[tuple[float, Pcm]]:
    """Consecutive pieces of at most ``seconds``, each with its start time."""
    start = 0.0
    while start < audio.duration:
        yield start, audio.slice(start, start + seconds)
        start += seconds


def transcribe_in_chunks(
    audio: Pcm,
    seconds: float,
    recognize: Callable[[Pcm], str],
    cancelled: threading.Event,
    report: ProgressCallback,
) -> list[Segment]:
    """``recognize`` each piece in turn (in a worker thread), a segment per piece with words.

    Stops between pieces when cancelled and reports progress after each.
    """
    segments = []
    for start, piece in chunks(audio, seconds):
        check_cancelled(cancelled)
        text = recognize(piece)
        if text:
            segments.append(Segment(start, start + piece.duration, text))
        report((start + piece.duration) / audio.duration)
    return segments
