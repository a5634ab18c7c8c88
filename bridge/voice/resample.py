"""Discord's 48 kHz stereo to the 16 kHz mono that speech engines take."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FACTOR = 3  # 48 kHz / 16 kHz
TAPS = 48


def _low_pass() -> npt.NDArray[np.float32]:
    """A windowed-sinc filter that stops at 7.2 kHz, under the new 8 kHz Nyquist limit."""
    cutoff = 7200 / 48000
    n = np.arange(TAPS) - (TAPS - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(TAPS)
    normalised: npt.NDArray[np.float32] = (kernel / kernel.sum()).astype(np.float32)
    return normalised


KERNEL = _low_pass()


class Downsampler:
    """Stateful across chunks, so that one speaker's frames join without clicks."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1, dtype=np.float32)
        self._phase = 0

    def feed(self, stereo48k: bytes) -> bytes:
        """s16le stereo at 48 kHz in, s16le mono at 16 kHz out."""
        frames = np.frombuffer(stereo48k, dtype="<i2").reshape(-1, 2)
        mono = frames.mean(axis=1, dtype=np.float32)
        padded = np.concatenate([self._history, mono])
        filtered = np.convolve(padded, KERNEL, mode="valid")
        self._history = padded[len(padded) - (TAPS - 1) :]
        kept = filtered[self._phase :: FACTOR]
        self._phase = (self._phase - len(mono)) % FACTOR
        return np.clip(np.rint(kept), -32768, 32767).astype("<i2").tobytes()
