"""A stand-in for the sounddevice module: PortAudio's callback thread, without a sound card."""

from __future__ import annotations

import threading
import types
from typing import Any, ClassVar

import numpy as np


class PortAudioError(Exception):
    pass


class FakeStream:
    """Delivers ``blocks`` int16 blocks from a thread, like PortAudio's callback thread."""

    instances: ClassVar[list[FakeStream]] = []
    speech: ClassVar[bytes] = b""  # s16le to capture at the microphone's pace, then silence
    opened: ClassVar[threading.Event] = threading.Event()  # a stream started capturing

    def __init__(self, *, callback: Any, blocksize: int, device: Any, **options: Any) -> None:
        if device == "missing":
            raise PortAudioError("Error querying device -1")
        self.callback, self.blocksize, self.options = callback, blocksize, options
        self.stopped = threading.Event()
        self.spoken = threading.Event()  # all of ``speech`` was captured
        self.closed = False
        FakeStream.instances.append(self)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        FakeStream.opened.set()

    def _run(self) -> None:
        if FakeStream.speech:
            self._speak(FakeStream.speech)
            return
        value = 0
        while not self.stopped.is_set() and value < 1000:
            block = np.full(self.blocksize, value, dtype="<i2")
            self.callback(block.tobytes(), self.blocksize, None, None)
            value += 1

    def _speak(self, speech: bytes) -> None:
        """``speech`` in blocks as a sound card gives them, each once it has been said."""
        size = self.blocksize * 2
        rate = self.options["samplerate"]
        offset = 0
        while not self.stopped.wait(self.blocksize / rate):
            block = speech[offset : offset + size].ljust(size, b"\0")
            self.callback(block, self.blocksize, None, None)
            offset += size
            if offset >= len(speech):
                self.spoken.set()

    def stop(self) -> None:
        # Like Pa_StopStream, return only once no callback is running or will run.
        self.stopped.set()
        self.thread.join()

    def close(self) -> None:
        self.closed = True


def make_module() -> types.ModuleType:
    module = types.ModuleType("sounddevice")
    module.RawInputStream = FakeStream  # type: ignore[attr-defined]
    module.PortAudioError = PortAudioError  # type: ignore[attr-defined]
    module.default = types.SimpleNamespace(device=(1, 3))  # type: ignore[attr-defined]
    module.query_devices = lambda: [  # type: ignore[attr-defined]
        {"name": "HDMI out", "max_input_channels": 0, "default_samplerate": 48000.0},
        {"name": "USB mic", "max_input_channels": 1, "default_samplerate": 48000.0},
        {"name": "Webcam", "max_input_channels": 2, "default_samplerate": 16000.0},
    ]
    module.played = []  # type: ignore[attr-defined]  # (samples, rate) handed to play()

    def play(samples: Any, samplerate: int, device: Any = None) -> None:
        if device == "missing":
            raise PortAudioError("Invalid output device")
        module.played.append((samples, samplerate))  # type: ignore[attr-defined]

    module.play = play  # type: ignore[attr-defined]
    module.wait = lambda: None  # type: ignore[attr-defined]
    FakeStream.instances.clear()
    FakeStream.speech = b""
    FakeStream.opened = threading.Event()
    return module
