"""The Fine-tunes page as a studio: validation curves with gaps and full-validation points,
checkpoints as reply models, runs compared, pause and resume, the account's jobs, and models
evaluated side by side, against the loopback OpenAI."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPointF
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings, load_settings
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.services import Services
from voxdesk.core.training.evaluate import evaluate_reply_model
from voxdesk.core.training.store import NewExample, Status
from voxdesk.desktop import evaluation
from voxdesk.desktop.pages.finetune import FineTunePage

BASE = "gpt-4o-mini-2024-07-18"
TUNED = "ft:gpt-4o-mini-2024-07-18:voxdesk-test:bot:abc123"


@pytest.fixture
def studio(qloop: asyncio.AbstractEventLoop, qtbot: QtBot,
           tmp_path: Path) -> Iterator[tuple[FineTunePage, FakeOpenAI]]:  # fmt: skip
    server = qloop.run_until_complete(FakeOpenAI(steps=3).start())
    settings = Settings()
    settings.openai.base_url = server.base_url
    settings.openai.job_poll_seconds = 0.01
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}),
                        settings_path=tmp_path / "settings.toml")  # fmt: skip
    examples = [NewExample({"messages": [{"role": "user", "content": f"Вопрос {i}?"},
                                         {"role": "assistant", "content": f"Ответ {i}."}]},
                           status=Status.APPROVED, tags=["validation"] if i < 4 else [])
                for i in range(16)]  # 12 to train on: tagged ones are held out  # fmt: skip
    qloop.run_until_complete(services.datasets.add("bot", examples))
    correction = qloop.run_until_complete(services.datasets.add_correction(
        "bot", conversation=[{"role": "user", "content": "Вопрос 99?"}],
        wrong_reply="Не знаю.", corrected_reply="Ответ 99.",
    ))  # fmt: skip
    qloop.run_until_complete(services.datasets.update(correction, tags=["validation"]))
    page = FineTunePage(services)
    qtbot.addWidget(page)
    qloop.run_until_complete(page.start())
    yield page, server
    qloop.run_until_complete(page.shutdown())
    qloop.run_until_complete(services.close())
    problems = server.spec_problems()
    qloop.run_until_complete(server.stop())
    assert problems == []


def learnt(messages: list[dict[str, Any]]) -> str:
    return messages[-1]["content"].replace("Вопрос", "Ответ").replace("?", ".")


def test_models_side_by_side_with_a_summary_and_an_export(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI], tmp_path: Path
) -> None:
    page, server = studio
    panel = page.evaluation
    server.models.add(TUNED)
    server.answers[TUNED] = learnt
    panel.add_model(BASE)
    panel.add_model(TUNED)
    panel.add_model(BASE)  # once is enough
    assert panel.chosen_models() == [BASE, TUNED]
    assert panel.dataset.currentText() == "bot"

    result = qloop.run_until_complete(panel.run_evaluation(confirm=False))

    table = panel.answers
    assert (table.rowCount(), table.columnCount()) == (5, 3 + 2 * 3)
    header = [table.headerData(c, _horizontal()) for c in range(table.columnCount())]
    assert header[:6] == ["Prompt", "Reference", "Bot's original", BASE, "similarity", "verdict"]
    assert header[6] == "bot:abc123"  # a fine-tuned model by its suffix and id
    cells = [[table.data(table.index(r, c)) for c in range(9)] for r in range(5)]
    assert cells[0][:5] == ["Вопрос 0?", "Ответ 0.", "", server.reply, cells[0][4]]
    assert cells[0][6:8] == ["Ответ 0.", "100.0"]
    assert cells[4][:3] == ["Вопрос 99?", "Ответ 99.", "Не знаю."]  # the bot's original
    assert panel.progress.value() == panel.progress.maximum() == 10
    summary = panel.summary
    rows = [[summary.data(summary.index(r, c)) for c in range(9)] for r in range(2)]
    assert rows[1][:5] == [TUNED, "5", "0", "100.0", "5"] and rows[1][8] == "1/1"
    assert rows[0][4] == "0" and rows[0][8] == "0/1"
    assert result.state == "finished"

    exported = qloop.run_until_complete(panel.export(tmp_path / "answers.csv"))
    with exported.open(newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 10


def test_the_cost_is_confirmed_before_any_answer(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    page, server = studio
    asked: list[str] = []

    async def decline(box: QMessageBox) -> bool:
        asked.append(box.text())
        return False

    monkeypatch.setattr(evaluation, "answered_yes", decline)
    page.evaluation.add_model(BASE)
    with pytest.raises(VoxdeskError, match="Not started"):
        qloop.run_until_complete(page.evaluation.run_evaluation())
    assert "5 prompts × 1 models: 5 requests" in asked[0] and "estimated at" in asked[0]
    assert server.chat_requests == []


def test_stop_keeps_and_sums_up_the_answers_so_far(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI]
) -> None:
    page, server = studio
    panel = page.evaluation
    server.reply_delay = 0.1
    panel.add_model(BASE)
    panel.concurrency.setValue(1)

    async def scenario() -> None:
        two = asyncio.Event()
        panel.progress.valueChanged.connect(lambda done: done >= 2 and two.set())
        panel.background.run(panel.run_evaluation(confirm=False))
        await two.wait()
        panel.stop()
        await panel.background.settle()

    qloop.run_until_complete(scenario())
    heard = len(panel.answers.answers)
    assert 2 <= heard < 5
    assert panel.summary.data(panel.summary.index(0, 1)) == str(heard)
    assert page.status.text() == f"Stopped after {heard} answers; they are kept."
    history = panel.history  # listed as soon as it stopped, as it ended
    assert [history.data(history.index(0, c)) for c in (3, 4)] == ["cancelled", str(heard)]


def test_past_evaluations_are_listed_newest_first_and_shown_again(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI], tmp_path: Path
) -> None:
    page, server = studio
    panel, history = page.evaluation, page.evaluation.history
    server.models.add(TUNED)
    server.answers[TUNED] = learnt
    panel.add_model(BASE)
    panel.limit.setValue(2)
    first = qloop.run_until_complete(panel.run_evaluation(confirm=False))
    panel.add_model(TUNED)
    panel.limit.setValue(0)  # all five
    second = qloop.run_until_complete(panel.run_evaluation(confirm=False))

    rows = [[history.data(history.index(r, c)) for c in range(5)] for r in range(2)]
    assert rows[0][1:] == ["bot / validation", f"{BASE}, bot:abc123", "finished", "5"]
    assert rows[1][1:] == ["bot / validation", BASE, "finished", "2"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[0]) for row in rows)
    assert [r.id for r in history.rows] == [second.id, first.id]
    assert panel.history_scope.text() == "All evaluations, newest first"

    qloop.run_until_complete(page.services.datasets.delete([first.plan.cases[1].example_id]))
    panel.history_table.selectRow(1)  # loads in the background
    qloop.run_until_complete(panel.background.settle())
    table, summary = panel.answers, panel.summary
    assert (table.rowCount(), table.columnCount()) == (2, 3 + 3)
    assert [table.data(table.index(0, c)) for c in (0, 1, 3)] == ["Вопрос 0?", "Ответ 0.",
                                                                  server.reply]  # fmt: skip
    gone = first.plan.cases[1].example_id
    assert table.data(table.index(1, 0)) == f"(example {gone} is no longer a prompt here)"
    assert table.data(table.index(1, 3)) == server.reply  # its answer is kept all the same
    assert summary.rowCount() == 1 and summary.data(summary.index(0, 1)) == "2"
    exported = qloop.run_until_complete(panel.export(tmp_path / "first.jsonl"))
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert [(row["example_id"], row["model"]) for row in lines] == \
        [(case.example_id, BASE) for case in first.plan.cases]  # fmt: skip

    panel.history_table.selectRow(0)
    qloop.run_until_complete(panel.background.settle())
    assert (table.rowCount(), table.columnCount()) == (5, 3 + 2 * 3)
    assert summary.data(summary.index(1, 8)) == "1/1"  # the correction learnt, as when it ran
    assert panel.result is not None and panel.result.id == second.id


def test_an_evaluation_run_elsewhere_is_listed_when_it_ends(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI]
) -> None:
    page, _ = studio
    history = page.evaluation.history

    async def bot_tests_two_prompts() -> int:
        listed = asyncio.Event()
        history.modelReset.connect(listed.set)
        result = await evaluate_reply_model(page.services, "bot", limit=2)  # what !test 2 runs
        await asyncio.wait_for(listed.wait(), 10)
        return result.id

    evaluation_id = qloop.run_until_complete(bot_tests_two_prompts())
    assert [record.id for record in history.rows] == [evaluation_id]
    assert [history.data(history.index(0, c)) for c in (3, 4)] == ["finished", "2"]


def test_the_selected_jobs_evaluations_are_listed(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI]
) -> None:
    page, _ = studio
    panel, history = page.evaluation, page.evaluation.history

    async def evaluated_a_job_and_its_base() -> tuple[str, str]:  # one loop run: jobs poll
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 30)
        tuned = next(job for job in page.jobs.jobs if job.id == job_id).fine_tuned_model
        assert tuned
        panel.limit.setValue(1)
        for model in (BASE, tuned):
            panel.models.clear()
            panel.add_model(model)
            await panel.run_evaluation(confirm=False)
        return job_id, tuned

    job_id, tuned = qloop.run_until_complete(evaluated_a_job_and_its_base())
    assert len(history.rows) == 2

    page.select(job_id)
    page.tabs.setCurrentWidget(panel)
    qloop.run_until_complete(page.background.settle())
    assert [r.models for r in history.rows] == [(tuned,)]
    assert panel.history_scope.text() == f"Evaluations of {job_id}'s models, newest first"

    page.tabs.setCurrentIndex(0)
    page.table.setCurrentIndex(QModelIndex())  # no job selected: every evaluation
    page.tabs.setCurrentWidget(panel)
    qloop.run_until_complete(page.background.settle())
    assert [r.models for r in history.rows] == [(tuned,), (BASE,)]


def test_validation_curves_checkpoints_and_a_checkpoint_for_replies(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI], tmp_path: Path
) -> None:
    page, _ = studio
    page.validation.setValue(0.2)

    async def scenario() -> None:
        job_id = await page.start_job(confirm=False)
        await asyncio.wait_for(page.wait_for(job_id), 30)
        page.select(job_id)
        await page.show_job()

    qloop.run_until_complete(scenario())
    steps, valid = page.validation_loss_curve.getData()
    assert list(steps) == [1, 2, 3]
    assert [math.isnan(v) for v in valid] == [True, False, True]  # gaps stay gaps
    full_steps, full = page.full_validation_loss.getData()
    assert list(full_steps) == [3] and full[0] == pytest.approx(0.55)
    _, accuracy = page.validation_accuracy_curve.getData()
    assert not math.isnan(accuracy[1])

    view = page.chart.getPlotItem().vb
    page.chart.resize(600, 400)
    page._pointed(view.mapViewToScene(QPointF(2.2, 0.5)))
    assert page.hover.text().startswith("step 2: training loss 0.7500, accuracy ")
    assert "validation loss 0.9000" in page.hover.text()

    checkpoints = page.checkpoints.checkpoints
    assert [c.step for c in checkpoints] == [3, 2, 1]
    page.checkpoint_table.selectRow(1)
    qloop.run_until_complete(page.use_checkpoint())
    chosen = checkpoints[1].model
    assert load_settings(tmp_path / "settings.toml").assistant.model == chosen
    assert "step 2" in page.status.text()


def test_compare_runs_pause_resume_and_the_accounts_jobs(
    qloop: asyncio.AbstractEventLoop, studio: tuple[FineTunePage, FakeOpenAI]
) -> None:
    page, server = studio

    async def two_jobs() -> list[str]:
        page.epochs.setValue(2)
        first = await page.start_job(confirm=False)
        page.epochs.setValue(4)
        second = await page.start_job(confirm=False)
        for job_id in (first, second):
            await asyncio.wait_for(page.wait_for(job_id), 30)
        return [first, second]

    first, second = qloop.run_until_complete(two_jobs())
    page.table.selectAll()
    qloop.run_until_complete(page.compare_selected())
    assert len(page.compare_chart.getPlotItem().listDataItems()) == 4
    table = page.compare_table
    labels = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    epochs = labels.index("n_epochs")
    by_job = {table.horizontalHeaderItem(c).text(): table.item(epochs, c).text()
              for c in range(table.columnCount())}  # fmt: skip
    assert by_job == {first: "2", second: "4"}
    assert page.tabs.currentWidget() is page.tabs.widget(1)
    page.tabs.setCurrentWidget(page.evaluation)  # finished jobs' models are offered there
    qloop.run_until_complete(page.background.settle())
    offered = [page.evaluation.model_choice.itemText(i)
               for i in range(page.evaluation.model_choice.count())]  # fmt: skip
    assert {job.fine_tuned_model for job in page.jobs.jobs} <= set(offered)
    assert "ft:gpt-4o-mini-2024-07-18:ckpt-step-2" in offered

    async def dashboard_job_paused_and_resumed() -> str:  # started elsewhere, followed here
        file_id = server._new_id("file")
        server.files[file_id] = {"id": file_id}
        job = await page.services.fine_tuner.client.fine_tuning.jobs.create(
            model=BASE, training_file=file_id
        )
        await page.load_remote_jobs()
        assert page.remote_jobs.jobs[0].id == job.id
        assert page.remote_jobs.data(page.remote_jobs.index(0, 4)) == ""
        page.remote_table.selectRow(0)
        server.jobs[job.id].status = "running"
        server.steps = 10_000  # it runs on while it is paused and resumed
        await page.track_selected()
        assert page.remote_jobs.data(page.remote_jobs.index(0, 4)) == "yes"
        assert job.id in [record.id for record in page.jobs.jobs]
        page.table.clearSelection()
        page.select(job.id)
        await page.pause_selected()
        assert server.jobs[job.id].status == "paused"
        assert next(j for j in page.jobs.jobs if j.id == job.id).status == "paused"
        with pytest.raises(VoxdeskError, match="only a running job can be paused"):
            await page.pause_selected()
        await page.resume_selected()
        assert server.jobs[job.id].status == "running"
        server.steps = 0  # it ends, and so does following it
        await asyncio.wait_for(page.wait_for(job.id), 30)
        return job.id

    remote = qloop.run_until_complete(dashboard_job_paused_and_resumed())
    assert next(j for j in page.jobs.jobs if j.id == remote).status == "succeeded"


def _horizontal() -> Any:
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal
