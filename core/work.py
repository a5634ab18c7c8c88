"""Blocking work off the event loop: in a worker thread, cancellable, reporting progress."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

Fraction = Callable[[float], None]
"""Called with the share of the work done, from 0.0 to 1.0."""

T = TypeVar("T")


async def run_blocking(
    work: Callable[[threading.Event, Fraction], T],
    progress: Fraction | None = None,
) -> T:
    """Run blocking code in a worker thread, cancellably.

    ``work`` gets an event that is set when the awaiting task is cancelled (it should check it
    between chunks and stop) and a progress function that is safe to call from the thread; the
    ``progress`` given here is then called on the event loop.
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
        # Nobody awaits the work any more; it ends by itself, usually raising Cancelled, and
        # some loops (qasync's) would report that as an exception never retrieved.
        future.add_done_callback(_ignore_outcome)
        raise


def _ignore_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Cancelled(Exception):
    """Raised inside a worker thread when its task was cancelled."""


def check_cancelled(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise Cancelled
