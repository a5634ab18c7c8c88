"""A server that quotes the key back never gets the key posted into a channel."""

from __future__ import annotations

from tests.bridge.conftest import Running, next_event
from tests.fakes.openai_server import API_KEY
from voxdesk.core.events import CommandRun


async def test_an_echoed_key_never_reaches_the_channel(running: Running) -> None:
    fake = running.discord
    running.openai.echo_key_next()
    await fake.post(fake.member, "hello?", channel=fake.chat)
    reply = await fake.wait_for(lambda m: m["content"].startswith("I can't answer right now"))
    assert "Invalid request for key Bearer [redacted]" in reply["content"]

    running.openai.echo_key_next()
    await fake.post(fake.member, "!test hello")
    failed = await next_event(running, CommandRun)
    assert not failed.ok and "Bearer [redacted]" in failed.detail
    await fake.wait_for(lambda m: m["content"] == failed.detail)
    assert not any(API_KEY in m["content"] for m in fake.bot_messages)
    assert "sk-" not in "".join(m["content"] for m in fake.bot_messages)
