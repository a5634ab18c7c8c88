"""Work off the event loop: blocking code in a worker thread, cancellable, reporting progress;
or coroutines on an event loop of their own in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
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


async def on_own_loop(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """What ``work()`` returns, run on a new event loop in a thread of its own. Cancelling the
    caller cancels the work and waits for it to wind down (its ``finally`` blocks run); either
    way the thread has ended when this returns."""
    caller = asyncio.get_running_loop()
    outcome: asyncio.Future[T] = caller.create_future()
    loop = asyncio.new_event_loop()
    task = loop.create_task(work())  # safe from this thread: the loop does not run yet
    thread = threading.Thread(
        target=_run_to_end, name="voxdesk-evaluation", daemon=True,
        args=(loop, task, lambda: caller.call_soon_threadsafe(_settle, outcome, task)),
    )  # fmt: skip
    thread.start()
    try:
        return await asyncio.shield(outcome)
    except asyncio.CancelledError:
        with contextlib.suppress(RuntimeError):  # its loop closed: the work ended meanwhile
            loop.call_soon_threadsafe(task.cancel)
        await asyncio.wait([outcome])
        raise
    finally:
        thread.join()  # settled: the thread's last step, its loop already closed


def _run_to_end(
    loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any], settle: Callable[[], None]
) -> None:
    try:
        loop.run_until_complete(asyncio.wait([task]))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        settle()


def _settle(outcome: asyncio.Future[T], task: asyncio.Task[T]) -> None:
    if task.cancelled():
        outcome.cancel()
    elif (error := task.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(task.result())
