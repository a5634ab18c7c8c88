"""The loopback Discord refuses the messages Discord refuses, so that the bot's mistakes show
here as they would against Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord_server import TOKEN, FakeDiscord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    problems = server.spec_problems()
    await server.stop()
    assert problems == [], "\n".join(problems)


async def reply(fake: FakeDiscord, reference: dict[str, Any]) -> tuple[int, Any]:
    url = f"{fake.api_base}/channels/{fake.general}/messages"
    body = {"content": "an answer", "message_reference": reference}
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as session,
        session.post(url, json=body) as response,
    ):
        return response.status, await response.json()


async def test_a_reply_to_a_message_discord_does_not_have_is_refused(fake: FakeDiscord) -> None:
    asked = await fake.post(fake.member, "a question")
    status, answer = await reply(fake, {"message_id": str(asked)})
    assert status == 200 and answer["referenced_message"]["id"] == str(asked)

    status, problem = await reply(fake, {"message_id": str(fake.new_id())})
    assert status == 400 and problem["code"] == 50035
    assert len([m for m in fake.messages.values() if m["content"] == "an answer"]) == 1

    # told not to fail, Discord posts it as a message of its own
    unknown = {"message_id": str(fake.new_id()), "fail_if_not_exists": False}
    status, alone = await reply(fake, unknown)
    assert status == 200 and "message_reference" not in alone
