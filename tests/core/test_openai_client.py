"""The lazily made OpenAI client that the assistant and the fine-tuner keep."""

from __future__ import annotations

from functools import partial

import openai

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import OpenAISettings, SecretStore, SettingsWatch
from voxdesk.core.events import EventBus, SettingsChanged
from voxdesk.core.openai_client import LazyClient, make_client


async def ask(client: openai.AsyncOpenAI) -> None:
    messages = [{"role": "user", "content": "hi"}]
    await client.chat.completions.create(model="gpt-4o-mini", messages=messages)  # type: ignore[arg-type]


async def test_a_changed_setting_renews_the_client_and_closes_the_old(server: FakeOpenAI) -> None:
    other = await FakeOpenAI().start()
    events = EventBus()
    settings = OpenAISettings(base_url=server.base_url, max_retries=0)
    factory = partial(make_client, settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    holder = LazyClient(factory, SettingsWatch(events, "openai.", "OPENAI_API_KEY"))
    first = await holder.fresh()
    await ask(first)
    events.publish(SettingsChanged(frozenset({"assistant.model"})))  # not what it is made from
    assert await holder.fresh() is first
    settings.base_url = other.base_url
    events.publish(SettingsChanged(frozenset({"openai.base_url"})))
    second = await holder.fresh()
    await ask(second)
    assert second is not first and first.is_closed() and not second.is_closed()
    assert (len(server.chat_requests), len(other.chat_requests)) == (1, 1)
    await holder.close()
    await other.stop()


async def test_a_closed_holder_opens_a_new_client_on_the_next_use(server: FakeOpenAI) -> None:
    settings = OpenAISettings(base_url=server.base_url, max_retries=0)
    holder = LazyClient(partial(make_client, settings, SecretStore({"OPENAI_API_KEY": API_KEY})))
    first = holder.client
    await ask(first)
    await holder.close()
    assert first.is_closed()
    await holder.close()  # closing twice is harmless
    second = await holder.fresh()
    await ask(second)
    assert second is not first and not second.is_closed()
    assert holder.client is second and len(server.chat_requests) == 2
    await holder.close()
    assert second.is_closed()
