"""Where live audio comes from: a microphone, or a file that stands in for one in tests.

sounddevice is imported lazily: without PortAudio it raises at import, and the app must still
start and say what to install.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from voxdesk.core.audio.errors import AudioError
from voxdesk.core.audio.pcm import SAMPLE_RATE, Pcm

BLOCK_SECONDS = 0.1


class MicrophoneUnavailable(AudioError):
    """The microphone cannot be opened (no PortAudio, no device, no permission)."""


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_sample_rate: float
    is_default: bool


class AudioSource(Protocol):
    """Blocks of mono s16le PCM as they are captured, until ``stop()`` or the source ends."""

    sample_rate: int

    def blocks(self) -> AsyncGenerator[Pcm, None]: ...

    def stop(self) -> None: ...


class FileSource:
    """Plays already-decoded audio as a source, optionally at real-time pace."""

    def __init__(self, pcm: Pcm, *, realtime: bool = False, block_seconds: float = BLOCK_SECONDS):
        self.sample_rate = pcm.sample_rate
        self._pcm = pcm
        self._realtime = realtime
        self._block_seconds = block_seconds
        self._stopped = asyncio.Event()

    async def blocks(self) -> AsyncGenerator[Pcm, None]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        start = 0.0
        while start < self._pcm.duration and not self._stopped.is_set():
            yield self._pcm.slice(start, start + self._block_seconds)
            start += self._block_seconds
            if self._realtime:  # on the clock, as a microphone: a slow reader does not slow it
                with contextlib.suppress(TimeoutError):
                    wait = max(0.0, began + start - loop.time())
                    await asyncio.wait_for(self._stopped.wait(), wait)
            else:
                await asyncio.sleep(0)  # let other tasks run between blocks

    def stop(self) -> None:
        self._stopped.set()


class MicrophoneSource:
    """Captures a microphone with sounddevice; blocks arrive through an asyncio queue."""

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sample_rate: int = SAMPLE_RATE,
        block_seconds: float = BLOCK_SECONDS,
    ) -> None:
        self.sample_rate = sample_rate
        self._device = device
        self._block_frames = int(sample_rate * block_seconds)
        self._queue: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._stream: Any = None

    async def blocks(self) -> AsyncGenerator[Pcm, None]:
        self._open(asyncio.get_running_loop())
        try:
            while (block := await self._queue.get()) is not None:
                yield block
        finally:
            self._close()

    def stop(self) -> None:
        self._queue.put_nowait(None)

    def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        sd = import_sounddevice()

        def on_block(data: Any, frames: int, time: Any, status: Any) -> None:
            # PortAudio's thread: hand the bytes to the loop, touch nothing else.
            loop.call_soon_threadsafe(self._queue.put_nowait, Pcm(bytes(data), self.sample_rate))

        try:
            self._stream = sd.RawInputStream(
                samplerate=self.sample_rate,
                blocksize=self._block_frames,
                device=self._device,
                channels=1,
                dtype="int16",
                callback=on_block,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as error:
            raise MicrophoneUnavailable(
                f"The microphone cannot be opened: {error}.",
                hint="Check that a microphone is connected and allowed; `voxdesk devices` lists "
                "inputs.",
            ) from error

    def _close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None


def import_sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as error:
        raise MicrophoneUnavailable(
            "Microphone support needs the sounddevice package.", hint="pip install sounddevice"
        ) from error
    except OSError as error:  # raised when the PortAudio library is missing
        raise MicrophoneUnavailable(
            "Microphone support needs the PortAudio library, which is not installed.",
            hint="Install it: apt-get install libportaudio2 (Debian/Ubuntu) or brew install "
            "portaudio (macOS).",
        ) from error
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    sd = import_sounddevice()
    try:
        devices = sd.query_devices()
        default_input = sd.default.device[0]
    except sd.PortAudioError as error:
        raise MicrophoneUnavailable(f"Audio devices cannot be listed: {error}.") from error
    return [
        InputDevice(
            index=index,
            name=str(device["name"]),
            channels=int(device["max_input_channels"]),
            default_sample_rate=float(device["default_samplerate"]),
            is_default=index == default_input,
        )
        for index, device in enumerate(devices)
        if device["max_input_channels"] > 0
    ]


async def record(source: AudioSource, seconds: float) -> AsyncIterator[Pcm]:
    """Blocks from ``source`` until ``seconds`` of audio were captured, then stop it."""
    wanted = round(seconds * source.sample_rate)  # counted in samples: float sums drift
    captured = 0
    # aclosing: leaving the loop early must release the device now, not at garbage collection.
    async with contextlib.aclosing(source.blocks()) as blocks:
        async for block in blocks:
            yield block
            captured += block.frame_count
            if captured >= wanted:
                source.stop()
                break
