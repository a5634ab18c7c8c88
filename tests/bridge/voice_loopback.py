"""A bot with discord.py's real voice client on the loopback Discord and its voice server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import numpy as np
import pytest

from tests.conftest import clip
from tests.fakes.discord_server import TOKEN, FakeDiscord, FakeUser
from tests.fakes.discord_voice import FakeVoiceServer, opus_frames
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.bridge.runner import Bridge
from voxdesk.bridge.voice.receiver import ListeningVoiceClient
from voxdesk.core.audio.pcm import Pcm
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import Event, Subscription
from voxdesk.core.services import Services

CLIPS = {  # who says what in these tests: three different corpus recordings
    "alice": "speechrec_english.wav",
    "bob": "pocketsphinx_librivox_0880.wav",
    "carol": "deepspeech_new_home_in_the_stars.wav",
}


@dataclass
class VoiceRunning:
    discord: FakeDiscord
    voice: FakeVoiceServer
    openai: FakeOpenAI
    services: Services
    bridge: Bridge
    events: Subscription[Event]


@asynccontextmanager
async def voice_bot(
    monkeypatch: pytest.MonkeyPatch, *, dave: bool, more_members: int = 0
) -> AsyncIterator[VoiceRunning]:
    fake = await FakeDiscord().start()
    for number in range(more_members):  # in the guild before the bot sees it
        user = FakeUser(fake.new_id(), f"member-{number}")
        fake.users[user.id] = user
    voice = await FakeVoiceServer(fake, dave=dave).start()
    openai = await FakeOpenAI(steps=2).start()
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.discord.trainer_role = "Trainer"
    settings.discord.cooldown_seconds = 0
    settings.openai.base_url = openai.base_url
    settings.tts.engine = "espeak"
    settings.speech.language = "en"  # the corpus clips spoken in these tests are English
    services = Services(settings, SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY}))
    events = services.events.subscribe(Event)
    # discord.py dials voice servers over wss only: the bot trusts the fake's certificate.
    connector = aiohttp.TCPConnector(ssl=voice.client_tls())
    bridge = Bridge(services, voice_client_class=ListeningVoiceClient, connector=connector)
    await bridge.start()
    await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
    try:
        yield VoiceRunning(fake, voice, openai, services, bridge, events)
    finally:
        await bridge.stop()
        await services.close()
        await voice.stop()
        await openai.stop()
        await fake.stop()


async def speech(name: str) -> Pcm:
    return await clip(CLIPS[name]).decode()


async def frames_of(name: str) -> list[bytes]:
    return opus_frames(await speech(name))


def similarity(heard: Pcm, said: Pcm) -> float:
    """Best normalised correlation of what was heard with what was said, over codec delays."""
    a = heard.samples().astype(np.float64)
    b = said.samples().astype(np.float64)
    best = 0.0
    for lag in range(0, 400, 2):
        n = min(len(a) - lag, len(b))
        if n <= 0:
            break
        x, y = a[lag : lag + n], b[:n]
        best = max(best, float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9)))
    return best


async def wait_until(condition: Callable[[], bool]) -> None:
    """The reader thread changes what ``condition`` reads: look again every few ms."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
