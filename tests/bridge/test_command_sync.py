"""Slash commands and context menus registered with Discord by the bot's real ``tree.sync()``.

The loopback Discord answers a bulk overwrite as Discord does (each command as stored: ids,
version, an empty description for context menus), and both directions are checked against
Discord's OpenAPI spec.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from tests.fakes.discord_server import TOKEN, FakeDiscord, discord_spec
from tests.fakes.openapi import Exchange
from voxdesk.bridge.runner import Bridge
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services

SLASH = {"listen", "stop", "transcript", "optout", "optin", "voice_replies",
         "translate_captions", "join", "leave", "hi", "test"}  # fmt: skip
MENUS = {"Transcribe", "Translate to English"}
COMMANDS_PATH = "/api/v10/applications/{}/commands"


@pytest.fixture
async def synced(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDiscord, Bridge]]:
    """A bot that registered its commands at start-up (discord.sync_commands)."""
    fake = await FakeDiscord().start()
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.discord.sync_commands = True
    services = Services(settings, SecretStore({"DISCORD_TOKEN": TOKEN}))
    bridge = Bridge(services)
    await bridge.start()  # logging in runs setup_hook, which syncs
    await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
    yield fake, bridge
    await bridge.stop()
    await services.close()
    await fake.stop()


async def test_every_command_and_menu_is_registered_as_the_spec_says(
    synced: tuple[FakeDiscord, Bridge],
) -> None:
    fake, bridge = synced
    [put] = [e for e in fake.exchanges if e.method == "PUT"]
    assert put.path == COMMANDS_PATH.format(fake.application_id)
    sent = {(command["name"], command["type"]) for command in put.body}
    assert sent == {(name, 1) for name in SLASH} | {(name, 3) for name in MENUS}
    tree = bridge.bot.tree
    assert sent == {(c.name, kind.value) for kind in discord.AppCommandType
                    for c in tree.get_commands(type=kind)}  # fmt: skip
    assert fake.spec_problems() == []  # every command sent, and every one answered


async def test_a_second_sync_round_trips_through_discord_py(
    synced: tuple[FakeDiscord, Bridge],
) -> None:
    fake, bridge = synced
    first = {(c["name"], c["type"]): c["id"] for c in fake.commands}
    registered = await bridge.bot.tree.sync()  # parsed by discord.py into AppCommand objects
    assert {(c.name, c.type.value): str(c.id) for c in registered} == first  # ids are kept
    menus = [c for c in registered if c.type is discord.AppCommandType.message]
    assert {c.name for c in menus} == MENUS and all(c.description == "" for c in menus)
    listen = next(c for c in registered if c.name == "listen")
    assert listen.application_id == fake.application_id
    assert listen.dm_permission is False  # guild only, as sent
    assert [o.name for o in listen.options] == ["channel"]
    assert fake.spec_problems() == []


def test_the_spec_check_sees_a_menu_answered_without_a_description() -> None:
    """What the fake used to answer: the sent command with ids, and no description."""
    sent = [{"name": "Transcribe", "type": 3}]
    answer = [{"name": "Transcribe", "type": 3, "id": "1", "application_id": "2",
               "version": "3", "default_member_permissions": None}]  # fmt: skip
    path = COMMANDS_PATH.format(2)
    exchange = Exchange("PUT", path, "application/json", sent, 200, answer)
    assert discord_spec().problems(exchange) == [
        f"PUT {path}: response: 'description' is a required property"
    ]


def _described(items: list[dict[str, Any]], where: str = "") -> dict[str, str]:
    """The description of every command or option in ``items``, their sub-options included,
    by their path ("listen", "listen channel")."""
    found: dict[str, str] = {}
    for item in items:
        path = f"{where} {item['name']}".strip()
        found[path] = item.get("description", "")
        found |= _described(item.get("options") or [], path)
    return found


async def test_every_slash_command_and_option_says_what_it_is_for(
    synced: tuple[FakeDiscord, Bridge],
) -> None:
    fake, _ = synced
    [put] = [e for e in fake.exchanges if e.method == "PUT"]
    slash = [command for command in put.body if command["type"] == 1]
    described = _described(slash)
    assert {"listen channel", "transcript file_format", "voice_replies mode"} <= set(described)
    # discord.py sends "…" where the code gives no description; Discord takes 1-100 characters
    vague = {path: text for path, text in described.items()
             if text in ("", "…") or len(text) > 100}  # fmt: skip
    assert vague == {}
    menus = [command for command in put.body if command["type"] == 3]
    assert menus and all(not command.get("description") for command in menus)  # Discord's rule
