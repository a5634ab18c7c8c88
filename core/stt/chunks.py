"""Cutting long audio into pieces for engines that take a bounded request at a time."""

from __future__ import annotations

from collections.abc import Iterator

from core.audio.pcm import Pcm


def chunks(audio: Pcm, seconds: float) -> Iterator[tuple[float, Pcm]]:
    """Consecutive pieces of at most ``seconds``, each with its start time."""
    start = 0.0
    while start < audio.duration:
        yield start, audio.slice(start, start + seconds)
        start += seconds
