"""The whole operator story through the real window, the real bot and both loopback services.

A user posts a voice message → the feed shows it with its transcript → the operator replies
from the window and the server receives it; the operator corrects a bot reply → it appears as
a candidate → approve → a fine-tune started from the form succeeds → the chart shows its loss
→ its model becomes the reply model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.bridge.test_transcription import voice_message
from tests.desktop.test_discord_page import select_channel
from tests.fakes.discord_server import TOKEN, FakeDiscord
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings, load_settings
from voxdesk.core.events import BridgeStateChanged
from voxdesk.core.services import Services
from voxdesk.core.training.store import NewExample, Status
from voxdesk.desktop.feed import FeedModel
from voxdesk.desktop.window import MainWindow

pytestmark = pytest.mark.slow


def test_the_operator_story(qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    fake = qloop.run_until_complete(FakeDiscord().start())
    openai = qloop.run_until_complete(FakeOpenAI(steps=3).start())
    fake.point_client_here(monkeypatch)
    settings = Settings()
    settings.openai.base_url = openai.base_url
    settings.openai.job_poll_seconds = 0.01
    settings.discord.language = "auto"
    settings.discord.cooldown_seconds = 0
    settings.discord.reply_channels = [fake.chat]
    secrets = SecretStore({"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": API_KEY})
    services = Services(settings, secrets, settings_path=tmp_path / "settings.toml")
    window = MainWindow(services)
    qtbot.addWidget(window)

    async def story() -> None:
        states = services.events.subscribe(BridgeStateChanged)
        await window.start()
        while (await states.get()).state != "connected":
            pass
        feed = window.discord.feed
        # 1. a voice message appears in the feed, then its transcript
        audio = fake.attachment(voice_message("deepspeech_new_home_in_the_stars.wav"),
                                "voice.ogg", "audio/ogg", voice=True)  # fmt: skip
        await fake.post(fake.member, attachments=[audio], voice=True)
        await fake.wait_for(lambda m: "home in the stars" in m["content"].lower())
        await settle_until(feed, lambda: any(r.kind == "transcript" for r in feed.rows))
        assert "home in the stars" in next(r.text for r in feed.rows if r.kind == "transcript")
        # 2. the operator writes as the bot; Discord receives it
        window.sidebar.setCurrentRow(1)
        window.discord.refresh_places()
        select_channel(window.discord, "general")
        window.discord.message.setText("Оператор на связи")
        window.discord.send_button.click()
        await fake.wait_for(lambda m: m["content"] == "Оператор на связи")
        # 3. a bot reply is corrected from the feed: a candidate appears in the Dataset page
        await fake.post(fake.trainer, "Столица Франции?", channel=fake.chat)
        await fake.wait_for(lambda m: m["content"] == openai.reply)
        await settle_until(feed, lambda: any(r.kind == "reply" and r.text == openai.reply
                                       for r in feed.rows))  # fmt: skip
        select_channel(window.discord, "bot-chat")
        reply_row = next(i for i, r in enumerate(feed.rows)
                         if r.kind == "reply" and r.text == openai.reply)  # fmt: skip
        window.discord.table.selectRow(window.discord.filter.mapFromSource(
            feed.index(reply_row, 0)).row())  # fmt: skip
        window.discord.correct_selected("Париж.")
        await window.discord.background.settle()
        dataset_page = window.dataset
        await dataset_page.refresh(select="discord")
        dataset_page.status_filter.setCurrentText("candidate")
        await dataset_page.background.settle()
        assert [e.messages[-1]["content"] for e in dataset_page.examples.rows] == ["Париж."]
        # 4. approve it (plus earlier approved data, enough for the API's minimum)
        dataset_page.table.selectRow(0)
        dataset_page.approve()
        await dataset_page.background.settle()
        earlier = [NewExample({"messages": [{"role": "user", "content": f"Вопрос {i}?"},
                                            {"role": "assistant", "content": f"Ответ {i}."}]},
                              status=Status.APPROVED) for i in range(11)]  # fmt: skip
        await services.datasets.add("discord", earlier)
        # 5. fine-tune from the form; it succeeds; the chart shows the loss
        page = window.finetune
        await page.start()
        page.dataset.setCurrentText("discord")
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 60)
        page.select(job_id)
        await page.show_job()
        steps, losses = page.loss_curve.getData()
        assert list(steps) == [1, 2, 3] and losses[0] > losses[-1]
        # 6. its model becomes the reply model
        await page.use_selected()
        await window.shutdown()

    qloop.run_until_complete(asyncio.wait_for(story(), 180))
    model = load_settings(tmp_path / "settings.toml").assistant.model
    assert model.startswith("ft:gpt-4o-mini-2024-07-18")
    trained = openai.file_contents[openai.jobs[next(iter(openai.jobs))].body["training_file"]]
    assert "Париж." in trained.decode()  # the corrected answer was in the training data
    qloop.run_until_complete(services.close())
    problems = fake.spec_problems() + openai.spec_problems()
    qloop.run_until_complete(openai.stop())
    qloop.run_until_complete(fake.stop())
    assert problems == []


async def settle_until(feed: FeedModel, condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds, checking each time the feed gains rows."""
    ready = asyncio.Event()

    def check(*_: object) -> None:
        if condition():
            ready.set()

    feed.rowsInserted.connect(check)
    check()
    await asyncio.wait_for(ready.wait(), 30)
