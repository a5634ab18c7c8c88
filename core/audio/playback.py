"""Playing audio through the speakers (sounddevice, imported lazily like the microphone)."""

from __future__ import annotations

import asyncio
from typing import Any

from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.audio.sources import MicrophoneUnavailable, import_sounddevice


class SpeakersUnavailable(MicrophoneUnavailable):
    """Sound cannot be played here (no PortAudio, no output device)."""


async def play(audio: Pcm, device: int | str | None = None) -> None:
    """Play ``audio`` to the end, in a worker thread so the loop stays free."""
    sd = import_sounddevice()

    def blocking() -> None:
        try:
            sd.play(audio.samples(), audio.sample_rate, device=device)
            sd.wait()
        except (sd.PortAudioError, ValueError) as error:
            raise SpeakersUnavailable(
                f"The speakers cannot be used: {error}.",
                hint="Check the output device; the reply is still shown as text.",
            ) from error

    await asyncio.to_thread(blocking)


class PlaybackStream:
    """Plays ``audio`` from any position and says where it is; stops at the end by itself.

    PortAudio pulls blocks on its own thread; the position is a frame counter it advances, so
    a reader (a window's timer) needs no lock to show roughly where playback is.
    """

    def __init__(self, audio: Pcm, device: int | str | None = None) -> None:
        self._samples = audio.samples()
        self._rate = audio.sample_rate
        self._device = device
        self._frame = 0
        self._stream: Any = None

    @property
    def position(self) -> float:
        return self._frame / self._rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    def start(self, at: float) -> None:
        """Play from ``at`` seconds (restarting if already playing)."""
        self.stop()
        sd = import_sounddevice()
        self._frame = min(max(0, round(at * self._rate)), len(self._samples))

        def fill(out: Any, frames: int, _time: Any, _status: Any) -> None:
            chunk = self._samples[self._frame : self._frame + frames]
            out[: len(chunk), 0] = chunk
            out[len(chunk) :, 0] = 0
            self._frame += len(chunk)
            if len(chunk) < frames:
                raise sd.CallbackStop

        try:
            self._stream = sd.OutputStream(
                samplerate=self._rate, channels=1, dtype="int16", device=self._device, callback=fill
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as error:
            self._stream = None
            raise SpeakersUnavailable(
                f"The speakers cannot be used: {error}.",
                hint="Check the output device in your system's sound settings.",
            ) from error

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()  # close() waits for PortAudio's thread to leave the callback
            self._stream = None
