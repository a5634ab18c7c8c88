"""Slash commands and menus in direct messages: they work there while DMs are on, server-only
ones say so in one line, and while DMs are off every one gets a short private refusal (a slash
command cannot go unanswered: Discord would show "The application did not respond")."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest

from tests.bridge.conftest import Running
from tests.bridge.test_costs import handled_so_far
from tests.bridge.test_dms import SERVER_ONLY
from tests.bridge.test_transcription import voice_message
from tests.bridge.test_voice_replies import CLIP
from tests.fakes.discord_server import EPHEMERAL
from voxdesk.bridge.bot import DMS_OFF
from voxdesk.core.events import CommandRun

SERVER_ONLY_COMMANDS = ("join", "leave", "listen", "stop", "transcript", "voice_replies",
                        "translate_captions")  # fmt: skip


def checks_of(running: Running, monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[Any]:
    """What each of the bot's interaction checks ends with from now on: its answer, or the
    exception that escaped it (asyncio would log it as "Task exception was never retrieved")."""
    tree, ended = running.bridge.bot.tree, asyncio.Queue[Any]()
    check = tree.interaction_check

    async def recorded(interaction: discord.Interaction[Any]) -> bool:
        try:
            allowed = await check(interaction)
        except Exception as error:
            ended.put_nowait(error)
            raise
        ended.put_nowait(allowed)
        return allowed

    monkeypatch.setattr(tree, "interaction_check", recorded)
    return ended


def refused_privately(answer: dict[str, Any]) -> bool:
    """An immediate answer only the user sees, saying DMs are off."""
    data = answer["data"]
    return answer["type"] == 4 and data["content"] == DMS_OFF and data["flags"] & EPHEMERAL > 0


async def test_a_slash_command_in_a_dm_is_answered_there(running: Running) -> None:
    fake = running.discord
    dm = fake.dm_channel(fake.member)
    answer = await fake.answer_to(await fake.use_slash_command(fake.member, "hi", channel=dm))
    assert answer["type"] == 4 and answer["data"]["content"].startswith("Привет, bob!")
    token = await fake.use_slash_command(fake.member, "optout", channel=dm)
    assert (await fake.answer_to(token))["data"]["flags"] & EPHEMERAL
    assert running.services.settings.discord.listen_opt_outs == [fake.member.id]


async def test_server_only_slash_commands_in_a_dm_say_so(running: Running) -> None:
    fake = running.discord
    dm = fake.dm_channel(fake.trainer)
    runs = running.services.events.subscribe(CommandRun)
    for name in SERVER_ONLY_COMMANDS:
        answer = await fake.answer_to(await fake.use_slash_command(fake.trainer, name, channel=dm))
        assert (answer["type"], answer["data"]["content"]) == (4, SERVER_ONLY), name
    seen = [(run.command, run.ok) for run in iter(runs.get_nowait, None)]
    assert seen == [(name, False) for name in SERVER_ONLY_COMMANDS]
    assert all(answer["data"].get("flags", 0) & EPHEMERAL for answer in fake.interaction_responses)
    assert fake.voice_states.get(running.bridge.bot.user.id) is None  # joined nothing


@pytest.mark.parametrize("name", ["hi", "optout", "join"])
async def test_with_dms_off_a_slash_command_in_a_dm_is_refused_privately(
    running: Running, name: str
) -> None:
    fake = running.discord
    running.services.settings.discord.reply_in_dms = False
    runs = running.services.events.subscribe(CommandRun)
    dm = fake.dm_channel(fake.member)
    answer = await fake.answer_to(await fake.use_slash_command(fake.member, name, channel=dm))
    assert refused_privately(answer)
    await handled_so_far(fake)
    assert len(fake.interaction_responses) == 1  # nothing else was said, in the DM or elsewhere
    assert [m["content"] for m in fake.bot_messages if m["channel_id"] == str(dm)] == [DMS_OFF]
    assert running.services.settings.discord.listen_opt_outs == []  # nor done
    run = runs.get_nowait()  # the window's activity log shows the refusal
    assert (run.command, run.author_name, run.ok, run.detail) == (name, "bob", False, DMS_OFF)
    assert run.place.guild_id is None and run.place.channel_id == dm


async def test_with_dms_off_autocomplete_in_a_dm_gets_no_message(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = running.discord
    running.services.settings.discord.reply_in_dms = False
    checks = checks_of(running, monkeypatch)
    await fake.type_option(fake.member, "hi", "name", "b", channel=fake.dm_channel(fake.member))
    assert await asyncio.wait_for(checks.get(), 30) is False
    assert fake.interaction_responses == []  # Discord refuses a message as an autocomplete's answer


async def test_with_dms_off_a_refusal_too_late_is_logged_not_raised(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = running.discord
    running.services.settings.discord.reply_in_dms = False
    runs = running.services.events.subscribe(CommandRun)
    checks = checks_of(running, monkeypatch)
    await fake.use_slash_command(fake.member, "hi", channel=fake.dm_channel(fake.member), late=True)
    assert await asyncio.wait_for(checks.get(), 30) is False  # the 404 (10062) did not escape
    warned = [r.getMessage() for r in caplog.records if r.name == "voxdesk.bridge.bot"]
    assert len(warned) == 1 and "Unknown interaction" in warned[0]
    assert runs.get_nowait().detail == DMS_OFF


async def test_with_dms_off_a_menu_on_a_dm_message_is_refused_privately(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.reply_in_dms = False
    audio = fake.attachment(voice_message(CLIP), "voice-message.ogg", "audio/ogg", voice=True,
                            duration=3.6)  # fmt: skip
    dm = fake.dm_channel(fake.member)
    posted = await fake.post(fake.member, attachments=[audio], voice=True, channel=dm)
    answer = await fake.answer_to(await fake.use_context_menu(fake.member, "Transcribe", posted))
    assert refused_privately(answer)


async def test_with_dms_off_slash_commands_in_a_server_still_work(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.reply_in_dms = False
    answer = await fake.answer_to(await fake.use_slash_command(fake.member, "hi"))
    assert answer["data"]["content"].startswith("Привет, bob!")
