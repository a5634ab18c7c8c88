"""Joining and leaving voice, and replies spoken there (TTS -> audio source -> frames)."""

from __future__ import annotations

import asyncio

import pytest

from tests.bridge.conftest import RecordingVoiceClient, Running, next_event
from voxdesk.bridge import joining
from voxdesk.core.events import ReplySent


async def test_join_needs_the_author_in_a_voice_channel(running: Running) -> None:
    fake = running.discord
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: m["content"].startswith("Join a voice channel first"))
    await fake.post(fake.member, "!leave")
    await fake.wait_for(lambda m: m["content"] == "I'm not in a voice channel.")


async def test_join_speak_and_leave(running: Running) -> None:
    fake, bot = running.discord, running.bridge.bot
    await fake.join_voice(fake.member, fake.voice)
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: m["content"].startswith("Joined Voice"))
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and guild.voice_client is not None
    assert fake.voice_states[fake.bot.id] == fake.voice  # joined through the gateway
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: m["content"] == "I'm already in Voice.")

    await fake.post(fake.member, "Скажи что-нибудь", channel=fake.chat)
    spoken = await next_event(running, ReplySent)
    while not spoken.spoken:  # a reply to the "!join" commands is not spoken; this one is
        spoken = await next_event(running, ReplySent)
    voice = RecordingVoiceClient.instances[-1]
    await voice_played(voice)
    assert voice.played and voice.played[0] > 25  # over half a second of 20 ms frames

    await fake.post(fake.member, "!leave")
    await fake.wait_for(lambda m: m["content"] == "Left the voice channel.")
    assert guild.voice_client is None and fake.voice_states[fake.bot.id] is None


async def test_replies_are_not_spoken_to_someone_elsewhere(running: Running) -> None:
    fake = running.discord
    await fake.join_voice(fake.trainer, fake.voice)
    await fake.post(fake.trainer, "!join")
    await fake.wait_for(lambda m: m["content"].startswith("Joined Voice"))
    await fake.post(fake.member, "not in voice", channel=fake.chat)  # bob is not listening
    reply = await next_event(running, ReplySent)
    while reply.text != running.openai.reply:
        reply = await next_event(running, ReplySent)
    assert not reply.spoken


async def voice_played(voice: RecordingVoiceClient) -> None:
    """Wait for the speech queue to hand its first source to the voice client."""
    await asyncio.wait_for(voice.spoke.wait(), 60)


async def test_a_voice_channel_the_bot_may_not_join_is_named_with_what_to_check(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Connect, discord.py's TimeoutError came out as 'Something went wrong'."""
    fake = running.discord
    monkeypatch.setattr(joining, "JOIN_SECONDS", 0.5)
    fake.locked_voice.add(fake.voice)
    await fake.join_voice(fake.member, fake.voice)
    await fake.post(fake.member, "!join")
    refused = await fake.wait_for(lambda m: m["content"].startswith("Discord did not let me"))
    assert "into Voice" in refused["content"] and "Connect" in refused["content"]
    guild = running.bridge.bot.get_guild(fake.guild_id)
    assert guild is not None and guild.voice_client is None


@pytest.mark.parametrize(("user", "command"), [("member", "join"), ("trainer", "listen")])
async def test_slash_join_and_listen_answer_at_once_then_say_how_it_went(
    running: Running, monkeypatch: pytest.MonkeyPatch, user: str, command: str
) -> None:
    """Discord takes a first answer within 3 s; /join into a channel it keeps the bot out of
    answered after 30 s, so the member saw 'The application did not respond'. Deferred first."""
    fake = running.discord
    monkeypatch.setattr(joining, "JOIN_SECONDS", 0.5)
    fake.locked_voice.add(fake.voice)
    await fake.join_voice(getattr(fake, user), fake.voice)
    token = await fake.use_slash_command(getattr(fake, user), command)
    assert (await fake.answer_to(token))["type"] == 5  # deferred; not the refusal itself
    refused = await fake.wait_for(lambda m: m["content"].startswith("Discord did not let me"))
    assert "Connect" in refused["content"]
