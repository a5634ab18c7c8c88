"""The connection itself: resuming after a drop, rate limits, tokens, sharding, the spec."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from discord.gateway import KeepAliveHandler

from tests.bridge.conftest import Running, next_event
from tests.fakes.discord_server import TOKEN, FakeDiscord
from voxdesk.bridge.runner import Bridge, TokenRejected
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import BridgeStateChanged
from voxdesk.core.services import Services


async def test_a_dropped_gateway_resumes_and_loses_nothing(running: Running) -> None:
    fake = running.discord
    await fake.drop_gateway()
    await next_event(running, BridgeStateChanged)  # reconnecting
    await fake.post(fake.member, "!hi")  # sent while the bot is away: kept for the RESUME
    await fake.wait_for(lambda m: "Привет, bob" in m["content"])
    assert (fake.identifies, fake.resumes) == (1, 1)


async def test_rest_429_is_waited_out(running: Running) -> None:
    fake = running.discord
    fake.rate_limits.append(("/channels/", 0.3))
    await fake.post(fake.member, "!hi")
    await fake.wait_for(lambda m: "Привет, bob" in m["content"])
    assert fake.rate_limited == 1


async def test_every_rest_exchange_follows_discords_spec(running: Running) -> None:
    fake = running.discord
    await fake.post(fake.member, "!hi")
    await fake.wait_for(lambda m: "Привет" in m["content"])
    await fake.post(fake.member, "hello", channel=fake.chat)
    await fake.wait_for(lambda m: m["content"] == running.openai.reply)
    assert fake.spec_problems() == []


async def test_stopping_waits_for_a_heartbeat_under_way(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A beat that began as the bot closed used to reach for the event loop after the app had
    # closed it ("Event loop is closed" in discord.py's heartbeat thread).
    beating, closed = threading.Event(), threading.Event()
    payload = KeepAliveHandler.get_payload

    def held_until_closed(self: KeepAliveHandler) -> dict[str, Any]:
        beating.set()
        closed.wait(10)
        return payload(self)

    monkeypatch.setattr(KeepAliveHandler, "get_payload", held_until_closed)
    await asyncio.to_thread(beating.wait, 10)
    bot, close = running.bridge.bot, running.bridge.bot.close

    async def close_then_release() -> None:
        await close()
        closed.set()

    monkeypatch.setattr(bot, "close", close_then_release)
    await running.bridge.stop()
    loop = asyncio.get_running_loop()
    assert not [thread for thread in threading.enumerate()
                if isinstance(thread, KeepAliveHandler) and thread.ws.loop is loop]  # fmt: skip


async def test_a_rejected_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = await start_fake(monkeypatch)
    services = Services(Settings(), SecretStore({"DISCORD_TOKEN": "not-the-token"}))
    with pytest.raises(TokenRejected, match="rejected the bot token") as raised:
        await Bridge(services).start()
    assert "Developer Portal" in (raised.value.hint or "")
    await services.close()
    await fake.stop()


async def test_the_sharded_bot_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = await start_fake(monkeypatch)
    settings = Settings()
    settings.discord.sharded = True
    services = Services(settings, SecretStore({"DISCORD_TOKEN": TOKEN}))
    bridge = Bridge(services)
    await bridge.start()
    await asyncio.wait_for(bridge.bot.wait_until_ready(), 30)
    assert bridge.bot.shard_count == 1 and bridge.bot.get_guild(fake.guild_id) is not None
    await fake.post(fake.member, "!hi")
    await fake.wait_for(lambda m: "Привет" in m["content"])
    await bridge.stop()
    await services.close()
    await fake.stop()


async def start_fake(monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:

    fake = await FakeDiscord().start()
    fake.point_client_here(monkeypatch)
    return fake


async def test_heartbeats_are_acknowledged(running: Running) -> None:
    fake = running.discord
    for _ in range(2):  # the fake asks for one every 0.5 s
        fake.heartbeat.clear()
        await asyncio.wait_for(fake.heartbeat.wait(), 10)
    assert running.bridge.bot.latency < 1.0  # discord.py measured the ACKs' round trip


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The headless bot freezes what is alive once it has started, this test process's objects
    with it: undone after the test, so that other tests' leftovers are collected."""
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_the_headless_bot_freezes_its_start_up_objects_and_stops_on_sigterm(
    monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    import os
    import signal

    from voxdesk.bridge.runner import run_headless
    from voxdesk.core.events import BridgeStateChanged

    fake = await start_fake(monkeypatch)
    services = Services(Settings(), SecretStore({"DISCORD_TOKEN": TOKEN}))
    states = services.events.subscribe(BridgeStateChanged)
    task = asyncio.create_task(run_headless(services))
    async with asyncio.timeout(30):
        while (await states.get()).state != "connected":
            pass
        # start-up's objects are out of the collector's sight: no 100 ms pauses walking them
        assert gc.get_freeze_count() > 0
        os.kill(os.getpid(), signal.SIGTERM)  # caught by the bot's handler, not by pytest
        await task
        while (await states.get()).state != "offline":
            pass
    await services.close()
    await fake.stop()


async def test_the_headless_bot_loads_the_token_table_before_it_logs_in(
    monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    """The table's load holds the GIL some 0.5 s: the first reply waited for it."""
    import os
    import signal

    from voxdesk.bridge import runner
    from voxdesk.core.events import BridgeStateChanged

    fake = await start_fake(monkeypatch)
    services = Services(Settings(), SecretStore({"DISCORD_TOKEN": TOKEN}))
    states = services.events.subscribe(BridgeStateChanged)
    loaded: list[tuple[str, bool]] = []
    monkeypatch.setattr(runner, "load_token_table", lambda secrets, model: loaded.append(
        (model, fake.identifies == 0)))  # fmt: skip
    task = asyncio.create_task(runner.run_headless(services))
    async with asyncio.timeout(30):
        while (await states.get()).state != "connected":
            pass
        assert loaded == [(services.settings.assistant.model, True)]
        os.kill(os.getpid(), signal.SIGTERM)
        await task
    await services.close()
    await fake.stop()


class WithoutMessageContent(FakeDiscord):
    """An application whose Message Content intent is off in the Developer Portal."""

    async def _gateway_op(self, socket: Any, op: int, data: Any) -> None:
        if op == 2:  # IDENTIFY asking for a privileged intent the application lacks
            await socket.close(code=4014, message=b"Disallowed intent(s).")
            return
        await super()._gateway_op(socket, op, data)


async def test_the_headless_bot_without_its_intent_fails_saying_what_to_turn_on(
    monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    """It logged in, then said 'The bot has stopped.' with status 0 and discord.py's advice."""
    from voxdesk.bridge.runner import run_headless
    from voxdesk.core.errors import VoxdeskError, user_message

    fake = await WithoutMessageContent().start()
    fake.point_client_here(monkeypatch)
    services = Services(Settings(), SecretStore({"DISCORD_TOKEN": TOKEN}))
    with pytest.raises(VoxdeskError) as failed:
        await asyncio.wait_for(run_headless(services), 30)
    assert "Message Content Intent in the Developer Portal" in user_message(failed.value)
    await services.close()
    await fake.stop()
