"""Talking to the bot: greeting, replies where wanted, long replies, !test."""

from __future__ import annotations

import json

import pytest

from tests.bridge.conftest import Running, next_event
from tests.fakes.discord_server import EPHEMERAL
from voxdesk.bridge.memory import ReplyMemory
from voxdesk.core.assistant import Reply
from voxdesk.core.events import BridgeError, MessageSeen, ReplySent


async def test_hi(running: Running) -> None:
    fake = running.discord
    await fake.post(fake.member, "!hi")
    reply = await fake.wait_for(lambda m: "Привет, bob" in m["content"])
    assert reply["message_reference"]["channel_id"] == str(fake.general)
    assert "`!help` lists what I can do" in reply["content"]


async def test_slash_hi_points_at_a_command_that_exists(running: Running) -> None:
    """/hi said `/instruction`, a slash command there is not."""
    fake = running.discord
    token = await fake.use_slash_command(fake.member, "hi")
    answer = await fake.answer_to(token)
    assert "`!help` lists what I can do" in answer["data"]["content"]


async def test_a_mention_gets_the_assistants_reply(running: Running) -> None:
    fake = running.discord
    asked = await fake.post(fake.member, "Как дела?", mention_bot=True)
    reply = await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    assert reply["message_reference"]["message_id"] == str(asked)
    sent = running.openai.chat_requests[-1]["messages"]
    assert sent[-1] == {"role": "user", "content": "Как дела?", "name": "bob"}
    seen = await next_event(running, MessageSeen)
    assert seen.message_id == asked and seen.place.channel_name == "general"
    replied = await next_event(running, ReplySent)
    assert replied.in_reply_to == asked and not replied.spoken


async def test_replies_only_where_wanted(running: Running) -> None:
    fake, bot = running.discord, running.bridge.bot
    chat = bot.get_cog("Chat")
    plain = await fake.post(fake.member, "just talking")
    mention = await fake.post(fake.member, "hello", mention_bot=True)
    channel = await fake.post(fake.member, "in the bot channel", channel=fake.chat)
    await fake.wait_for(lambda m: m["channel_id"] == str(fake.chat))
    answer = await fake.wait_for(lambda m: m["message_reference"]["message_id"] == str(mention))
    to_bot = await fake.post(fake.trainer, "and you?", reply_to=int(answer["id"]))
    to_bob = await fake.post(fake.trainer, "me too", reply_to=plain)
    await fake.wait_for(lambda m: m["message_reference"]["message_id"] == str(to_bot))
    decisions = {}
    for message_id in (plain, mention, channel, to_bot, to_bob):
        message = bot._connection._get_message(message_id)
        assert message is not None
        decisions[message_id] = chat.wants_reply(message)  # type: ignore[union-attr]
    assert decisions == {plain: False, mention: True, channel: True, to_bot: True, to_bob: False}


async def test_a_5000_character_reply_is_split(running: Running) -> None:
    fake = running.discord
    running.openai.reply = " ".join(f"слово{i}" for i in range(700))  # 6,290 characters
    await fake.post(fake.member, "tell me everything", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"].endswith("слово699"))
    pieces = [m for m in fake.bot_messages if m["content"].startswith("слово")]
    assert all(len(p["content"]) <= 2000 for p in pieces) and len(pieces) == 4
    assert " ".join(p["content"] for p in pieces) == running.openai.reply


async def test_test_command_with_json_and_bad_json(running: Running) -> None:
    fake = running.discord
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"},
               {"role": "user", "content": "now"}]  # fmt: skip
    await fake.post(fake.member, "!test " + json.dumps(history))
    await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    assert [m["content"] for m in running.openai.chat_requests[-1]["messages"][1:]] == [
        "earlier",
        "ok",
        "now",
    ]
    await fake.post(fake.member, '!test [{"role": "user", "content": ')
    error = await fake.wait_for(lambda m: "not valid JSON" in m["content"])
    assert "Traceback" not in error["content"]


async def test_an_openai_failure_is_a_short_reason(running: Running) -> None:
    fake = running.discord
    running.openai.fail_next(401, "bad key")
    await fake.post(fake.member, "hello?", channel=fake.chat)
    reason = await fake.wait_for(lambda m: m["content"].startswith("I can't answer right now"))
    assert "OpenAI rejected the API key" in reason["content"]


async def test_slash_test_answers_and_fails_privately(running: Running) -> None:
    """/test defers before the model answers; Discord makes the first follow-up as private or
    public as the deferral, so a public deferral would show its failure to everyone."""
    fake = running.discord
    running.openai.fail_next(401, "bad key")
    token = await fake.use_slash_command(fake.member, "test", text="hello?")
    reason = await fake.wait_for(lambda m: "OpenAI rejected the API key" in m["content"])
    assert fake.interaction_answers[token] == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert reason["followup"] and reason["flags"] == EPHEMERAL

    token = await fake.use_slash_command(fake.member, "test", text="hello?")
    answer = await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    assert answer["followup"] and answer["flags"] == EPHEMERAL  # the deferral's answer, not a
    assert fake.original_responses[token]["id"] == answer["id"]  # reply to no message


def test_memory_of_replies_keeps_the_most_recent_only() -> None:
    memory = ReplyMemory(size=3)

    def reply(text: str) -> Reply:
        prompt = ({"role": "system", "content": "be kind"}, {"role": "user", "content": text})
        return Reply(f"re: {text}", "gpt", "chat", prompt)

    for person in range(3):
        memory.remember(100 + person, 7, person, reply(f"q{person}"))
    memory.remember(200, 7, 0, reply("again"))  # the same person again: now the most recent
    memory.remember(300, 7, 3, reply("q3"))
    assert memory.prompt_of(100) == [] and memory.prompt_of(101) == []  # the oldest replies
    assert memory.prompt_of(300) == [{"role": "user", "content": "q3"}]  # no system prompt
    assert memory.last_exchange(7, 1) == []  # person 1 was the least recent
    assert memory.last_exchange(7, 0) == [
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "re: again"},
    ]


async def test_a_channel_the_bot_may_not_write_in_is_one_line_not_a_traceback(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """Each message there logged discord.py's 'Ignoring exception' with a traceback."""
    fake = running.discord
    fake.forbidden_channels.add(fake.chat)
    await fake.post(fake.member, "Привет", channel=fake.chat)
    error = await next_event(running, BridgeError)
    assert error.message == (
        "Discord refused me in #bot-chat (Missing Permissions): check my permissions there."
    )
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
