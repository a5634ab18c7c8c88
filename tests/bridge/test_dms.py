"""Direct messages: the bot answers typed and voice messages there (in text: a DM has no voice
channel), says nothing at all when DMs are off, and refuses server-only commands in one line."""

from __future__ import annotations

import discord
import pytest

from tests.bridge.conftest import Running, next_event
from tests.bridge.test_transcription import voice_message
from tests.bridge.test_voice_replies import CLIP, REPLY, answers, join_voice, transcript_of
from voxdesk.core.events import ReplySent

SERVER_ONLY = "This command works in a server, not in direct messages."
TRAINER_COMMANDS = ("!train", "!archive", "!select_dataset discord", "!getfile",
                    "!instruction set Be rude.", "!voice_replies off", "!translate_captions on",
                    "!listen", "!stop", "!transcript")  # fmt: skip


async def reply_sent_to(running: Running, message_id: int) -> ReplySent:
    sent = await next_event(running, ReplySent)
    while sent.in_reply_to != message_id:
        sent = await next_event(running, ReplySent)
    return sent


async def test_a_typed_dm_is_answered(running: Running) -> None:
    fake = running.discord
    dm = fake.dm_channel(fake.member)
    asked = await fake.post(fake.member, "Как дела?", channel=dm)  # no mention needed in a DM
    answer = await fake.wait_for(answers(asked))
    assert answer["channel_id"] == str(dm) and "guild_id" not in answer
    assert "guild_id" not in answer["message_reference"]
    sent = running.openai.chat_requests[-1]["messages"][-1]
    assert sent == {"role": "user", "content": "Как дела?", "name": "bob"}
    replied = await reply_sent_to(running, asked)
    assert replied.place.guild_id is None and replied.place.channel_name == "direct message"
    assert [m["content"] for m in running.services.assistant.history(str(dm))] == [
        "Как дела?",
        REPLY,
    ]


async def test_the_dm_the_bot_opens_is_the_one_the_member_writes_in(running: Running) -> None:
    fake = running.discord
    # POST /users/@me/channels, checked against the spec
    channel = await running.bridge.bot.create_dm(discord.Object(fake.member.id))
    assert isinstance(channel, discord.DMChannel) and channel.recipient is not None
    assert channel.recipient.id == fake.member.id and channel.recipient.name == "bob"
    assert channel.id == fake.dm_channel(fake.member)
    await channel.send("hello from the bot")
    said = await fake.wait_for(lambda m: m["content"] == "hello from the bot")
    assert said["channel_id"] == str(channel.id) and "guild_id" not in said


@pytest.mark.slow
async def test_a_voice_dm_gets_its_transcript_and_a_text_answer(running: Running) -> None:
    fake = running.discord
    voice = await join_voice(running)  # bob and the bot share a voice channel: still text only
    audio = fake.attachment(voice_message(CLIP), "voice-message.ogg", "audio/ogg", voice=True,
                            duration=3.6)  # fmt: skip
    dm = fake.dm_channel(fake.member)
    posted = await fake.post(fake.member, attachments=[audio], voice=True, channel=dm)
    answer = await fake.wait_for(answers(posted))
    transcript = transcript_of(running, posted)
    assert transcript["channel_id"] == answer["channel_id"] == str(dm)
    assert fake.bot_messages.index(transcript) < fake.bot_messages.index(answer)
    asked = running.openai.chat_requests[-1]["messages"][-1]
    assert asked == {"role": "user", "content": transcript["content"], "name": "bob"}
    replied = await reply_sent_to(running, posted)
    assert not replied.spoken and not voice.spoke.is_set()


async def test_with_dms_off_the_bot_says_nothing_in_dms(running: Running) -> None:
    fake = running.discord
    running.services.settings.discord.reply_in_dms = False
    dm = fake.dm_channel(fake.member)
    audio = fake.attachment(voice_message(CLIP), "voice-message.ogg", "audio/ogg", voice=True,
                            duration=3.6)  # fmt: skip
    await fake.post(fake.member, "Как дела?", channel=dm)
    await fake.post(fake.member, attachments=[audio], voice=True, channel=dm)
    await fake.post(fake.member, "!hi", channel=dm)
    await fake.post(fake.trainer, "!train", channel=dm)
    # Each message's handling starts, in order, before this one's: had any of them said
    # something, it would be said before this answer, which takes an OpenAI round trip.
    still_here = await fake.post(fake.member, "still there?", channel=fake.chat)
    await fake.wait_for(answers(still_here))
    assert [e.path for e in fake.exchanges if f"/channels/{dm}/" in e.path] == []
    assert [m for m in fake.bot_messages if m["channel_id"] == str(dm)] == []
    assert len(running.openai.chat_requests) == 1


async def test_trainer_commands_in_a_dm_are_refused_in_one_line(running: Running) -> None:
    fake = running.discord
    dm = fake.dm_channel(fake.trainer)
    for command in TRAINER_COMMANDS:
        asked = await fake.post(fake.trainer, command, channel=dm)
        refusal = await fake.wait_for(
            lambda m, asked=asked: m["message_reference"]["message_id"] == str(asked)
        )
        assert refusal["content"] == SERVER_ONLY, command
    in_dm = [m["content"] for m in fake.bot_messages if m["channel_id"] == str(dm)]
    assert in_dm == [SERVER_ONLY] * len(TRAINER_COMMANDS)  # one line each, nothing else
    assert running.services.settings.assistant.system_prompt is None  # nothing was changed
