"""The lazily made OpenAI client that the assistant and the fine-tuner keep."""

from __future__ import annotations

import asyncio
from functools import partial

import openai

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import OpenAISettings, SecretStore, SettingsWatch
from voxdesk.core.events import EventBus, SettingsChanged
from voxdesk.core.openai_client import LazyClient, make_client


async def ask(client: openai.AsyncOpenAI) -> None:
    messages = [{"role": "user", "content": "hi"}]
    await client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]


def watched(base_url: str) -> tuple[LazyClient, OpenAISettings, EventBus]:
    """A holder whose client follows the key and base URL, as the assistant's and the
    fine-tuner's do."""
    events = EventBus()
    settings = OpenAISettings(base_url=base_url, max_retries=0)
    factory = partial(make_client, settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    return LazyClient(factory, SettingsWatch(events, "openai.", "OPENAI_API_KEY")), settings, events


async def test_a_changed_setting_renews_the_client_and_closes_the_old(server: FakeOpenAI) -> None:
    other = await FakeOpenAI().start()
    holder, settings, events = watched(server.base_url)
    async with holder.use() as first:
        await ask(first)
    events.publish(SettingsChanged(frozenset({"assistant.model"})))  # not what it is made from
    async with holder.use() as same:
        assert same is first
    settings.base_url = other.base_url
    events.publish(SettingsChanged(frozenset({"openai.base_url"})))
    async with holder.use() as second:
        await ask(second)
    assert second is not first and first.is_closed() and not second.is_closed()
    assert (len(server.chat_requests), len(other.chat_requests)) == (1, 1)
    await holder.close()
    await other.stop()


async def test_a_change_before_the_first_client_does_not_renew_it(server: FakeOpenAI) -> None:
    holder, _, events = watched(server.base_url)
    events.publish(SettingsChanged(frozenset({"OPENAI_API_KEY"})))  # stored before any request
    async with holder.use() as first:
        await ask(first)
    async with holder.use() as second:
        assert second is first and not first.is_closed()
    await holder.close()


async def test_a_renewal_lets_a_request_in_flight_on_the_old_client_finish(
    server: FakeOpenAI,
) -> None:
    """A new base URL saved while a request is under way (another coroutine's reply, a long
    upload): closing the old client then would fail that request; it closes once released."""
    other = await FakeOpenAI().start()
    server.reply_delay = 0.5  # the first request is still waiting while the second is made
    holder, settings, events = watched(server.base_url)
    sending = asyncio.Event()

    async def slow_request() -> openai.AsyncOpenAI:
        async with holder.use() as client:
            sending.set()
            await ask(client)
        return client

    slow = asyncio.create_task(slow_request())
    await sending.wait()
    settings.base_url = other.base_url
    events.publish(SettingsChanged(frozenset({"openai.base_url"})))
    async with holder.use() as second:
        await ask(second)
    assert not slow.done()  # what follows is not an outcome decided before the renewal
    first = await slow  # answered, not failed by a close under it
    assert second is not first and first.is_closed() and not second.is_closed()
    assert (len(server.chat_requests), len(other.chat_requests)) == (1, 1)
    await holder.close()
    assert second.is_closed()
    await other.stop()


async def test_closing_the_holder_closes_a_client_a_request_holds(server: FakeOpenAI) -> None:
    """Closing is the end of use (a command's end, the window's quit): nothing is left for the
    garbage collector to close from whichever task runs then."""
    holder, _, _ = watched(server.base_url)
    async with holder.use() as client:
        await holder.close()
        assert client.is_closed()
    async with holder.use() as fresh:
        await ask(fresh)
    assert fresh is not client
    await holder.close()


async def test_a_closed_holder_opens_a_new_client_on_the_next_use(server: FakeOpenAI) -> None:
    settings = OpenAISettings(base_url=server.base_url, max_retries=0)
    holder = LazyClient(partial(make_client, settings, SecretStore({"OPENAI_API_KEY": API_KEY})))
    first = holder.client
    await ask(first)
    await holder.close()
    assert first.is_closed()
    await holder.close()  # closing twice is harmless
    async with holder.use() as second:
        await ask(second)
    assert second is not first and not second.is_closed()
    assert holder.client is second and len(server.chat_requests) == 2
    await holder.close()
    assert second.is_closed()
