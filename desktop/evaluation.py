"""The Evaluate tab: models side by side on a dataset split's prompts, and a summary per model.

The tab collects what to evaluate, shows core's cost estimate for confirmation, and fills the
tables as answers arrive from ``core.training.evaluate``; Stop cancels the run (the answers so
far stay stored and summed up). Past evaluations, kept in the registry, are listed in a tab
beside the form (the selected job's, or all): choosing one shows its answers and summary again,
to read or export.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.events import EvaluationEnded, Subscription
from voxdesk.core.services import Services
from voxdesk.core.training.evaluate import (
    DEFAULT_SPLIT,
    NO_VERDICT,
    Answer,
    EvalPlan,
    EvalResult,
    EvaluationRecord,
    EvaluationStore,
    Limits,
    ModelSummary,
    Progress,
    dollars,
    evaluate,
    export_results,
    plan_evaluation,
    stored_result,
    summarize,
)
from voxdesk.core.training.pricing import price_table
from voxdesk.desktop.actions import (
    Actions,
    EnabledWhileRunning,
    StatusLine,
    answered_yes,
    yes_no,
)
from voxdesk.desktop.tables import RowsModel, row_table

Index = QModelIndex | QPersistentModelIndex
CASE_COLUMNS = ("Prompt", "Reference", "Bot's original")
PER_MODEL = ("answer", "similarity", "verdict")
VERDICT_COLOURS = {"correct": "#2e7d32", "partly": "#ef6c00", "wrong": "#c62828",
                   NO_VERDICT: "#757575"}  # fmt: skip


class AnswersModel(QAbstractTableModel):
    """One row a prompt: the prompt, its reference, the bot's original answer (corrections),
    then each model's answer, similarity and verdict (the reasoning as its tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self.plan: EvalPlan | None = None
        self.answers: dict[tuple[int, str], Answer] = {}
        self._rows: dict[int, int] = {}

    def reset(self, plan: EvalPlan, answers: Sequence[Answer] = ()) -> None:
        self.beginResetModel()
        self.plan = plan
        self.answers = {(a.example_id, a.model): a for a in answers}
        self._rows = {case.example_id: row for row, case in enumerate(plan.cases)}
        self.endResetModel()

    def add(self, answer: Answer) -> None:
        if self.plan is None:
            return
        self.answers[(answer.example_id, answer.model)] = answer
        row = self._rows[answer.example_id]
        first = len(CASE_COLUMNS) + self.plan.models.index(answer.model) * len(PER_MODEL)
        self.dataChanged.emit(self.index(row, first), self.index(row, first + len(PER_MODEL) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() or self.plan is None else len(self.plan.cases)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        models = 0 if self.plan is None else len(self.plan.models)
        return 0 if parent.isValid() else len(CASE_COLUMNS) + models * len(PER_MODEL)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # fmt: skip
        if orientation != Qt.Orientation.Horizontal:
            return None
        if section < len(CASE_COLUMNS):  # named before a plan too: not three blank headers
            return CASE_COLUMNS[section] if role == Qt.ItemDataRole.DisplayRole else None
        if self.plan is None:
            return None
        model, part = divmod(section - len(CASE_COLUMNS), len(PER_MODEL))
        name = self.plan.models[model]
        if role == Qt.ItemDataRole.ToolTipRole:
            return name
        if role == Qt.ItemDataRole.DisplayRole:
            return _short(name) if part == 0 else PER_MODEL[part]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.plan is None:
            return None
        case = self.plan.cases[index.row()]
        column = index.column()
        if column < len(CASE_COLUMNS):
            text = (case.prompt, case.reference, case.original or "")[column]
            return text if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) \
                else None  # fmt: skip
        model, part = divmod(column - len(CASE_COLUMNS), len(PER_MODEL))
        answer = self.answers.get((case.example_id, self.plan.models[model]))
        if answer is None:
            return None
        return _answer_cell(answer, part, role)


def _answer_cell(answer: Answer, part: int, role: int) -> Any:
    if role == Qt.ItemDataRole.DisplayRole:
        if part == 0:
            return answer.text if answer.error is None else f"error: {answer.error}"
        if part == 1:
            return "" if answer.similarity is None else f"{answer.similarity:.1f}"
        return answer.verdict or ""
    if role == Qt.ItemDataRole.ToolTipRole:
        return answer.reasoning or answer.error or answer.text
    if role == Qt.ItemDataRole.ForegroundRole and part == 2 and answer.verdict:
        return QColor(VERDICT_COLOURS.get(answer.verdict, "#000000"))
    return None


class SummaryModel(RowsModel):
    columns = ("Model", "Answered", "Failed", "Similarity", "Wins", "Cost", "Latency",
               "Verdicts", "Corrections learnt")  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.learnt: dict[str, tuple[int, int]] = {}

    def set_summaries(
        self, summaries: list[ModelSummary], learnt: dict[str, tuple[int, int]]
    ) -> None:
        self.beginResetModel()
        self.rows, self.learnt = summaries, learnt
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role != Qt.ItemDataRole.DisplayRole:
            return None
        row: ModelSummary = self.rows[index.row()]
        done, asked = self.learnt.get(row.model, (0, 0))
        values = (
            row.model, str(row.answered), str(row.failed),
            "" if row.mean_similarity is None else f"{row.mean_similarity:.1f}", str(row.wins),
            "?" if row.cost is None else dollars(row.cost),
            "" if row.mean_latency is None else f"{row.mean_latency:.2f} s",
            ", ".join(f"{k} {v}" for k, v in sorted(row.verdicts.items())),
            f"{done}/{asked}" if asked else "",
        )  # fmt: skip
        return values[index.column()]


class EvaluationsModel(RowsModel):
    """Past evaluations, newest first: when, on what, which models, how it ended, how far."""

    columns = ("Started", "Dataset / split", "Models", "State", "Prompts answered")

    def set_records(self, records: Sequence[EvaluationRecord]) -> None:
        self.beginResetModel()
        self.rows = sorted(records, key=lambda record: record.id, reverse=True)
        self.endResetModel()

    def row_of(self, evaluation_id: int) -> int | None:
        return next((row for row, r in enumerate(self.rows) if r.id == evaluation_id), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record: EvaluationRecord = self.rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return record
        if role == Qt.ItemDataRole.ToolTipRole:
            judge = f"\njudged by {record.judge}" if record.judge else ""
            job = f"\nmodels of {record.job_id}" if record.job_id else ""
            return "\n".join(record.models) + judge + job
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        values = (
            _local_time(record.started_at), f"{record.dataset} / {record.split}",
            ", ".join(_short(model) for model in record.models), record.state,
            str(record.answered),
        )  # fmt: skip
        return values[index.column()]


class EvaluatePanel(QWidget):
    def __init__(self, services: Services, status: StatusLine) -> None:
        super().__init__()
        self.services = services
        self.status = status
        self.background = Actions(status)
        self.answers = AnswersModel()
        self.summary = SummaryModel()
        self.history = EvaluationsModel()
        self.result: EvalResult | None = None
        self.job_id: str | None = None  # whose past evaluations are listed; None for all
        self._listener: asyncio.Task[None] | None = None
        self._build()

    def _build(self) -> None:
        self.model_choice = QComboBox()
        self.model_choice.setEditable(True)
        add, remove = QPushButton("Add"), QPushButton("Remove")
        add.clicked.connect(lambda: self.add_model(self.model_choice.currentText()))
        remove.clicked.connect(self._remove_selected)
        remove.setEnabled(False)  # until a model of the list is selected
        self.models = QListWidget()
        self.models.itemSelectionChanged.connect(
            lambda: remove.setEnabled(bool(self.models.selectedItems()))
        )
        self.models.setMaximumHeight(90)
        choose = QHBoxLayout()
        choose.addWidget(self.model_choice, 1)
        choose.addWidget(add)
        choose.addWidget(remove)
        self.dataset = QComboBox()
        self.split = QLineEdit(DEFAULT_SPLIT)
        self.limit = _spin(0, 100_000, 0, "all")
        self.judge = QComboBox()
        self.judge.setEditable(True)
        self.concurrency = _spin(1, 256, 8)
        self.rpm = _spin(1, 1_000_000, 500)
        pace = QHBoxLayout()
        pace.addWidget(self.concurrency, 1)
        pace.addWidget(QLabel("Requests / minute"))
        pace.addWidget(self.rpm, 1)
        new = QWidget()
        form = QFormLayout(new)
        for label, widget in (("Models", choose), ("", self.models), ("Dataset", self.dataset),
                              ("Split", self.split), ("Prompts", self.limit),
                              ("Judge (optional)", self.judge),
                              ("Concurrency", pace)):  # fmt: skip
            form.addRow(label, widget)
        self.sections = QTabWidget()
        self.sections.addTab(new, "New evaluation")
        self.sections.addTab(self._history_panel(), "Past evaluations")
        start, stop, export = QPushButton("Evaluate…"), QPushButton("Stop"), QPushButton("Export…")
        start.clicked.connect(lambda: self.background.run(self.run_evaluation()))
        stop.clicked.connect(self.stop)
        self.stop_button = stop
        self._stoppable = EnabledWhileRunning(stop)  # while an evaluation is planned or runs
        export.clicked.connect(self._export_dialog)
        self.progress = QProgressBar()
        buttons = QHBoxLayout()
        for button in (start, stop, export):
            buttons.addWidget(button)
        buttons.addWidget(self.progress, 1)
        self.answers_table = row_table(
            self.answers, QAbstractItemView.SelectionMode.SingleSelection
        )
        self.answers_table.setWordWrap(True)
        header = self.answers_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultSectionSize(180)
        summary_table = row_table(self.summary, QAbstractItemView.SelectionMode.NoSelection)
        summary_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(self.answers_table)
        results.addWidget(summary_table)
        results.setSizes([300, 200])  # at 720 px high, 400:140 left the summary one row
        layout = QVBoxLayout(self)
        layout.addWidget(self.sections)
        layout.addLayout(buttons)
        layout.addWidget(results, 1)

    def _history_panel(self) -> QWidget:
        self.history_scope = QLabel()
        self.history_table = row_table(
            self.history, QAbstractItemView.SelectionMode.SingleSelection
        )
        header = self.history_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the models
        # Loaded in the background: the registry is read on its own thread, the UI stays live.
        self.history_table.selectionModel().currentRowChanged.connect(self._past_chosen)
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.addWidget(self.history_scope)
        layout.addWidget(self.history_table, 1)
        return panel

    async def start(self) -> None:
        """The models and past evaluations there are; then each evaluation that ends, here or
        elsewhere (the bot's ``!test``), is listed as it ends."""
        if self._listener is None:
            ended = self.services.events.subscribe(EvaluationEnded, size=50)
            self._listener = asyncio.ensure_future(self._list_ended(ended))
        await self.refresh_choices()
        await self.refresh_history(self.job_id)

    async def _list_ended(self, ended: Subscription[EvaluationEnded]) -> None:
        try:
            async for _ in ended:
                await self.refresh_history(self.job_id)
        finally:
            ended.close()

    async def refresh_history(self, job_id: str | None = None) -> None:
        """The past evaluations of ``job_id``'s models (all when None), newest first; the one
        selected stays selected."""
        self.job_id = job_id
        current = self.history_table.currentIndex()
        chosen = self.history.rows[current.row()].id if current.isValid() else None
        records = await EvaluationStore(self.services.database).evaluations(job_id)
        self.history.set_records(records)
        self.history_scope.setText(f"Evaluations of {job_id}'s models, newest first"
                                   if job_id else "All evaluations, newest first")  # fmt: skip
        row = None if chosen is None else self.history.row_of(chosen)
        if row is not None:
            self.history_table.selectRow(row)

    def _past_chosen(self, current: QModelIndex) -> None:
        if current.isValid():
            self.background.run(self.show_past(self.history.rows[current.row()]))

    async def show_past(self, record: EvaluationRecord) -> None:
        """A past evaluation's stored answers in the tables, its summary under them."""
        if self.result is not None and self.result.id == record.id:
            return  # already shown
        result = await stored_result(self.services, record)
        current = self.history_table.currentIndex()
        if not current.isValid() or self.history.rows[current.row()].id != record.id:
            return  # another was chosen while this one loaded
        self.result = result
        plan = result.plan
        self.answers.reset(plan, result.answers)
        self.summary.set_summaries(result.summaries(), result.corrections_learnt())
        self.progress.setRange(0, max(1, len(plan.cases) * len(plan.models)))
        self.progress.setValue(len(result.answers))
        self.status.say(f"Evaluation of {_local_time(record.started_at)}: {len(plan.cases)} "
                        f"prompts × {len(plan.models)} models, {record.state}.")  # fmt: skip

    async def refresh_choices(self) -> None:
        """Datasets, and the models there are: base models, fine-tuned ones and checkpoints."""
        self.dataset.clear()
        self.dataset.addItems([d.name for d in await self.services.datasets.datasets()])
        known = sorted(name for name in price_table()["inference_per_million_tokens"]
                       if not name.startswith("ft:"))  # fmt: skip
        for job in await self.services.jobs.jobs():
            known += [job.fine_tuned_model] if job.fine_tuned_model else []
            known += [c.model for c in await self.services.jobs.checkpoints(job.id)]
        for combo in (self.model_choice, self.judge):
            current = combo.currentText()
            combo.clear()
            combo.addItems(list(dict.fromkeys(known)))
            combo.setCurrentText(current if combo is self.model_choice else current or "")

    def add_model(self, name: str) -> None:
        name = name.strip()
        if name and name not in self.chosen_models():
            self.models.addItem(name)

    def chosen_models(self) -> list[str]:
        return [self.models.item(row).text() for row in range(self.models.count())]

    def _remove_selected(self) -> None:
        for item in self.models.selectedItems():
            self.models.takeItem(self.models.row(item))

    async def run_evaluation(self, *, confirm: bool = True) -> EvalResult:
        """Plan (the cost first), ask, and fill the tables as answers come."""
        with self._stoppable():
            return await self._evaluate(confirm=confirm)

    async def _evaluate(self, *, confirm: bool) -> EvalResult:
        if not self.dataset.currentText():
            raise VoxdeskError("Choose a dataset to evaluate on.")
        plan = await plan_evaluation(
            self.services, self.chosen_models(), self.dataset.currentText(),
            split=self.split.text().strip() or DEFAULT_SPLIT, limit=self.limit.value() or None,
            judge=self.judge.currentText().strip() or None,
        )  # fmt: skip
        if confirm and not await self._confirm(plan):
            raise VoxdeskError("Not started.")
        self.answers.reset(plan)
        self.result = None  # until this run ends: Export has nothing that is shown
        self.summary.set_summaries([], {})
        self.history_table.setCurrentIndex(QModelIndex())  # no past one is shown any more
        self.history_table.clearSelection()
        self.progress.setRange(0, len(plan.cases) * len(plan.models))
        self.progress.setValue(0)
        limits = Limits(self.concurrency.value(), self.rpm.value())
        self.history_table.setEnabled(False)  # the tables show this run until it ends
        try:
            self.result = await evaluate(self.services, plan, limits=limits, progress=self._heard)
        except asyncio.CancelledError:
            self._sum_up(plan)
            self.status.say(f"Stopped after {len(self.answers.answers)} answers; they are kept.")
            raise
        finally:
            self.history_table.setEnabled(True)
            await self.refresh_history(self.job_id)  # listed now, before the bus says so
        self._sum_up(plan)
        self.status.say(f"Evaluated {len(plan.models)} models on {len(plan.cases)} prompts.")
        return self.result

    async def _confirm(self, plan: EvalPlan) -> bool:
        question = (f"{len(plan.cases)} prompts × {len(plan.models)} models: "
                    f"{plan.estimate.describe()} Start?")  # fmt: skip
        return await answered_yes(yes_no(self, "Evaluate", question))

    def _heard(self, step: Progress) -> None:
        self.answers.add(step.answer)
        self.progress.setValue(step.done)

    def _sum_up(self, plan: EvalPlan) -> None:
        heard = list(self.answers.answers.values())
        partial = EvalResult(0, plan, tuple(heard), "")
        self.summary.set_summaries(summarize(plan, heard), partial.corrections_learnt())

    def stop(self) -> None:
        self.background.stop()

    async def export(self, path: Path) -> Path:
        if self.result is None:
            raise VoxdeskError("Evaluate first: there are no answers to export.")
        return await export_results(self.result, path)

    def _export_dialog(self) -> None:
        if self.result is None:  # said before a file is asked for, not after
            self.status.say("Evaluate first: there are no answers to export.", error=True)
            return
        suggested = f"evaluation-{self.result.id}.csv"
        name, _ = QFileDialog.getSaveFileName(self, "Export answers", suggested,
                                              "CSV (*.csv);;JSONL (*.jsonl)")  # fmt: skip
        if name:
            self.background.run(self._export_to(Path(name)))

    async def _export_to(self, path: Path) -> None:
        await self.export(path)
        self.status.say(f"Wrote the answers to {path}.")

    async def shutdown(self) -> None:
        await self.background.cancel()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener


def _short(model: str) -> str:
    """A fine-tuned model's name without its base and organisation: suffix, id, checkpoint."""
    if not model.startswith("ft:"):
        return model
    parts = [part for part in model.split(":")[3:] if part]
    return ":".join(parts) or model


def _local_time(stamp: str) -> str:
    """A stored UTC time as the user's clock reads it, to the minute."""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _spin(low: int, high: int, value: int, special: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if special:
        spin.setSpecialValueText(special)
    return spin
