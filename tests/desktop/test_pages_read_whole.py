"""At the window's first size (1100×720) every page reads whole: no button or header cut, no
column pushed out of view by another, the chart's legend beside the curves rather than over them,
one x for every settings field; and the job actions are only enabled when they can act."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QHeaderView, QTableView, QWidget
from pytestqt.qtbot import QtBot

from tests.desktop.test_layout_fits import shown, squeezed
from voxdesk.core.services import Services
from voxdesk.core.training.jobs import JobRecord, JobSnapshot
from voxdesk.core.training.store import NewExample, Status
from voxdesk.desktop.pages.finetune import FineTunePage
from voxdesk.desktop.window import MainWindow

FIRST_SIZE = (1100, 720)  # MainWindow's size when no geometry was saved
JOB = JobRecord("ftjob-abc", "demo", "gpt-4o-mini-2024-07-18", "supervised", {}, "file-1", None,
                "running", None, None, None, "2026-12-01", "2026-12-01")  # fmt: skip


def headers_whole(table: QTableView) -> list[str]:
    """The column headers narrower than their text: none, where a table reads whole."""
    header, model = table.horizontalHeader(), table.model()
    metrics = header.fontMetrics()
    cut = []
    for column in range(model.columnCount()):
        text = str(model.headerData(column, Qt.Orientation.Horizontal))
        if header.sectionSize(column) < metrics.horizontalAdvance(text):
            cut.append(text)
    return cut


def fits_across(table: QTableView) -> bool:
    """Every column within the view's width: nothing to scroll sideways to."""
    header = table.horizontalHeader()
    return header.length() <= table.viewport().width()


def window(qtbot: QtBot, services: Services, page: int) -> MainWindow:
    main = MainWindow(services)
    shown(qtbot, main, FIRST_SIZE)
    main.sidebar.setCurrentRow(page)
    return main


def select(page: FineTunePage, *rows: int) -> None:
    selection = page.table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag
    selection.clearSelection()
    for row in rows:
        selection.setCurrentIndex(page.jobs.index(row, 0), flags.Select | flags.Rows)


