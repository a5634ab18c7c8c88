"""A running bot connected to the loopback Discord (and the loopback OpenAI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import discord
import pytest

from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.bridge.runner import Bridge
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import Event, Subscription
from voxdesk.core.services import Services


class RecordingVoiceClient(discord.VoiceProtocol):
    """Stands in for discord.py's UDP voice client: it joins through the gateway like the real
    one, and plays sources by reading every 20 ms frame, as the real player would."""

    instances: ClassVar[list[RecordingVoiceClient]] = []

    def __init__(self, client: discord.Client, channel: discord.abc.Connectable) -> None:
        super().__init__(client, channel)
        self.played: list[int] = []  # frames read from each source
        self.spoke = asyncio.Event()
        self.connected = False
        self._state = asyncio.Event()  # Discord confirmed our voice state
        RecordingVoiceClient.instances.append(self)

    async def on_voice_state_update(self, data: Any) -> None:
        self._state.set()

    async def on_voice_server_update(self, data: Any) -> None:
        pass  # the real client would open its UDP connection here

    async def connect(self, *, timeout: float, reconnect: bool, self_deaf: bool = False,
                      self_mute: bool = False) -> None:  # fmt: skip
        assert isinstance(self.channel, discord.VoiceChannel)
        await self._change_state(self.channel, timeout, self_deaf=self_deaf)
        self.connected = True

    async def disconnect(self, *, force: bool) -> None:
        assert isinstance(self.channel, discord.VoiceChannel)
        await self._change_state(None, 30)
        self.connected = False
        self.cleanup()

    async def _change_state(self, channel: discord.VoiceChannel | None, timeout: float,
                            **options: Any) -> None:  # fmt: skip
        """Ask the gateway, then wait for Discord's answer, as the real client does."""
        assert isinstance(self.channel, discord.VoiceChannel)
        self._state.clear()
        await self.channel.guild.change_voice_state(channel=channel, **options)
        await asyncio.wait_for(self._state.wait(), timeout)

    def is_connected(self) -> bool:
        return self.connected

    def play(self, source: discord.AudioSource, *, after: Any = None) -> None:
        frames = 0
        while source.read():
            frames += 1
        self.played.append(frames)
        self.spoke.set()
        if after:
            after(None)


E = TypeVar("E", bound=Event)


async def next_event(running: Running, kind: type[E], timeout: float = 30) -> E:
    """The next published event of ``kind`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await running.events.get()
            if isinstance(event, kind):
                return event


@dataclass
class Running:
    discord: FakeDiscord
    openai: FakeOpenAI
    services: Services
    bridge: Bridge
    events: Subscription[Event]


@pytest.fixture
async def running(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    fake = await FakeDiscord().start()
    openai = await FakeOpenAI(steps=2).start()
    # discord.py has no base-URL option: point its two endpoints at the loopback server.
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.discord.reply_channels = [fake.chat]
    settings.discord.trainer_role = "Trainer"
    settings.discord.cooldown_seconds = 0
    settings.discord.language = "auto"
    settings.openai.base_url = openai.base_url
    settings.openai.job_poll_seconds = 0.01
    settings.tts.engine = "espeak"
    services = Services(settings, SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY}))
    events = services.events.subscribe(Event)
    RecordingVoiceClient.instances.clear()
    bridge = Bridge(services, voice_client_class=RecordingVoiceClient)
    await bridge.start()
    await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
    yield Running(fake, openai, services, bridge, events)
    await bridge.stop()
    problems = fake.spec_problems() + openai.spec_problems()
    await services.close()
    await openai.stop()
    await fake.stop()
    assert problems == [], "\n".join(problems)
