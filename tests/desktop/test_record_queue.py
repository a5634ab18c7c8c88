"""The Record page's queue of files: statuses, Cancel and Retry, recording while it runs."""

from __future__ import annotations

import asyncio
import shutil
import types
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from tests.conftest import clip
from tests.core.test_whisper import long_audio
from tests.fakes.sounddevice import FakeStream
from voxdesk.core.audio import Pcm
from voxdesk.core.services import Services
from voxdesk.core.stt.queue import JobState
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage

STARS = "deepspeech_new_home_in_the_stars.wav"
LONG, BAD, LATER = range(3)  # rows of the queue


def statuses(page: RecordPage) -> list[str]:
    model = page.files.model
    return [str(model.data(model.index(row, 2))) for row in range(model.rowCount())]


def select(page: RecordPage, row: int) -> None:
    page.files.table.selectionModel().select(
        page.files.model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


@pytest.mark.slow
def test_three_files_one_bad_cancel_retry_and_record_while_the_queue_runs(
    qloop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    services: Services,
    tmp_path: Path,
    fake_sounddevice: types.ModuleType,
) -> None:
    services.settings.speech.whisper_model = "tiny.en"
    services.settings.speech.parallel_files = 1
    long = tmp_path / "long.wav"
    long.write_bytes(qloop.run_until_complete(long_audio()).to_wav())
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    later = tmp_path / "later.wav"  # on a disk not plugged in yet
    speech = qloop.run_until_complete(clip(STARS).decode())
    FakeStream.speech = Pcm.concatenate([speech, Pcm(bytes(16_000))]).data
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))
    qtbot.addWidget(page)
    page.engine.setCurrentText("whisper")
    page.language.setCurrentText("en")
    said: list[str] = []  # the status line, whose last words depend on what ends first
    say = page.status.say
    page.status.say = lambda text, **how: (said.append(text), say(text, **how))  # type: ignore[method-assign]

    async def scenario() -> None:
        under_way = asyncio.Event()
        page.queue.subscribe(lambda job: job.progress > 0 and under_way.set())
        page.queue_files([long, bad, later])
        assert statuses(page) == ["transcribing", "waiting", "waiting"]
        assert page.progress.isVisibleTo(page) and page.cancel_button.isEnabled()
        await under_way.wait()
        # record while the long file is transcribed: not refused as busy
        assert page.queue.jobs[LONG].state is JobState.TRANSCRIBING
        page.record_button.setChecked(True)
        assert "Busy" not in page.status.text()
        await asyncio.to_thread(FakeStream.opened.wait, 30)
        await asyncio.to_thread(FakeStream.instances[0].spoken.wait, 60)
        page.record_button.setChecked(False)
        assert page._job is not None
        await page._job
        assert page.history.rowCount() >= 1  # the recording, in the history
        await page.queue.wait()
        await asyncio.gather(*page._batches)  # the status sums the three up

    qloop.run_until_complete(asyncio.wait_for(scenario(), 240))
    long_status, bad_status, later_status = statuses(page)
    assert (long_status, bad_status, later_status) == ("done", "failed", "failed")
    model = page.files.model
    why = model.data(model.index(BAD, 2), Qt.ItemDataRole.ToolTipRole)
    assert why.startswith("bad.ogg is a PNG image")
    assert any(text.startswith("1 of 3 transcribed. bad.ogg is a PNG image") for text in said)
    assert "Recording transcribed." in said
    assert not page.progress.isVisibleTo(page)
    sources = sorted(entry.source for entry in page.history.entries)
    assert len(sources) == 2 and sources[0].startswith("Recording") and sources[1] == "long.wav"
    # the length column, once decoded
    duration = round(page.queue.jobs[LONG].duration or 0)
    assert duration > 40 and page.files.model.data(page.files.model.index(LONG, 1)) == (
        f"{duration // 60}:{duration % 60:02}"
    )

    # Retry the missing file once it is there; Cancel a waiting one
    shutil.copy(clip(STARS).path, later)

    async def retry_and_cancel() -> None:  # the buttons start work on the running loop
        select(page, LATER)
        assert page.files.retry_button.isEnabled() and not page.files.cancel_button.isEnabled()
        page.files.retry_button.click()
        select(page, BAD)
        page.files.retry_button.click()  # it would fail again, after the other
        assert statuses(page)[LATER] == "transcribing" and statuses(page)[BAD] == "waiting"
        assert page.files.cancel_button.isEnabled()
        page.files.cancel_button.click()
        assert statuses(page)[BAD] == "cancelled"
        await page.queue.wait()

    qloop.run_until_complete(asyncio.wait_for(retry_and_cancel(), 120))
    assert statuses(page) == ["done", "cancelled", "done"]
    assert page.history.rowCount() == 3
    newest = page.history.entries[0]
    assert newest.source == "later.wav" and "stars" in newest.transcript.text.lower()
    qloop.run_until_complete(page.shutdown())
