"""Scanning a large file on every core: line-aligned stretches, each in a worker process.

Validation is CPU work in Python, so threads would take turns; processes do not. Workers are
spawned, not forked: the app that calls this runs Qt and tokenizer threads, and a fork copies
their locks in whatever state they are. A worker costs 0.3 to 0.4 s to start and to load its
tokenizer, so files below PARALLEL_MIN_BYTES (where two cores measured no faster) are scanned in
this process. Results come back in file order and merge into one tally, so a report is the same
however the file was cut.
"""

from __future__ import annotations

import gc
import logging
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import repeat
from pathlib import Path

from voxdesk.core.training.scan import CHUNK_LINES, MAX_WARNINGS, Tally, chunks, scan_chunk
from voxdesk.core.training.tokens import Encoding
from voxdesk.core.work import Cancelled, check_cancelled

log = logging.getLogger(__name__)

ByteProgress = Callable[[int, int], None]
"""Called from the scanning thread with the bytes read so far and the file's size."""

PARALLEL_MIN_BYTES = 48 << 20
STRETCH_BYTES = 16 << 20  # about 0.3 s of work: fine-grained progress, little overhead


def scan_file(
    path: Path,
    encoding: Encoding,
    progress: ByteProgress | None = None,
    cancelled: threading.Event | None = None,
    max_warnings: int = MAX_WARNINGS,
) -> Tally:
    """Scan a JSONL file, on every core when it is large enough to gain from that.

    Setting ``cancelled`` stops the scan within a chunk or a stretch, raising Cancelled.
    """
    size = path.stat().st_size
    workers = min(os.cpu_count() or 1, math.ceil(size / STRETCH_BYTES))
    here = (path, size, encoding, progress, cancelled, max_warnings)
    if size < PARALLEL_MIN_BYTES or workers < 2:
        return _scan_here(*here)
    bounds = _line_bounds(path, size, workers * math.ceil(size / (workers * STRETCH_BYTES)))
    try:
        return _scan_in_workers(path, bounds, workers, encoding, progress, cancelled, max_warnings)
    except BrokenProcessPool as error:
        # A worker died (killed for memory, or unable to start): do the work here instead.
        log.warning("Validating %s in one process: a worker process failed (%s)", path, error)
        return _scan_here(*here)


def _scan_here(
    path: Path,
    size: int,
    encoding: Encoding,
    progress: ByteProgress | None,
    cancelled: threading.Event | None,
    max_warnings: int,
) -> Tally:
    tally, done = Tally(max_warnings=max_warnings), 0
    with path.open("rb") as handle:
        for chunk in chunks(handle):
            check_cancelled(cancelled)
            scan_chunk(chunk, tally, encoding)
            done += sum(map(len, chunk))
            if progress:
                progress(done, size)
    return tally


def _scan_in_workers(
    path: Path,
    bounds: list[int],
    workers: int,
    encoding: Encoding,
    progress: ByteProgress | None,
    cancelled: threading.Event | None,
    max_warnings: int,
) -> Tally:
    tally = Tally(max_warnings=max_warnings)
    # A worker only ever holds its own short-lived objects, so the cycle collector that would
    # walk all of them again and again can stay off.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=gc.disable) as pool:
        starts, ends = bounds[:-1], bounds[1:]
        parts = pool.map(_scan_stretch, repeat(path), starts, ends, repeat(encoding),
                         repeat(max_warnings))  # fmt: skip
        try:
            for end, part in zip(ends, parts, strict=True):
                check_cancelled(cancelled)
                tally.extend(part)
                if progress:
                    progress(end, bounds[-1])
        except Cancelled:
            pool.shutdown(cancel_futures=True)  # the stretches not yet begun
            raise
    return tally


def _line_bounds(path: Path, size: int, parts: int) -> list[int]:
    """Offsets that cut the file into about ``parts`` stretches, each starting a line."""
    bounds = [0]
    with path.open("rb") as handle:
        for part in range(1, parts):
            handle.seek(max(size * part // parts, bounds[-1]))
            handle.readline()
            if handle.tell() < size and handle.tell() > bounds[-1]:
                bounds.append(handle.tell())
    return [*bounds, size]


def _scan_stretch(path: Path, start: int, end: int, encoding: Encoding, max_warnings: int) -> Tally:
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read(end - start)
    tally = Tally(max_warnings=max_warnings)
    for chunk in _chunks(data):
        scan_chunk(chunk, tally, encoding)
    return tally


def _chunks(data: bytes) -> Iterator[list[bytes]]:
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline that ends the stretch starts no line
    for first in range(0, len(lines), CHUNK_LINES):
        yield lines[first : first + CHUNK_LINES]
