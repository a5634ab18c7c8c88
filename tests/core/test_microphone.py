"""The microphone source, with a stand-in for the sounddevice module (no sound card here).

The stand-in calls back from its own thread, as PortAudio does, so the hand-off of blocks to
the event loop is exercised for real.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from core.audio import MicrophoneSource, MicrophoneUnavailable, list_input_devices, record


class PortAudioError(Exception):
    pass


class FakeStream:
    """Delivers ``blocks`` int16 blocks from a thread, like PortAudio's callback thread."""

    instances: ClassVar[list[FakeStream]] = []

    def __init__(self, *, callback: Any, blocksize: int, device: Any, **options: Any) -> None:
        if device == "missing":
            raise PortAudioError("Error querying device -1")
        self.callback, self.blocksize, self.options = callback, blocksize, options
        self.stopped = threading.Event()
        self.closed = False
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        value = 0
        while not self.stopped.is_set() and value < 1000:
            block = np.full(self.blocksize, value, dtype="<i2")
            self.callback(block.tobytes(), self.blocksize, None, None)
            value += 1

    def stop(self) -> None:
        # Like Pa_StopStream, return only once no callback is running or will run.
        self.stopped.set()
        self.thread.join()

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_sounddevice(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("sounddevice")
    module.RawInputStream = FakeStream  # type: ignore[attr-defined]
    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    module.default = types.SimpleNamespace(device=(1, 3))  # type: ignore[attr-defined]
    module.query_devices = lambda: [  # type: ignore[attr-defined]
        {"name": "HDMI out", "max_input_channels": 0, "default_samplerate": 48000.0},
        {"name": "USB mic", "max_input_channels": 1, "default_samplerate": 48000.0},
        {"name": "Webcam", "max_input_channels": 2, "default_samplerate": 16000.0},
    ]
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    FakeStream.instances.clear()
    yield module


async def test_blocks_arrive_in_order_on_the_loop(fake_sounddevice: types.ModuleType) -> None:
    source = MicrophoneSource(block_seconds=0.1)
    blocks = [block async for block in record(source, 1.0)]
    assert len(blocks) == 10
    assert [int(block.samples()[0]) for block in blocks] == list(range(10))
    stream = FakeStream.instances[0]
    assert stream.options == {"samplerate": 16000, "channels": 1, "dtype": "int16"}
    assert stream.stopped.is_set() and stream.closed  # the device is released


async def test_an_unusable_device_is_a_clear_error(fake_sounddevice: types.ModuleType) -> None:
    source = MicrophoneSource("missing")
    with pytest.raises(MicrophoneUnavailable, match="cannot be opened") as raised:
        [block async for block in source.blocks()]
    assert "voxdesk devices" in (raised.value.hint or "")


def test_only_inputs_are_listed(fake_sounddevice: types.ModuleType) -> None:
    devices = list_input_devices()
    assert [(d.index, d.name, d.is_default) for d in devices] == [
        (1, "USB mic", True),
        (2, "Webcam", False),
    ]


def test_missing_portaudio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoPortAudio:
        """Import hook that fails the way sounddevice does without libportaudio2."""

        def find_spec(self, name: str, *args: object) -> None:
            if name == "sounddevice":
                raise OSError("PortAudio library not found")

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    with pytest.raises(MicrophoneUnavailable, match="PortAudio") as raised:
        list_input_devices()
    assert "libportaudio2" in (raised.value.hint or "")
