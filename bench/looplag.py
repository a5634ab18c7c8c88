"""How responsive the event loop is: how late a task that asked to sleep is woken.

On a loop shared by the window and the bot, a stall is a frozen window. The monitor samples
the lag continuously; tests and benchmarks read percentiles from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LagStats:
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float


class LoopLagMonitor:
    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self._lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def stop(self) -> LagStats:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.stats()

    def stats(self) -> LagStats:
        lags = np.array(self._lags or [0.0]) * 1000
        return LagStats(len(self._lags), float(np.percentile(lags, 50)),
                        float(np.percentile(lags, 99)), float(lags.max()))  # fmt: skip

    async def _sample(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self._lags.append(max(0.0, time.perf_counter() - started - self.interval))
