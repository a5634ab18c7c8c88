"""The assistant through the real ``openai`` client against the loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import openai
import pytest

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.assistant import Assistant, default_system_prompt
from voxdesk.core.config import (
    AssistantSettings,
    OpenAISettings,
    SecretStore,
    Settings,
    load_settings,
)
from voxdesk.core.openai_client import OpenAIError, make_client
from voxdesk.core.services import Services

_made: list[Assistant | Services] = []  # closed after each test


@pytest.fixture(autouse=True)
async def close_assistants() -> AsyncIterator[None]:
    yield
    while _made:
        await _made.pop().close()


def assistant(server: FakeOpenAI, key: str = API_KEY, **settings: object) -> Assistant:
    openai_settings = OpenAISettings(base_url=server.base_url, timeout=5, max_retries=0)
    factory = partial(make_client, openai_settings, SecretStore({"OPENAI_API_KEY": key}))
    made = Assistant(AssistantSettings(**settings), factory)  # type: ignore[arg-type]
    _made.append(made)
    return made


async def test_reply_uses_the_system_prompt_and_remembers_the_channel(server: FakeOpenAI) -> None:
    bot = assistant(server)
    first = await bot.reply("channel-1", "Привет!", author="Анна")
    assert first.text == server.reply
    await bot.reply("channel-1", "Как дела?")
    await bot.reply("channel-2", "Другой канал")
    sent = server.chat_requests
    assert sent[0]["messages"][0] == {"role": "system", "content": default_system_prompt()}
    assert sent[0]["messages"][1]["name"] == "____"  # the API allows ASCII names only
    assert [m["content"] for m in sent[1]["messages"][1:]] == ["Привет!", server.reply, "Как дела?"]
    assert [m["content"] for m in sent[2]["messages"][1:]] == ["Другой канал"]
    assert first.prompt == tuple(sent[0]["messages"])


async def test_questions_at_once_in_one_channel_are_all_remembered(server: FakeOpenAI) -> None:
    bot = assistant(server)
    await asyncio.gather(*(bot.reply("busy", f"Question {n}") for n in range(3)))
    remembered = [m["content"] for m in bot.history("busy") if m["role"] == "user"]
    assert sorted(remembered) == ["Question 0", "Question 1", "Question 2"]


async def test_history_is_trimmed_to_the_token_budget(server: FakeOpenAI) -> None:
    bot = assistant(server, history_tokens=200)
    for i in range(30):
        await bot.reply("busy", f"Message number {i} with a few more words in it")
    last = server.chat_requests[-1]["messages"]
    assert last[-1]["content"].startswith("Message number 29")
    assert len(last) < 20  # old turns were dropped
    assert last[1]["role"] == "user"  # never opens with half an exchange


async def test_explicit_messages_and_model_and_prompt(server: FakeOpenAI) -> None:
    bot = assistant(server, model="ft:gpt-4o-mini:org::x1", system_prompt="Отвечай кратко.")
    await bot.reply("test", "Hi", messages=[{"role": "user", "content": "earlier"}])
    sent = server.chat_requests[-1]
    assert sent["model"] == "ft:gpt-4o-mini:org::x1"
    assert sent["messages"][0]["content"] == "Отвечай кратко."
    assert [m["content"] for m in sent["messages"][1:]] == ["earlier", "Hi"]
    assert bot.history("test") == []  # an explicit conversation is not remembered


async def test_errors_are_clear(server: FakeOpenAI) -> None:
    with pytest.raises(OpenAIError, match="rejected the API key"):
        await assistant(server, key="sk-bad-key-0000000000000").reply("c", "hi")
    server.fail_next(500, "boom")
    with pytest.raises(OpenAIError, match="500"):
        await assistant(server).reply("c", "hi")


async def test_a_model_made_active_answers_and_is_kept(server: FakeOpenAI, tmp_path: Path) -> None:
    model, path = "ft:gpt-4o-mini-2024-07-18:org:voxbot:abc", tmp_path / "settings.toml"
    settings = Settings(openai={"base_url": server.base_url})
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}), settings_path=path)
    _made.append(services)
    await services.assistant.reply("c", "hi")
    await services.settings_store.set("assistant.model", model)  # "Use this model"
    await services.assistant.reply("c", "hi again")
    assert server.chat_requests[-1]["model"] == model
    assert load_settings(path).assistant.model == model


async def test_a_new_base_url_reaches_the_next_reply(server: FakeOpenAI, tmp_path: Path) -> None:
    other = await FakeOpenAI().start()
    settings = Settings(openai={"base_url": server.base_url})
    secrets = SecretStore({"OPENAI_API_KEY": API_KEY})
    services = Services(settings, secrets, settings_path=tmp_path / "settings.toml")
    _made.append(services)
    await services.assistant.reply("c", "hi")
    await services.settings_store.set("openai.base_url", other.base_url)
    await services.assistant.reply("c", "hi again")
    assert (len(server.chat_requests), len(other.chat_requests)) == (1, 1)
    await other.stop()


async def test_closing_the_services_closes_the_assistants_client(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    # Left open, the client is closed by the garbage collector from whatever task runs then,
    # and asyncio logs the failure there ("Task exception was never retrieved").
    settings = Settings(openai={"base_url": server.base_url})
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    opened = []

    def recording() -> openai.AsyncOpenAI:
        opened.append(make_client(services.settings.openai, services.secrets))
        return opened[-1]

    services.openai_client = recording  # type: ignore[method-assign]
    await services.assistant.reply("c", "hi")
    await services.close()
    assert [client.is_closed() for client in opened] == [True]
