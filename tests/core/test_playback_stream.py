"""Playing from any point: the samples handed to the sound card and the position it reports."""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np
import pytest

from voxdesk.core.audio import Pcm
from voxdesk.core.audio.playback import PlaybackStream, SpeakersUnavailable


class CallbackStop(Exception):
    pass


class PortAudioError(Exception):
    pass


class FakeOutputStream:
    """Pulls blocks of 1,000 frames through the callback when told to, as PortAudio would."""

    played: list[int]

    def __init__(self, *, callback: Any, device: Any, **options: Any) -> None:
        if device == "missing":
            raise PortAudioError("Invalid output device")
        self.callback, self.active, self.played = callback, False, []

    def start(self) -> None:
        self.active = True

    def pull(self, blocks: int) -> None:
        for _ in range(blocks):
            out = np.full((1000, 1), -1, dtype=np.int16)
            try:
                self.callback(out, 1000, None, None)
            except CallbackStop:
                self.active = False
            self.played += out[:, 0].tolist()
            if not self.active:
                return

    def close(self) -> None:
        self.active = False


@pytest.fixture
def streams(monkeypatch: pytest.MonkeyPatch) -> list[FakeOutputStream]:
    made: list[FakeOutputStream] = []

    def output_stream(**options: Any) -> FakeOutputStream:
        made.append(FakeOutputStream(**options))
        return made[-1]

    module = types.ModuleType("sounddevice")
    module.OutputStream = output_stream  # type: ignore[attr-defined]
    module.CallbackStop = CallbackStop  # type: ignore[attr-defined]
    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    return made


def counting(seconds: float) -> Pcm:
    """Audio whose every sample is its own index (mod 2**15), so that a sample says where it is."""
    samples = (np.arange(int(seconds * 16000)) % 32768).astype("<i2")
    return Pcm(samples.tobytes())


def test_plays_from_the_point_asked_and_says_where_it_is(streams: list[FakeOutputStream]) -> None:
    stream = PlaybackStream(counting(1.0))
    stream.start(0.5)
    streams[-1].pull(2)
    assert streams[-1].played[:3] == [8000, 8001, 8002]
    assert stream.position == pytest.approx(0.625) and stream.playing
    stream.start(0.25)  # a seek: a new stream from there
    assert not streams[0].active and stream.position == 0.25


def test_stops_by_itself_at_the_end_with_silence_after(streams: list[FakeOutputStream]) -> None:
    stream = PlaybackStream(counting(1.0))
    stream.start(0.95)  # 800 frames left
    streams[-1].pull(5)
    assert streams[-1].played[799:801] == [15999, 0]
    assert len(streams[-1].played) == 1000 and not stream.playing
    assert stream.position == 1.0


def test_a_missing_device_is_one_line(streams: list[FakeOutputStream]) -> None:
    with pytest.raises(SpeakersUnavailable, match="speakers cannot be used: Invalid output"):
        PlaybackStream(counting(1.0), device="missing").start(0.0)
