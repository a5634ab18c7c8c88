"""The microphone source, with a stand-in for the sounddevice module (no sound card here).

The stand-in calls back from its own thread, as PortAudio does, so the hand-off of blocks to
the event loop is exercised for real.
"""

from __future__ import annotations

import sys
import types

import pytest

from tests.fakes.sounddevice import FakeStream
from voxdesk.core.audio import MicrophoneSource, MicrophoneUnavailable, list_input_devices, record


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


async def test_playback_plays_and_explains_a_bad_device(fake_sounddevice: types.ModuleType) -> None:
    from voxdesk.core.audio import Pcm
    from voxdesk.core.audio.playback import SpeakersUnavailable, play

    audio = Pcm(bytes(3200))
    await play(audio)
    ((samples, rate),) = fake_sounddevice.played  # type: ignore[attr-defined]
    assert rate == 16_000 and len(samples) == 1600
    with pytest.raises(SpeakersUnavailable, match="speakers cannot be used") as raised:
        await play(audio, device="missing")
    assert "still shown as text" in (raised.value.hint or "")
