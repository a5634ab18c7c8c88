"""Playing audio through the speakers (sounddevice, imported lazily like the microphone)."""

from __future__ import annotations

import asyncio

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
