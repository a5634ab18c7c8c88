"""Loudness of a block of samples, for a level meter."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from voxdesk.core.audio.pcm import Pcm

SILENCE_DBFS = -96.0  # the floor of 16-bit audio


@dataclass(frozen=True)
class Level:
    """RMS and peak of a block, in dBFS (0 is full scale, ``SILENCE_DBFS`` is silence)."""

    rms_dbfs: float
    peak_dbfs: float

    @property
    def fraction(self) -> float:
        """The RMS as 0..1 on a meter that spans 60 dB."""
        return min(1.0, max(0.0, (self.rms_dbfs + 60.0) / 60.0))


def measure(pcm: Pcm) -> Level:
    samples = pcm.samples().astype(np.float64)
    if samples.size == 0:
        return Level(SILENCE_DBFS, SILENCE_DBFS)
    rms = math.sqrt(float(np.mean(samples * samples))) / 32768.0
    peak = float(np.max(np.abs(samples))) / 32768.0
    return Level(_dbfs(rms), _dbfs(peak))


def _dbfs(amplitude: float) -> float:
    if amplitude <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(amplitude))