def test_job_actions_act_only_on_a_job_whose_state_allows_them(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = window(qtbot, services, 3).finetune
    buttons = (page.pause_button, page.resume_button, page.cancel_job_button,
               page.compare_button, page.use_model_button, page.use_checkpoint_button)  # fmt: skip
    assert [button.isEnabled() for button in buttons] == [False] * 6  # no job selected
    paused = dataclasses.replace(JOB, id="ftjob-def", status="paused")
    done = dataclasses.replace(JOB, id="ftjob-ghi", status="succeeded", fine_tuned_model="ft:x")
    page.jobs.set_jobs([JOB, paused, done])
    assert not page.pause_button.isEnabled()  # the reset cleared the selection
    select(page, 0)
    assert page.pause_button.isEnabled() and page.cancel_job_button.isEnabled()
    assert not page.resume_button.isEnabled() and not page.use_model_button.isEnabled()
    select(page, 1)
    assert page.resume_button.isEnabled() and not page.pause_button.isEnabled()
    select(page, 2)
    assert page.use_model_button.isEnabled() and not page.cancel_job_button.isEnabled()
    assert not page.compare_button.isEnabled()
    select(page, 0, 2)
    assert page.compare_button.isEnabled()
    assert not page.track_button.isEnabled()  # the account's jobs: none listed, none selected
    page.remote_jobs.set_jobs([JobSnapshot("ftjob-xyz", "running", JOB.base_model, "f")], set())
    assert not page.track_button.isEnabled()
    page.remote_table.selectRow(0)
    assert page.track_button.isEnabled()
    qloop.run_until_complete(page.background.settle())  # the selected jobs shown


def test_the_fine_tunes_page_reads_whole(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = window(qtbot, services, 3).finetune
    page.jobs.set_jobs([JOB])
    select(page, 0)
    assert squeezed(page) == []  # "eply with checkpoi" was the last of six in one row
    for table in (page.table, page.checkpoint_table):
        assert headers_whole(table) == [] and fits_across(table)
        header = table.horizontalHeader()
        last = header.count() - 1  # a model's name: the room left, shortened in the middle
        assert header.sectionResizeMode(last) is QHeaderView.ResizeMode.Stretch
        assert table.textElideMode() is Qt.TextElideMode.ElideMiddle
    curves = page.chart.getPlotItem().vb.sceneBoundingRect()
    legend = page.legend.sceneBoundingRect()
    assert not legend.intersects(curves) and legend.top() >= curves.bottom()
    qloop.run_until_complete(page.background.settle())  # the selected job shown


def test_the_record_page_keeps_every_column_after_a_failure(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = window(qtbot, services, 0).record
    bad = tmp_path / "a rather long name for a voice message, kept as it came.ogg"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    qloop.run_until_complete(page.transcribe_files([bad]))
    table, model = page.files.table, page.files.model
    assert model.data(model.index(0, 2)) == "failed"  # not the whole error: it pushed the rest
    assert str(model.data(model.index(0, 2), Qt.ItemDataRole.ToolTipRole)).startswith(bad.name)
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole) == str(bad)
    assert table.textElideMode() is Qt.TextElideMode.ElideMiddle  # "a rather…it came.ogg"
    assert headers_whole(table) == [] and fits_across(table)
    question = page.question
    assert question.width() >= question.fontMetrics().horizontalAdvance(question.placeholderText())


def test_the_dataset_table_shows_its_note_column(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    record = {"messages": [{"role": "user", "content": "What is 2+2?"},
                           {"role": "assistant", "content": "4"}]}  # fmt: skip
    qloop.run_until_complete(
        services.datasets.add("demo", [NewExample(record, note="from a call")])
    )
    main = window(qtbot, services, 2)
    qloop.run_until_complete(main.dataset.refresh(select="demo"))
    table = main.dataset.table
    assert headers_whole(table) == [] and fits_across(table)


def test_every_settings_field_starts_at_one_x(qtbot: QtBot, services: Services) -> None:
    page = window(qtbot, services, 4).settings_page
    fields: list[QWidget] = [editor.widget for editor in page.editors.values()]
    fields += list(page.secret_inputs.values())
    starts = {field.mapTo(page, field.rect().topLeft()).x() for field in fields}
    assert len(starts) == 1, starts


def test_the_estimate_says_its_errors_in_words_and_where(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = FineTunePage(services)
    qtbot.addWidget(page)
    good = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    no_content = {"messages": [{"role": "user"}, {"role": "assistant", "content": "A"}]}
    wizard = {
        "messages": [{"role": "wizard", "content": "5"}, {"role": "assistant", "content": "A"}]
    }
    path = tmp_path / "own.jsonl"
    rows = [good] * 10 + [no_content, wizard]  # lines 11 and 12
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    page.file.setText(str(path))
    qloop.run_until_complete(page.estimate())
    said = page.estimate_label.text()
    assert "line 11 (a message lacks 'role' or 'content', a message has no text" in said
    assert "line 12 (a message has an unknown role)" in said
    assert "unrecognized_role" not in said and "message_missing_key" not in said
    page.file.clear()  # from a dataset: named by example id, not by a line of its export
    ids = qloop.run_until_complete(services.datasets.add(
        "demo", [NewExample(row, status=Status.APPROVED) for row in (good, wizard, wizard)]
    ))  # fmt: skip
    page.dataset.addItem("demo")
    page.validation.setValue(0)
    qloop.run_until_complete(page.estimate())
    said = page.estimate_label.text()
    assert f"example {ids[1]} (a message has an unknown role); example {ids[2]} (" in said
    assert "the API needs at least 10" in said  # too few: the file's own finding, in words
    assert "line" not in said and "Fix or reject them on the Dataset page." in said
