"""What a new user met walking through the window: a scroll that changed settings, buttons
that did nothing, lists that went stale, hints cut short."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from tests.desktop.test_captions import caption, publish
from tests.desktop.test_finetune_page import page_and_server  # noqa: F401 - a fixture
from tests.desktop.test_layout_fits import squeezed
from tests.fakes.openai_server import FakeOpenAI
from voxdesk.core.config import MissingSecret
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.events import (
    BridgeError,
    ChannelInfo,
    EventBus,
    GuildInfo,
    MessageSeen,
    Place,
)
from voxdesk.core.services import Services
from voxdesk.core.training.store import NewExample, Status
from voxdesk.core.training.validator import ValidationReport
from voxdesk.desktop import evaluation
from voxdesk.desktop.actions import StatusLine
from voxdesk.desktop.captions import CaptionsPanel
from voxdesk.desktop.evaluation import EvaluatePanel
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages import discord as discord_page
from voxdesk.desktop.pages import finetune as finetune_page
from voxdesk.desktop.pages.dataset import NO_DATASET, DatasetPage
from voxdesk.desktop.pages.finetune import FineTunePage
from voxdesk.desktop.pages.record import RecordPage
from voxdesk.desktop.pages.settings import SettingsPage
from voxdesk.desktop.window import MainWindow


def wheel_down(widget: QWidget) -> None:
    """One notch of the mouse wheel over ``widget``, as the pointer resting on it sends."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(),
                        QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(widget, event)


def state(widget: QWidget) -> object:
    return widget.currentText() if isinstance(widget, QComboBox) else widget.text()


def test_the_wheel_scrolls_the_settings_page_and_changes_no_setting(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)
    page.resize(940, 600)
    page.show()
    qtbot.waitExposed(page)
    fields = [w for w in page.findChildren(QWidget) if isinstance(w, QComboBox | QAbstractSpinBox)]
    assert len(fields) > 10  # every picker, choice and number of the schema
    before = [state(field) for field in fields]
    bar = page.scroll_area.verticalScrollBar()
    for field in fields:
        bar.setValue(0)
        wheel_down(field)
        assert bar.value() > 0, f"{field.toolTip()!r} kept the wheel from scrolling the page"
    assert [state(field) for field in fields] == before
    assert not page.edits()
    engine = page.editors[("speech", "engine")].widget
    page.activateWindow()
    engine.setFocus()
    qtbot.waitUntil(engine.hasFocus)
    wheel_down(engine)  # a field the user clicked into takes the wheel, as anywhere else
    assert list(page.edits()) == ["speech.engine"]


def test_a_dataset_imported_is_offered_to_fine_tune_at_once(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    qloop.run_until_complete(window.start())
    assert window.finetune.dataset.count() == 0  # a new user's: nothing imported yet
    chat = {
        "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hi!"}]
    }
    source = tmp_path / "chats.jsonl"
    source.write_text(json.dumps(chat) + "\n", encoding="utf-8")
    window.show_page(window.dataset)
    qloop.run_until_complete(window.dataset.import_path(source, "support"))
    window.show_page(window.finetune)
    qloop.run_until_complete(window.finetune.background.settle())
    assert window.finetune.dataset.currentText() == "support"
    qloop.run_until_complete(window.shutdown())


