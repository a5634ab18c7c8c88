"""The Record page's live transcript, from the fake microphone speaking a corpus clip."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from bench.scoring import error_counts
from tests.conftest import clip
from tests.fakes.sounddevice import FakeStream
from voxdesk.core.audio import Pcm
from voxdesk.core.services import Services
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage

Fragments = list[tuple[str, bool]]  # (text, in the lighter colour)


def fragments(edit: QPlainTextEdit) -> Fragments:
    light = edit.palette().color(QPalette.ColorRole.PlaceholderText)
    found = []
    block = edit.document().begin()
    while block.isValid():
        for item in block:
            fragment = item.fragment()
            found.append((fragment.text(), fragment.charFormat().foreground().color() == light))
        block = block.next()
    return found


@pytest.mark.slow
def test_words_appear_while_speaking_and_the_finals_are_the_transcript(
    qloop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    services: Services,
    tmp_path: Path,
    fake_sounddevice: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    item = clip("pocketsphinx_librivox_0870.wav")
    speech = qloop.run_until_complete(item.decode())
    FakeStream.speech = Pcm.concatenate([speech, Pcm(bytes(16_000))]).data
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))
    qtbot.addWidget(page)
    page.engine.setCurrentText("whisper")
    page.language.setCurrentText("en")
    whole_take_passes: list[object] = []
    monkeypatch.setattr(services.speech, "transcribe_pcm", whole_take_passes.append)
    shown: list[Fragments] = []  # the live text each time it changed while recording
    page.text.textChanged.connect(
        lambda: page.record_button.text() == "■ Stop" and shown.append(fragments(page.text))
    )

    async def speak_then_stop() -> None:
        page.record_button.setChecked(True)
        await asyncio.to_thread(FakeStream.opened.wait, 30)
        await asyncio.to_thread(FakeStream.instances[0].spoken.wait, 60)
        page.record_button.setChecked(False)  # Stop, as soon as the clip was said
        assert page._job is not None
        await page._job

    qloop.run_until_complete(asyncio.wait_for(speak_then_stop(), 120))
    partial_shown = [text for snapshot in shown for text, light in snapshot if light and text]
    assert len(partial_shown) >= 2  # the guess was shown, lighter, while speaking
    final_shown = "".join(text for text, light in shown[-1] if not light)
    assert not any(light and text for text, light in shown[-1])  # after Stop all is final
    entry = page.selected()
    assert entry is not None and page.history.rowCount() == 1
    assert entry.transcript.text.split() == final_shown.split()  # the finals, not a new pass
    assert whole_take_passes == []
    assert error_counts(item.reference, entry.transcript.text)[0] <= 2
    assert FakeStream.instances[0].closed  # the microphone was released
    assert page.record_button.text() == "● Record"


def test_another_engine_records_then_transcribes(
    qloop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    services: Services,
    tmp_path: Path,
    fake_sounddevice: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))
    qtbot.addWidget(page)
    page.engine.setCurrentText("sphinx")
    taken: list[float] = []

    async def transcribe(name: str, audio: Pcm) -> None:
        taken.append(audio.duration)

    monkeypatch.setattr(page, "_transcribe", transcribe)

    async def record_then_stop() -> None:
        captured = asyncio.Event()  # the meter moves once blocks were recorded
        page.level.valueChanged.connect(lambda value: value > 0 and captured.set())
        page.record_button.setChecked(True)
        await captured.wait()
        assert "whisper" in page.status.text()  # says why there is no live text
        page.record_button.setChecked(False)
        assert page._job is not None
        await page._job

    qloop.run_until_complete(asyncio.wait_for(record_then_stop(), 30))
    assert len(taken) == 1 and taken[0] > 0
