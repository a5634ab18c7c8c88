"""At the README screenshots' size (a 1180×720 window), no button is squeezed below its text
and the evaluation's summary shows every model compared: what docs/make_screenshots.py showed
clipped before."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

from PySide6.QtWidgets import QPushButton, QTableView, QWidget
from pytestqt.qtbot import QtBot

from tests.desktop.test_editor import TRANSCRIPT, FakeOutput
from voxdesk.core.services import Services
from voxdesk.desktop.editor import TranscriptEditor
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.window import MainWindow

WINDOW = (1180, 720)


def squeezed(widget: QWidget) -> list[str]:
    """The visible buttons narrower than their text needs."""
    return [button.text() for button in widget.findChildren(QPushButton)
            if button.isVisible() and button.width() < button.sizeHint().width()]  # fmt: skip


def shown(qtbot: QtBot, widget: QWidget, size: tuple[int, int]) -> None:
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)


def test_the_record_and_fine_tune_pages_keep_their_buttons_whole(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services,
    fake_sounddevice: types.ModuleType,  # a microphone to pick, as on a real desk
) -> None:  # fmt: skip
    services.settings.speech.engine = "whisper"
    window = MainWindow(services)
    shown(qtbot, window, WINDOW)
    combo = window.record.model.combo
    assert combo.isVisible()
    assert combo.width() > combo.fontMetrics().horizontalAdvance(combo.currentText())
    assert squeezed(window.record) == []
    window.sidebar.setCurrentRow(3)
    page = window.finetune
    assert squeezed(page.tabs.widget(0)) == []
    page.tabs.setCurrentWidget(page.evaluation)
    table = next(t for t in page.evaluation.findChildren(QTableView)
                 if t.model() is page.evaluation.summary)  # fmt: skip
    two_rows = 2 * table.verticalHeader().defaultSectionSize()
    assert table.viewport().height() >= two_rows


def test_the_editors_search_shows_its_whole_hint(qtbot: QtBot, tmp_path: Path) -> None:
    history = TranscriptHistory(tmp_path / "history.json")
    history.add("kenobi.wav", TRANSCRIPT)
    editor = TranscriptEditor(history, history.entries[0], output=FakeOutput)
    shown(qtbot, editor, (1000, 560))
    search = editor.search
    assert search.width() >= search.fontMetrics().horizontalAdvance(search.placeholderText())