def test_the_status_and_origin_of_examples_read_whole(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = DatasetPage(services)
    qtbot.addWidget(page)
    page.resize(940, 660)
    page.show()
    qtbot.waitExposed(page)
    qloop.run_until_complete(page.refresh())
    chat = {"messages": [{"role": "user", "content": "Hi?"},
                         {"role": "assistant", "content": "Hi!"}]}  # fmt: skip
    source = tmp_path / "chats.jsonl"
    source.write_text(json.dumps(chat) + "\n", encoding="utf-8")
    qloop.run_until_complete(page.import_path(source, "support"))
    qtbot.wait(50)  # the view lays its columns out once the rows are in
    header = page.table.horizontalHeader()
    for column in (1, 2):  # "approved", "imported": a sized column, not "appr…", "imp…"
        assert header.sectionSize(column) >= page.table.sizeHintForColumn(column)


def test_a_speakers_name_reads_whole_in_the_live_captions(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot
) -> None:
    panel = CaptionsPanel(EventBus(), lambda: "whisper")
    qtbot.addWidget(panel)
    panel.resize(700, 300)
    panel.show()
    qtbot.waitExposed(panel)
    publish(qloop, panel, caption(1, "Alexandra the Great", "hello all", final=True))
    qtbot.wait(50)
    header = panel.view.horizontalHeader()
    assert header.sectionSize(1) >= panel.view.sizeHintForColumn(1)


def test_an_empty_dataset_page_says_how_to_fill_it_and_each_button_answers(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = DatasetPage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.refresh())
    assert page.status.text() == NO_DATASET
    for button in ("Export…", "Validate"):  # there is no dataset to select: say how to make one
        page.status.say("")
        page.buttons[button].click()
        qloop.run_until_complete(page.background.settle())
        assert page.status.text() == NO_DATASET, button


def test_copy_with_no_transcript_says_so(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = RecordPage(services, TranscriptHistory(tmp_path / "history.json"))
    qtbot.addWidget(page)
    page.copy_selected()
    assert page.status.text() == "Select a transcript to copy."


def test_the_discord_pages_hint_reads_whole_and_send_wants_words(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.resize(1100, 720)  # the first window's size
    window.show_page(window.discord)
    window.show()
    qtbot.waitExposed(window)
    message = window.discord.message
    frame_and_margins = 12  # a line edit draws its text some 6 px in from each side
    hint = message.fontMetrics().horizontalAdvance(message.placeholderText())
    assert message.width() - frame_and_margins >= hint  # not "…in the selected chann…"
    page = window.discord
    guild = GuildInfo(1, "Guild", (ChannelInfo(2, "general", voice=False),))
    page.places.appendRow(discord_page._guild_item(guild, page.windowIcon()))
    page.tree.setCurrentIndex(page.places.item(0).child(0).index())
    page.send()  # nothing written: say so, rather than nothing
    assert page.status.text() == "Write what to send first."


def test_each_per_guild_setting_shows_an_example_of_its_own_values(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = SettingsPage(services)
    qtbot.addWidget(page)

    def hint(name: str) -> str:
        line = page.editors[("discord", name)].widget
        assert isinstance(line, QLineEdit)
        return line.placeholderText()

    assert hint("guild_languages") == "none (as 123: en-US, 456: ru-RU)"
    assert hint("guild_datasets") == "none (as 123: support, 456: games)"  # not languages
    assert hint("guild_voice_replies") == "none (as 123: text+speech, 456: off)"
    assert hint("guild_translate_captions") == "none (as 123: true, 456: false)"


def test_without_a_key_a_fine_tune_asks_for_it_before_asking_to_pay(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    rows = [{"messages": [{"role": "user", "content": f"Question {i}?"},
                          {"role": "assistant", "content": f"Answer {i}."}]}
            for i in range(12)]  # fmt: skip
    examples = [NewExample(row, status=Status.APPROVED) for row in rows]
    qloop.run_until_complete(services.datasets.add("support", examples))
    page = FineTunePage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.start())
    asked: list[ValidationReport] = []

    async def confirm(report: ValidationReport) -> bool:
        asked.append(report)
        return True

    monkeypatch.setattr(page, "_confirm", confirm)
    with pytest.raises(MissingSecret):
        qloop.run_until_complete(page.start_job())
    assert asked == []  # "estimated at $0.01. Start it?", Yes, then "No OpenAI API key"
    qloop.run_until_complete(page.shutdown())


def test_stop_is_offered_only_while_an_estimate_or_a_start_runs(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    page = FineTunePage(services)
    qtbot.addWidget(page)
    page.dataset.addItem("support")
    assert not page.stop_button.isEnabled()  # nothing to stop: it said "Stopped." all the same
    release = asyncio.Event()

    async def slow_estimate(*_: object) -> ValidationReport:
        await release.wait()
        raise VoxdeskError("No examples.")

    monkeypatch.setattr(finetune_page, "estimate_fine_tune", slow_estimate)

    async def scenario() -> bool:
        page.background.run(page.estimate())
        await asyncio.sleep(0)
        running = page.stop_button.isEnabled()
        release.set()
        await page.background.settle()
        return running

    assert qloop.run_until_complete(scenario())
    assert not page.stop_button.isEnabled()


def test_at_the_windows_smallest_every_page_reads_whole(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.resize(1, 1)  # as small as the window lets itself be made
    window.show()
    qtbot.waitExposed(window)
    assert window.width() <= 1366 and window.height() <= 768 - 64  # a title bar and a panel
    for row in range(window.sidebar.count()):
        window.sidebar.setCurrentRow(row)
        page = window.pages.currentWidget()
        assert squeezed(page) == [], type(page).__name__
    message, send = window.discord.message, window.discord.send_button
    assert message.geometry().right() < send.geometry().left()  # side by side, not over it


def test_a_correction_saved_on_the_discord_page_is_on_the_dataset_page_when_shown(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    qloop.run_until_complete(window.start())
    window.show_page(window.discord)
    correction = services.datasets.add_correction(
        "discord", conversation=[{"role": "user", "content": "Как дела?"}],
        wrong_reply="Привет!", corrected_reply="Всё хорошо, спасибо!",
    )  # fmt: skip
    qloop.run_until_complete(correction)  # as Correct reply… saves it
    window.show_page(window.dataset)
    qloop.run_until_complete(window.dataset.background.settle())
    assert window.dataset.current_dataset() == "discord"
    assert window.dataset.examples.rowCount() == 1
    assert window.dataset.status.text() != NO_DATASET


def test_a_fine_tune_started_is_the_one_shown(
    qloop: asyncio.AbstractEventLoop,
    page_and_server: tuple[FineTunePage, FakeOpenAI],  # noqa: F811
) -> None:
    page, _ = page_and_server

    async def scenario() -> str:
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 30)
        return job_id

    job_id = qloop.run_until_complete(scenario())
    assert page.selected_job_id() == job_id  # not an empty chart until the row is clicked
    steps, _ = page.loss_curve.getData()
    assert list(steps) == [1, 2, 3]


def test_the_evaluate_tabs_buttons_act_or_wait_until_they_can(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    panel = EvaluatePanel(services, StatusLine())
    qtbot.addWidget(panel)
    qloop.run_until_complete(panel.start())
    header = [panel.answers.headerData(column, Qt.Orientation.Horizontal) for column in range(3)]
    assert header == ["Prompt", "Reference", "Bot's original"]  # named before any evaluation
    remove = next(b for b in panel.findChildren(QPushButton) if b.text() == "Remove")
    assert not remove.isEnabled() and not panel.stop_button.isEnabled()  # nothing to act on
    panel.add_model("gpt-4o-mini")
    panel.models.setCurrentRow(0)
    assert remove.isEnabled()
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: asked.append("file") or ("", ""))
    panel._export_dialog()
    assert asked == [] and panel.status.text() == "Evaluate first: there are no answers to export."
    release = asyncio.Event()

    async def slow_plan(*_: object, **__: object) -> None:
        await release.wait()
        raise VoxdeskError("No prompts.")

    monkeypatch.setattr(evaluation, "plan_evaluation", slow_plan)
    panel.dataset.addItem("support")

    async def scenario() -> bool:
        panel.background.run(panel.run_evaluation())
        await asyncio.sleep(0)
        running = panel.stop_button.isEnabled()
        release.set()
        await panel.background.settle()
        return running

    assert qloop.run_until_complete(scenario())
    assert not panel.stop_button.isEnabled()
    qloop.run_until_complete(panel.shutdown())


@pytest.mark.timeout(60)  # asked with exec(), tasks lost their turn for good: it hung
def test_the_bot_and_the_window_go_on_while_a_fine_tune_asks_to_be_confirmed(
    qloop: asyncio.AbstractEventLoop,
    page_and_server: tuple[FineTunePage, FakeOpenAI],  # noqa: F811
) -> None:
    page, _ = page_and_server
    ticks = 0
    while_asked: list[int] = []

    async def heartbeat() -> None:  # any other task on the loop: the bot's heartbeat, a reply
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    user = QTimer()  # Qt's, not a task: it reads and answers under exec() as well
    seen: list[tuple[float, int]] = []  # when the question showed, and the ticks then

    def read_then_answer() -> None:
        box = page.findChild(QMessageBox)
        if box is None or not box.isVisible():
            return
        if not seen:
            seen.append((time.monotonic(), ticks))
        elif time.monotonic() - seen[0][0] > 0.3:  # the user read the cost: Yes
            while_asked.append(ticks - seen[0][1])
            user.stop()
            box.button(QMessageBox.StandardButton.Yes).click()

    user.timeout.connect(read_then_answer)

    async def scenario() -> None:
        beating = asyncio.ensure_future(heartbeat())
        user.start(20)
        try:
            job_id = await asyncio.wait_for(page.start_job(), 20)
        finally:
            beating.cancel()
        await asyncio.wait_for(page.wait_for(job_id), 30)
        await page.background.settle()

    qloop.run_until_complete(scenario())
    assert while_asked and while_asked[0] >= 10  # the loop went on while the question was open


def test_a_long_message_in_the_feed_keeps_its_time_and_place_in_view(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = discord_page.DiscordPage(services)
    qtbot.addWidget(page)
    page.resize(940, 640)
    page.show()
    qtbot.waitExposed(page)
    place = Place(1, "Guild", 2, "general")
    page.feed.add(MessageSeen(place, 3, 4, "alice", "Hi."))
    page.feed.add(BridgeError(place, "The voice could not speak: " + "no voice, " * 40))
    qtbot.wait(50)
    assert page.table.horizontalScrollBar().maximum() == 0  # no scrolling sideways to read


def test_join_voice_says_it_is_joining_while_discord_answers(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = discord_page.DiscordPage(services)
    qtbot.addWidget(page)
    answered = asyncio.Event()

    class SlowBridge:
        async def join(self, channel_id: int) -> None:
            await answered.wait()

        def guilds(self) -> list[GuildInfo]:
            return [GuildInfo(1, "Guild", (ChannelInfo(2, "Voice", voice=True),))]

    page.attach(SlowBridge())  # type: ignore[arg-type]
    page.refresh_places()
    page.tree.setCurrentIndex(page.places.item(0).child(0).index())
    page.join()
    assert page.status.text() == "Joining the voice channel…"  # not the last thing said
    answered.set()
    qloop.run_until_complete(page.background.settle())
    assert page.status.text() == "Joined."
