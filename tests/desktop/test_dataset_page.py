"""The Dataset page on a real store: import, review, edit, validate, export, paging."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from voxdesk.core.services import Services
from voxdesk.core.training import validator
from voxdesk.core.training.evaluate import hold_out
from voxdesk.core.training.store import NewExample, Status
from voxdesk.core.work import Cancelled
from voxdesk.desktop.examples import PAGE
from voxdesk.desktop.pages import dataset as dataset_page
from voxdesk.desktop.pages.dataset import DatasetPage


def chat(i: int, reply: str = "") -> str:
    return json.dumps({"messages": [
        {"role": "system", "content": "Be kind"}, {"role": "user", "content": f"Вопрос {i}?"},
        {"role": "assistant", "content": reply or f"Ответ {i}."}]}, ensure_ascii=False)  # fmt: skip


def page_with_data(qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services,
                   tmp_path: Path) -> DatasetPage:  # fmt: skip
    lines = [chat(i) for i in range(12)] + ["{broken"]
    source = tmp_path / "train.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = DatasetPage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.import_path(source, "bot"))
    # approved by hand: an import keeps neither (a repeat is rejected, a secret is to fix)
    approved = [chat(1), chat(99, "my key is sk-abcdefghijklmnopqrstuvwxyz123")]
    added = [NewExample(json.loads(line), status=Status.APPROVED) for line in approved]
    qloop.run_until_complete(services.datasets.add("bot", added))
    qloop.run_until_complete(page.refresh(select="bot"))
    return page


def test_import_shows_the_dataset_and_reports_bad_lines(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = page_with_data(qloop, qtbot, services, tmp_path)
    assert page.status.text() == ("Imported 12 examples into 'bot' from 13 lines; 1 rejected. "
                                  "First: line 13, not valid JSON (unexpected character, expected "
                                  "a string key).")  # fmt: skip
    assert page.datasets.item(0).text() == "bot\n14 approved, 0 to review"
    assert page.examples.rowCount() == 14
    assert page.examples.data(page.examples.index(0, 3)) == "Вопрос 0?"


def test_review_candidates_and_edit(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = page_with_data(qloop, qtbot, services, tmp_path)
    store = services.datasets
    for wrong, right in (("Берлин", "Париж"), ("Мадрид", "Лиссабон")):
        qloop.run_until_complete(store.add_correction(
            "bot", conversation=[{"role": "user", "content": "Столица?"}], wrong_reply=wrong,
            corrected_reply=right))  # fmt: skip
    page.status_filter.setCurrentText("candidate")
    qloop.run_until_complete(page.background.settle())
    assert page.examples.rowCount() == 2
    rejected_id = page.examples.rows[0].id
    page.table.selectRow(0)
    page.reject()
    qloop.run_until_complete(page.background.settle())
    assert qloop.run_until_complete(store.get(rejected_id)).status == "rejected"
    assert page.examples.rowCount() == 1  # the reviewed one left the "candidate" view

    page.table.selectRow(0)
    page.edit_selected("{not json")
    qloop.run_until_complete(page.background.settle())
    assert page.status.text().startswith("That is not valid JSON")
    fixed = {"messages": [{"role": "user", "content": "Столица Португалии?"},
                          {"role": "assistant", "content": "Лиссабон"}]}  # fmt: skip
    edited_id = page.examples.rows[0].id
    page.edit_selected(json.dumps(fixed, ensure_ascii=False))
    qloop.run_until_complete(page.background.settle())
    assert page.examples.rows[0].messages[0]["content"] == "Столица Португалии?"
    page.table.selectRow(0)
    page.approve()
    qloop.run_until_complete(page.background.settle())
    edited = qloop.run_until_complete(store.get(edited_id))
    assert edited.status == "approved" and edited.messages[0]["content"] == "Столица Португалии?"
    assert page.datasets.item(0).text() == "bot\n15 approved, 0 to review"


def test_approving_an_example_that_needs_fixing_says_so(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    """Core tells what still fails validation in what was approved; the page said only
    'Approved 1 example(s).'"""
    page = page_with_data(qloop, qtbot, services, tmp_path)
    unanswered = {"messages": [{"role": "user", "content": "Столица Испании?"}]}
    qloop.run_until_complete(
        services.datasets.add("bot", [NewExample(unanswered, status=Status.CANDIDATE)])
    )
    page.status_filter.setCurrentText("candidate")
    qloop.run_until_complete(page.background.settle())
    page.table.selectRow(0)
    page.approve()
    qloop.run_until_complete(page.background.settle())
    assert page.status.text().startswith("Approved 1 of 1 examples. To fix before fine-tuning:")


def test_validation_findings_select_their_example(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = page_with_data(qloop, qtbot, services, tmp_path)
    qloop.run_until_complete(page.validate())
    texts = [page.findings.item(i).text() for i in range(page.findings.rowCount())]
    secret = next(i for i, text in enumerate(texts) if "OpenAI API key" in text)
    # the repeat names the example it repeats, not a line of the file validated behind the scenes
    repeat = next(text for text in texts if "same as example" in text)
    assert "line" not in repeat
    qloop.run_until_complete(page.show_finding(secret))
    (selected,) = page.selected_examples()
    assert "sk-abcdef" in json.dumps(selected.record)
    assert "ready to fine-tune" in page.report.text()


def test_export_writes_the_approved_examples(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services, tmp_path: Path
) -> None:
    page = page_with_data(qloop, qtbot, services, tmp_path)
    target = tmp_path / "out" / "bot.jsonl"
    qloop.run_until_complete(page.export_to(target))
    assert len(target.read_text(encoding="utf-8").splitlines()) == 14
    assert page.status.text().startswith("Exported 14 examples to train on in bot.jsonl")

    qloop.run_until_complete(hold_out(services.datasets, "bot", 0.2, seed=1))
    qloop.run_until_complete(page.export_to(target))
    held_out = target.with_name("bot.validation.jsonl")
    count = len(held_out.read_text(encoding="utf-8").splitlines())
    assert count > 0 and f"{count} held out in bot.validation.jsonl" in page.status.text()


def test_large_datasets_load_page_by_page(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    examples = [NewExample(json.loads(chat(i)), status=Status.APPROVED) for i in range(1000)]
    qloop.run_until_complete(services.datasets.add("big", examples))
    page = DatasetPage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.refresh())
    qloop.run_until_complete(page.load())
    assert page.examples.rowCount() == PAGE and page.examples.total == 1000
    assert page.examples.canFetchMore(page.examples.index(-1, -1))
    page.table.scrollToBottom()  # the view asks for the next page
    page.examples.fetchMore(page.examples.index(-1, -1))
    qloop.run_until_complete(page.examples._loading)  # type: ignore[arg-type]
    assert page.examples.rowCount() == 2 * PAGE


def test_cancel_stops_a_validation_and_an_import(
    qloop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    services: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = page_with_data(qloop, qtbot, services, tmp_path)
    validating, stopped = threading.Event(), threading.Event()

    def long_validation(path: Path, *, cancelled: threading.Event,
                        progress: Callable[[int, int], None], **_: Any) -> None:  # fmt: skip
        progress(1, 4)
        validating.set()
        if cancelled.wait(30):  # a large file, until Cancel is pressed
            stopped.set()
        raise Cancelled

    importing = asyncio.Event()

    async def long_import(*_: Any, progress: Callable[[int, int], None], **__: Any) -> None:
        progress(10, 100)
        importing.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(validator, "validate_file", long_validation)
    monkeypatch.setattr(dataset_page, "import_file", long_import)

    async def scenario() -> None:
        page.background.run(page.validate())
        await asyncio.to_thread(validating.wait, 30)
        assert not page.working.isHidden() and page.progress.value() == 25
        page.cancel_button.click()
        await page.background.settle()
        assert page.working.isHidden() and page.status.text() == "Validation cancelled."
        assert await asyncio.to_thread(stopped.wait, 5)  # the worker thread was told to stop

        page.background.run(page.import_path(tmp_path / "more.jsonl", "bot"))
        await asyncio.wait_for(importing.wait(), 30)
        assert not page.working.isHidden() and page.progress.value() == 10
        page.cancel_button.click()
        await page.background.settle()
        assert page.working.isHidden()
        assert page.status.text().startswith("Import cancelled")

    qloop.run_until_complete(scenario())
    assert page.datasets.item(0).text() == "bot\n14 approved, 0 to review"  # refreshed, intact
    gc.collect()  # the abandoned worker's future: its Cancelled must not be reported as lost
    assert "never retrieved" not in caplog.text


def test_validation_reads_every_example_without_loading_the_table(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    lines = [chat(i) for i in range(1000)]
    lines[900] = chat(900, "my key is sk-abcdefghijklmnopqrstuvwxyz123")
    examples = [NewExample(json.loads(line), status=Status.APPROVED) for line in lines]
    qloop.run_until_complete(services.datasets.add("big", examples))
    page = DatasetPage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.refresh())
    qloop.run_until_complete(page.validate())
    assert page.report.text().startswith("1000 examples")
    assert page.examples.rowCount() == PAGE  # validating did not fill the table
    texts = [page.findings.item(i).text() for i in range(page.findings.rowCount())]
    secret = next(i for i, text in enumerate(texts) if "OpenAI API key" in text)
    qloop.run_until_complete(page.show_finding(secret))  # loads pages until its row is there
    (selected,) = page.selected_examples()
    assert "sk-abcdef" in json.dumps(selected.record)
