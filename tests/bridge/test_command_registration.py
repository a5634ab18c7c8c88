"""A new bot's slash commands and menus are registered with Discord at its first start, and
again only when they change: never registering left every one unseen."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import discord
import pytest

from tests.fakes.discord_server import TOKEN, FakeDiscord
from voxdesk.bridge.registration import registration_record
from voxdesk.bridge.runner import Bridge
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import BridgeError
from voxdesk.core.services import Services


async def registrations(fake: FakeDiscord, settings: Settings) -> int:
    """Start a bot on ``fake`` and stop it; how many times it registered its commands."""
    before = len([e for e in fake.exchanges if e.method == "PUT"])
    services = Services(settings, SecretStore({"DISCORD_TOKEN": TOKEN}))
    bridge = Bridge(services)
    await bridge.start()  # logging in runs setup_hook, which registers
    await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
    await bridge.stop()
    await services.close()
    return len([e for e in fake.exchanges if e.method == "PUT"]) - before


async def test_commands_are_registered_once_and_again_when_they_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = await FakeDiscord().start()
    fake.point_client_here(monkeypatch)
    try:
        assert await registrations(fake, Settings()) == 1  # by default, at the first start
        assert {c["name"] for c in fake.commands} >= {"listen", "optout", "Transcribe"}
        assert await registrations(fake, Settings()) == 0  # the same commands: not again
        registration_record().write_text("the hash of an older version's commands\n")
        assert await registrations(fake, Settings()) == 1
        assert fake.spec_problems() == []
    finally:
        await fake.stop()


async def test_a_bot_told_not_to_register_never_does(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = await FakeDiscord().start()
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.discord.sync_commands = False
    try:
        assert await registrations(fake, settings) == 0
        assert fake.commands == []
    finally:
        await fake.stop()


async def test_turning_registration_off_and_on_registers_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The way to register commands Discord lost (removed in the Developer Portal, say)."""
    fake = await FakeDiscord().start()
    fake.point_client_here(monkeypatch)
    off = Settings()
    off.discord.sync_commands = False
    try:
        assert await registrations(fake, Settings()) == 1
        assert await registrations(fake, off) == 0
        assert await registrations(fake, Settings()) == 1
    finally:
        await fake.stop()


async def test_a_registration_discord_refuses_leaves_the_bot_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It ran inside login: the refusal stopped the bot, called 'Discord cannot be reached'."""
    fake = await FakeDiscord().start()
    fake.point_client_here(monkeypatch)
    refusal = SimpleNamespace(status=400, reason="Bad Request")

    async def refuse(tree: object, **_: object) -> None:
        raise discord.HTTPException(refusal, {"code": 50035, "message": "Invalid Form Body"})  # type: ignore[arg-type]

    monkeypatch.setattr(discord.app_commands.CommandTree, "sync", refuse)
    services = Services(Settings(), SecretStore({"DISCORD_TOKEN": TOKEN}))
    errors = services.events.subscribe(BridgeError)
    bridge = Bridge(services)
    try:
        await bridge.start()
        await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
        error = errors.get_nowait()
        assert error is not None and "Invalid Form Body" in error.message
        assert not registration_record().exists()  # so the next start tries again
    finally:
        await bridge.stop()
        await services.close()
        await fake.stop()
