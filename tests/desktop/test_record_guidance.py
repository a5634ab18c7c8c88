"""The Record page shows the file just transcribed, and its errors say what to do in the window:
a missing key leads to the Settings field, a missing microphone keeps the transcript in view."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.conftest import clip
from voxdesk.core.audio import MicrophoneSource
from voxdesk.core.config import Secret
from voxdesk.core.services import Services
from voxdesk.core.stt import Timings, Transcript
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage
from voxdesk.desktop.window import MainWindow


def earlier(tmp_path: Path) -> TranscriptHistory:
    """A history of two transcripts made before this start, "second" the newest."""
    history = TranscriptHistory(tmp_path / "history.json")
    for name in ("first.wav", "second.wav"):
        history.add(name, Transcript(f"words of {name}", "en", "whisper", Timings(1.0, 0.1)))
    return history


@pytest.mark.slow
def test_the_file_just_transcribed_is_shown_unless_another_was_chosen_meanwhile(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = RecordPage(services, earlier(tmp_path))
    qtbot.addWidget(page)
    page.language.setCurrentText("en")
    assert page.selected().source == "second.wav"  # type: ignore[union-attr]
    stars = clip("deepspeech_new_home_in_the_stars.wav").path

    async def transcribed(reading: int | None = None) -> None:
        page.queue_files([stars])  # as `voxdesk open FILE` and Ctrl+O do
        if reading is not None:
            page.list.setCurrentIndex(page.history.index(reading))  # the user reads it meanwhile
        await asyncio.wait_for(page.queue.wait(), 120)

    qloop.run_until_complete(transcribed())
    assert page.selected().source == stars.name  # type: ignore[union-attr]
    assert "stars" in page.text.toPlainText().lower()
    assert stars.name in page.details.text()

    qloop.run_until_complete(transcribed(reading=1))  # "second"
    assert page.history.entries[0].source == stars.name
    assert page.selected().source == "second.wav"  # type: ignore[union-attr]
    assert page.text.toPlainText() == "words of second.wav"
    qloop.run_until_complete(page.shutdown())


def test_no_microphone_is_said_plainly_and_the_transcript_stays(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path,
    fake_sounddevice: types.ModuleType,
) -> None:  # fmt: skip
    fake_sounddevice.query_devices = lambda: []  # type: ignore[attr-defined]
    page = RecordPage(services, earlier(tmp_path))
    qtbot.addWidget(page)
    qloop.run_until_complete(page.record_microphone(MicrophoneSource("missing")))
    assert page.status.text().startswith("No microphone was found: connect one")
    assert "voxdesk devices" not in page.status.text()
    assert "Error querying device -1" in page.status.toolTip()  # PortAudio's words, if wanted
    assert page.text.toPlainText() == "words of second.wav"
    assert page.details.text().startswith("second.wav")
    assert page.record_button.text() == "● Record" and not page.record_button.isChecked()


def test_a_missing_key_leads_to_the_settings_field(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    window = MainWindow(services)
    qtbot.addWidget(window)
    page = window.record
    page.question.setText("hello")
    qloop.run_until_complete(page.ask())
    said = page.status.text()
    assert "OpenAI API key" in said and "Settings" in said
    assert "set-secret" not in said and "environment" not in said
    assert page.question.text() == "hello"  # kept, to ask again once the key is stored
    window.show()
    qtbot.waitExposed(window)
    page.status.linkActivated.emit(f"settings:{Secret.OPENAI_API_KEY.value}")
    assert window.pages.currentWidget() is window.settings_page
    field = window.settings_page.secret_inputs[Secret.OPENAI_API_KEY]
    qtbot.waitUntil(field.hasFocus)
    qloop.run_until_complete(window.shutdown())
