"""The Record page's Translate switch: files and recordings become English text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.conftest import clip
from voxdesk.core.audio import FileSource
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage

FRENCH = "speechrec_french.aiff"  # "et c'est la dictée numéro 1"


def page_with_translate(qtbot: QtBot, services: object, tmp_path: Path) -> RecordPage:
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.language.setCurrentText("auto")
    assert not page.translate.isChecked()  # off unless asked for
    page.translate.click()  # as the user would
    assert page.translate.isChecked()
    return page


@pytest.mark.slow
def test_a_translated_file_is_english(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    page = page_with_translate(qtbot, services, tmp_path)
    qloop.run_until_complete(page.transcribe_files([clip(FRENCH).path]))
    assert "dictation number" in page.text.toPlainText().lower()
    assert page.selected() is not None and page.selected().transcript.language == "fr"


@pytest.mark.slow
def test_a_recording_is_translated_live(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    page = page_with_translate(qtbot, services, tmp_path)
    french = qloop.run_until_complete(clip(FRENCH).decode())
    qloop.run_until_complete(page.record_microphone(FileSource(french, block_seconds=0.5)))
    assert "dictation" in page.text.toPlainText().lower()


def test_an_engine_that_cannot_translate_says_so(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: object, tmp_path: Path
) -> None:
    page = page_with_translate(qtbot, services, tmp_path)
    page.engine.setCurrentText("google")
    qloop.run_until_complete(page.transcribe_files([clip(FRENCH).path]))
    assert page.status.text() == (
        "0 of 1 transcribed. The google engine cannot translate. "
        "Choose whisper or openai to translate speech into English."
    )
    assert page.history.rowCount() == 0
