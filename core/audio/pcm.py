"""The one in-memory audio type of core: 16-bit signed little-endian mono PCM."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2


@dataclass(frozen=True)
class Pcm:
    """Mono s16le samples at ``sample_rate`` (16 kHz unless a device says otherwise)."""

    data: bytes
    sample_rate: int = SAMPLE_RATE

    @property
    def frame_count(self) -> int:
        return len(self.data) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frame_count / self.sample_rate

    def samples(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(self.data, dtype="<i2", count=self.frame_count)

    def as_float32(self) -> npt.NDArray[np.float32]:
        """Samples scaled to [-1, 1), the form speech models take."""
        return self.samples().astype(np.float32) / 32768.0

    def slice(self, start: float, end: float | None = None) -> Pcm:
        """The part from ``start`` to ``end`` seconds."""
        first = max(0, int(start * self.sample_rate)) * SAMPLE_WIDTH
        last = len(self.data) if end is None else int(end * self.sample_rate) * SAMPLE_WIDTH
        return Pcm(self.data[first:last], self.sample_rate)

    def to_wav(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(self.sample_rate)
            out.writeframes(self.data)
        return buffer.getvalue()

    @classmethod
    def concatenate(cls, parts: list[Pcm], sample_rate: int = SAMPLE_RATE) -> Pcm:
        return cls(b"".join(part.data for part in parts), sample_rate)
