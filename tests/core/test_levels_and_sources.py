"""Level meter values and live audio sources."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voxdesk.core.audio import FileSource, Pcm, measure, record
from voxdesk.core.audio.levels import SILENCE_DBFS


def sine(amplitude: float, seconds: float = 1.0) -> Pcm:
    t = np.arange(int(16_000 * seconds)) / 16_000
    return Pcm((np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype("<i2").tobytes())


def test_full_scale_sine() -> None:
    level = measure(sine(1.0))
    assert level.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert level.rms_dbfs == pytest.approx(-3.01, abs=0.05)
    assert level.fraction == pytest.approx((60 - 3.01) / 60, abs=0.01)


def test_quieter_sine_is_20_db_down() -> None:
    assert measure(sine(0.1)).rms_dbfs == pytest.approx(-23.01, abs=0.05)


def test_silence_is_the_floor() -> None:
    for pcm in (Pcm(b""), Pcm(bytes(3200))):
        level = measure(pcm)
        assert level.rms_dbfs == level.peak_dbfs == SILENCE_DBFS
        assert level.fraction == 0.0


async def test_file_source_gives_blocks_that_add_up() -> None:
    audio = sine(0.5, seconds=1.05)
    blocks = [block async for block in FileSource(audio).blocks()]
    assert len(blocks) == 11
    assert Pcm.concatenate(blocks) == audio


async def test_record_stops_the_source_after_the_time_asked() -> None:
    source = FileSource(sine(0.5, seconds=10))
    blocks = [block async for block in record(source, 2.0)]
    assert sum(block.duration for block in blocks) == pytest.approx(2.0, abs=0.01)


async def test_a_real_time_file_source_keeps_to_the_clock() -> None:
    """A reader that falls behind gets the blocks due meanwhile at once, as from a microphone:
    waiting a block's length after each one let the source drift later and later."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    blocks = 0
    async for _ in FileSource(sine(0.5, seconds=1.05), realtime=True).blocks():
        blocks += 1
        if blocks == 1:
            await asyncio.sleep(0.5)  # a slow reader, once
    assert blocks == 11
    assert loop.time() - began < 1.35  # drifting, it takes 0.5 + 10 x 0.1 = 1.5 s at least


async def test_a_stopped_file_source_ends() -> None:
    source = FileSource(sine(0.5, seconds=10), realtime=True)
    source.stop()
    assert [block async for block in source.blocks()] == []
