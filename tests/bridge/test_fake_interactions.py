"""The loopback Discord answers interaction callbacks, follow-ups and replies as Discord's API
does, so that what discord.py does with the answers here is what it does against Discord."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.bridge.conftest import Running, next_event
from tests.fakes.discord_server import EPHEMERAL, TOKEN, FakeDiscord
from voxdesk.core.events import CommandRun


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = await FakeDiscord().start()
    yield server
    problems = server.spec_problems()
    await server.stop()
    assert problems == [], "\n".join(problems)


async def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.json() if response.status != 204 else None


def callback_url(fake: FakeDiscord, token: str) -> str:
    return f"{fake.api_base}/interactions/{fake.new_id()}/{token}/callback"


async def test_an_answer_with_response_carries_its_message(fake: FakeDiscord) -> None:
    token = await fake.use_slash_command(fake.member, "hi")
    answer = {"type": 4, "data": {"content": "hello", "flags": EPHEMERAL}}
    status, created = await post(callback_url(fake, token) + "?with_response=true", answer)
    assert status == 200
    message = created["resource"]["message"]
    assert created["resource"]["type"] == 4 and message["content"] == "hello"
    assert created["interaction"]["response_message_id"] == message["id"]
    assert created["interaction"]["response_message_ephemeral"] is True


async def test_an_interaction_takes_one_callback(fake: FakeDiscord) -> None:
    token = await fake.use_slash_command(fake.member, "hi")
    assert (await post(callback_url(fake, token), {"type": 5}))[0] == 204
    status, refused = await post(callback_url(fake, token), {"type": 4, "data": {"content": "x"}})
    assert (status, refused["code"]) == (400, 40060)
    assert fake.interaction_responses == [{"type": 5}]


async def test_a_followup_keeps_its_flags(fake: FakeDiscord) -> None:
    token = await fake.use_slash_command(fake.member, "hi")
    url = f"{fake.api_base}/webhooks/{fake.application_id}/{token}?wait=true"
    status, sent = await post(url, {"content": "only you", "flags": EPHEMERAL})
    assert status == 200 and sent["flags"] == EPHEMERAL
    assert fake.bot_messages[-1]["flags"] == EPHEMERAL


@pytest.mark.parametrize("deferred", [0, EPHEMERAL], ids=["public", "private"])
async def test_the_first_followup_after_a_deferral_is_as_the_deferral_said(
    fake: FakeDiscord, deferred: int
) -> None:
    """As Discord does: the first follow-up is the deferred answer, and the deferral fixed its
    visibility; later follow-ups have their own."""
    token = await fake.use_slash_command(fake.member, "hi")
    await post(callback_url(fake, token), {"type": 5, "data": {"flags": deferred}})
    url = f"{fake.api_base}/webhooks/{fake.application_id}/{token}?wait=true"
    _, first = await post(url, {"content": "first", "flags": EPHEMERAL - deferred})
    _, second = await post(url, {"content": "second", "flags": EPHEMERAL - deferred})
    assert first["flags"] == deferred and second["flags"] == EPHEMERAL - deferred
    assert fake.original_responses[token]["id"] == first["id"]


async def test_discord_py_takes_the_answer_from_the_callback(running: Running) -> None:
    fake = running.discord
    answer = await fake.answer_to(await fake.use_slash_command(fake.member, "hi"))
    assert (await next_event(running, CommandRun)).ok  # its reply is done, fetches and all
    assert answer["data"]["content"].startswith("Привет, bob!")
    assert not [e for e in fake.exchanges if e.path.endswith("/messages/@original")]


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
