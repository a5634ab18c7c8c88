"""Listening under strain: a ten-minute monologue stays bounded; the bot moved mid-sentence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from tests.bridge.test_listen import speak, start_listening
from tests.bridge.voice_loopback import VoiceRunning, frames_of, voice_bot, wait_until
from voxdesk.bridge.voice import session as listening
from voxdesk.core.audio.pcm import SAMPLE_RATE
from voxdesk.core.events import ListeningChanged
from voxdesk.core.stt.base import Word
from voxdesk.core.stt.streaming import LiveTranscriber, LiveUpdate, StreamOptions

FRAME = SAMPLE_RATE // 50


class Syllables:
    """Stands in for Whisper, which cannot hear ten minutes in the minute a test may take: a
    word "la" for every stretch of sound, answered at once; as Whisper, it goes on after the
    words it is given as said. The streaming engine (voice activity, agreement, cuts) and
    everything around it are the real ones."""

    name = "syllables"
    model_name = "syllables"

    def recognize_words(
        self,
        samples: npt.NDArray[np.float32],
        language: str | None,
        prompt: str = "",
        *,
        prefix: str = "",
    ) -> tuple[list[Word], str | None]:
        frames = samples[: len(samples) // FRAME * FRAME].reshape(-1, FRAME)
        loud = np.concatenate([[0], np.sqrt(np.mean(frames**2, axis=1)) > 0.01, [0]])
        edges = np.flatnonzero(np.diff(loud.astype(np.int8)))  # where sound starts and stops
        words = [Word(a * 0.02, b * 0.02, "la") for a, b in edges.reshape(-1, 2)]
        return words[len(prefix.split()) :], "en"


class Watched(LiveTranscriber):
    """A live stream that says when it has ended (its speaker fell quiet)."""

    finished = False

    async def finish(self) -> LiveUpdate:
        update = await super().finish()
        self.finished = True
        return update


@pytest.fixture
async def running(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[VoiceRunning]:
    async with voice_bot(monkeypatch, dave=False) as running:
        yield running


@pytest.mark.slow  # ten minutes of speech over the loopback voice server, faster than real time
async def test_a_ten_minute_monologue_stays_bounded(running: VoiceRunning) -> None:
    fake = running.discord
    cog = running.bridge.bot.get_cog("Listen")
    streams: list[Watched] = []

    def new_transcriber(guild_id: int) -> LiveTranscriber:
        streams.append(Watched(Syllables(), language="en"))
        return streams[-1]

    cog._new_transcriber = new_transcriber  # type: ignore[union-attr]
    session = await start_listening(running)
    clip = await frames_of("alice")  # 2.7 s, no pause long enough to end the utterance
    monologue = clip * (600 * 50 // len(clip))
    peaks = {"queued": 0, "buffered": 0.0, "caption": 0}

    async def watch() -> None:
        while True:
            for each in session.feeds.values():
                peaks["queued"] = max(peaks["queued"], len(each.audio))
                if each.caption is not None:
                    peaks["caption"] = max(peaks["caption"], len(each.caption.final))
            for stream in streams:
                seconds = len(stream._stream.buffer) / SAMPLE_RATE
                peaks["buffered"] = max(peaks["buffered"], seconds)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    await running.voice.speak(fake.trainer, monologue, pace=0.001, burst=4)
    feed = session.feeds[fake.trainer.id]
    spoken = len(monologue) * 0.02
    # The last words, once the engine has caught up: seconds alone, minutes on a busy machine.
    async with asyncio.timeout(240):
        while sum(s.heard for s in streams) < spoken or not streams[-1].finished:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    watcher.cancel()

    assert feed.dropped == 0  # the engine kept up: no audio lost
    assert peaks["queued"] <= feed.audio.maxlen  # type: ignore[operator]
    assert peaks["buffered"] <= StreamOptions().max_buffer + listening.QUEUED_SECONDS
    assert peaks["caption"] <= listening.CAPTION_CHARACTERS + len(" la")
    captions = {m["id"]: m["content"] for m in fake.bot_messages if m["content"].startswith("**")}
    assert len(captions) >= 3  # many messages (its pauses end utterances), none too long
    assert all(len(content) < 2000 and not content.endswith("…") for content in captions.values())
    stats = session.receiver.stats  # type: ignore[union-attr]
    # Fed at 30 times real time, the kernel may drop a few datagrams; the receiver drops none.
    assert stats.frames >= 0.99 * len(monologue) and stats.overflow == 0
    assert sum(len(line.text.split()) for line in session.lines) > 100  # all of it captioned


@pytest.mark.slow  # Whisper hears the start of carol's sentence
async def test_moved_mid_utterance_listening_ends_and_the_bot_is_deafened(
    running: VoiceRunning,
) -> None:
    fake = running.discord
    session = await start_listening(running)
    lounge = await fake.create_voice_channel("Lounge")
    changes = running.services.events.subscribe(ListeningChanged)
    speaking = asyncio.create_task(speak(running, ["carol"]))
    assert session.receiver is not None
    await wait_until(lambda: session.receiver.stats.frames > 25)  # carol is mid-sentence

    await fake.join_voice(fake.bot, lounge)  # a moderator drags the bot to another channel
    ended = await fake.wait_for(lambda m: m["content"].startswith("Stopped listening: I was"))
    assert ended["content"] == (
        "Stopped listening: I was moved to **Lounge**; `!listen` there to caption it."
    )
    await speaking
    assert session.voice.receiver is None and not session.feeds
    assert not (await changes.get()).listening
    await wait_until(lambda: fake.bot_deafened)  # the new channel's audio is not even sent
    assert fake.voice_states[fake.bot.id] == lounge
