"""The Discord page end to end: the real bot on the loopback Discord, driven from the window."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.bridge.conftest import RecordingVoiceClient
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.bridge.runner import Bridge
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.core.training.store import Status
from voxdesk.desktop.pages.discord import DiscordPage

Live = tuple[FakeDiscord, FakeOpenAI, DiscordPage]


@pytest.fixture
def live(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Live]:
    fake = qloop.run_until_complete(FakeDiscord().start())
    openai = qloop.run_until_complete(FakeOpenAI().start())
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.openai.base_url = openai.base_url
    settings.discord.cooldown_seconds = 0
    settings.tts.engine = "espeak"
    secrets = SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY})
    services = Services(settings, secrets, settings_path=tmp_path / "settings.toml")
    page = DiscordPage(services)
    qtbot.addWidget(page)
    page.start()
    bridge = Bridge(services, voice_client_class=RecordingVoiceClient)
    qloop.run_until_complete(bridge.start())
    qloop.run_until_complete(asyncio.wait_for(bridge.bot.wait_until_ready(), 30))
    page.attach(bridge)
    page.refresh_places()
    yield fake, openai, page
    qloop.run_until_complete(page.shutdown())
    qloop.run_until_complete(bridge.stop())
    qloop.run_until_complete(services.close())
    qloop.run_until_complete(openai.stop())
    qloop.run_until_complete(fake.stop())


def wait_for_rows(qloop: asyncio.AbstractEventLoop, page: DiscordPage, kinds: set[str]) -> None:
    async def waiter() -> None:
        ready = asyncio.Event()

        def check(*_: object) -> None:
            if kinds <= {row.kind for row in page.feed.rows}:
                ready.set()

        page.feed.rowsInserted.connect(check)
        check()
        await asyncio.wait_for(ready.wait(), 30)

    qloop.run_until_complete(waiter())


def select_channel(page: DiscordPage, name: str) -> None:
    guild = page.places.item(0)
    for row in range(guild.rowCount()):
        if guild.child(row).text().endswith(name):
            page.tree.setCurrentIndex(page.places.indexFromItem(guild.child(row)))
            return
    raise AssertionError(f"no channel {name}")


def test_feed_reply_as_the_bot_and_correct(qloop: asyncio.AbstractEventLoop, live: Live) -> None:
    fake, openai, page = live
    guild = page.places.item(0)
    assert guild.text() == "Voxdesk Test Guild"
    assert [guild.child(i).text() for i in range(guild.rowCount())] == [
        "# general",
        "# bot-chat",
        "Voice",
    ]

    qloop.run_until_complete(fake.post(fake.member, "Столица Франции?", mention_bot=True))
    wait_for_rows(qloop, page, {"message", "reply"})
    assert page.filter.rowCount() == len(page.feed.rows)

    select_channel(page, "bot-chat")
    assert page.filter.rowCount() == 0  # nothing happened there
    select_channel(page, "general")
    assert page.filter.rowCount() >= 2

    page.message.setText("Привет от оператора")
    page.send_button.click()
    qloop.run_until_complete(fake.wait_for(lambda m: m["content"] == "Привет от оператора"))
    assert page.message.text() == ""

    reply_row = next(i for i, row in enumerate(page.feed.rows)
                     if row.kind == "reply" and row.text == openai.reply)  # fmt: skip
    proxy = page.filter.mapFromSource(page.feed.index(reply_row, 0))
    page.table.selectRow(proxy.row())
    # the guild chose its dataset with !select_dataset: the window's corrections go there too
    page.services.settings.discord.guild_datasets = {str(fake.guild_id): "geography"}
    page.correct_selected("Париж.")
    qloop.run_until_complete(page.background.settle())
    store = page.services.datasets
    (candidate,) = qloop.run_until_complete(store.examples("geography", status=Status.CANDIDATE))
    assert candidate.messages == [{"role": "user", "content": "Столица Франции?"},
                                  {"role": "assistant", "content": "Париж."}]  # fmt: skip
    assert candidate.metadata["rejected_reply"] == openai.reply


def test_join_speak_and_leave_from_the_window(qloop: asyncio.AbstractEventLoop, live: Live) -> None:
    fake, _, page = live
    select_channel(page, "Voice")
    page.join_button.click()
    qloop.run_until_complete(page.background.settle())
    assert fake.voice_states[fake.bot.id] == fake.voice
    assert page.places.item(0).child(2).text() == "Voice (bot here)"
    select_channel(page, "general")
    page.message.setText("Проверка связи")
    page.speak_button.click()
    qloop.run_until_complete(page.background.settle())
    voice = RecordingVoiceClient.instances[-1]
    qloop.run_until_complete(asyncio.wait_for(voice.spoke.wait(), 60))
    assert voice.played[0] > 25
    page.leave_button.click()
    qloop.run_until_complete(page.background.settle())
    assert fake.voice_states[fake.bot.id] is None
