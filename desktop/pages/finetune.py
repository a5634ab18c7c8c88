"""Fine-tunes: a form with the cost shown before confirming, the jobs, their events and chart."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pyqtgraph
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.assistant import activate_model
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.events import JobUpdated
from voxdesk.core.services import Services
from voxdesk.core.training.job_request import Hyperparameters, JobRequest
from voxdesk.core.training.jobs import JobRecord
from voxdesk.core.training.pricing import price_table
from voxdesk.core.training.transfer import export_jsonl
from voxdesk.core.training.validator import ValidationReport, validate_file_async
from voxdesk.desktop.actions import Actions, StatusLine
from voxdesk.desktop.jobs import JobsModel
from voxdesk.desktop.tables import row_table


class FineTunePage(QWidget):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.status = StatusLine()
        self.background = Actions(self.status)
        self.jobs = JobsModel()
        self._followers: dict[str, asyncio.Task[None]] = {}
        self.last_report: ValidationReport | None = None
        self._build()

    def _build(self) -> None:
        split = QSplitter()
        split.addWidget(self._form())
        split.addWidget(self._jobs_panel())
        split.setSizes([330, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)

    def _form(self) -> QGroupBox:
        """What a new job is made of, its estimate, and the buttons that act on them."""
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.addItems(sorted(price_table()["training_per_million_tokens"]))
        self.base_model.setCurrentText(self.services.settings.discord.fine_tune_model)
        self.dataset = QComboBox()
        self.file = QLineEdit()
        self.file.setPlaceholderText("training .jsonl")
        self.file.setToolTip("Train on this JSONL file instead of the dataset")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file, 1)
        file_row.addWidget(browse)
        self.method = QComboBox()
        self.method.addItems(["supervised", "dpo"])
        self.validation = _spin(QDoubleSpinBox(), 0, 0.5, 0.1)
        self.suffix = QLineEdit()
        self.suffix.setMaxLength(40)
        self.seed = _spin(QSpinBox(), 0, 2_000_000_000, 0, "random")
        self.epochs = _spin(QSpinBox(), 0, 50, 0, "auto")
        self.batch_size = _spin(QSpinBox(), 0, 256, 0, "auto")
        self.learning_rate = _spin(QDoubleSpinBox(), 0, 10, 0, "auto")
        self.beta = _spin(QDoubleSpinBox(), 0, 2, 0, "auto")
        form = QFormLayout()
        for label, widget in (
            ("Base model", self.base_model),
            ("Dataset", self.dataset),
            ("Or a file", file_row),
            ("Method", self.method),
            ("Validation share", self.validation),
            ("Suffix", self.suffix),
            ("Seed", self.seed),
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
            ("Learning rate ×", self.learning_rate),
            ("Beta (DPO)", self.beta),
        ):
            form.addRow(label, widget)  # fmt: skip
        self.estimate_label = QLabel("Estimate the tokens and cost before starting.")
        self.estimate_label.setWordWrap(True)
        estimate, start = QPushButton("Estimate"), QPushButton("Start fine-tune…")
        estimate.clicked.connect(lambda: self.background.run(self.estimate()))
        start.clicked.connect(lambda: self.background.run(self.start_job()))
        buttons = QHBoxLayout()
        buttons.addWidget(estimate)
        buttons.addWidget(start)
        box = QGroupBox("New fine-tune")
        box_layout = QVBoxLayout(box)
        box_layout.addLayout(form)
        box_layout.addWidget(self.estimate_label)
        box_layout.addLayout(buttons)
        box_layout.addStretch(1)
        return box

    def _jobs_panel(self) -> QWidget:
        """The jobs, and the selected one's chart, events and actions."""
        self.table = row_table(self.jobs, QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().currentChanged.connect(
            lambda *_: self.background.run(self.show_job())
        )
        self.events = QPlainTextEdit()
        self.events.setReadOnly(True)
        cancel, use = QPushButton("Cancel job"), QPushButton("Use this model for replies")
        cancel.clicked.connect(lambda: self.background.run(self.cancel_selected()))
        use.clicked.connect(lambda: self.background.run(self.use_selected()))
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(cancel)
        actions.addWidget(use)
        detail = QSplitter()
        detail.addWidget(self._chart())
        detail.addWidget(self.events)
        detail.setSizes([520, 300])
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 2)
        layout.addWidget(detail, 3)
        layout.addLayout(actions)
        return panel

    def _chart(self) -> pyqtgraph.PlotWidget:
        # The palette's colours, not white: the chart then follows a light or dark theme.
        self.chart = pyqtgraph.PlotWidget(background=self.palette().base().color())
        self.chart.addLegend()
        self.chart.setLabel("bottom", "step")
        self.loss_curve = self.chart.plot(
            [], [], pen=pyqtgraph.mkPen("#c62828", width=2), name="training loss"
        )
        self.accuracy_curve = self.chart.plot([], [], pen=pyqtgraph.mkPen("#1565c0", width=2),
                                              name="token accuracy")  # fmt: skip
        return self.chart

    def changeEvent(self, event: QEvent) -> None:
        # A new palette (the system switched light/dark): the chart follows it.
        if event.type() == QEvent.Type.PaletteChange:
            self.chart.setBackground(self.palette().base().color())
        super().changeEvent(event)

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Fill the dataset choice and job list; resume following unfinished jobs."""
        self.dataset.clear()
        self.dataset.addItems([d.name for d in await self.services.datasets.datasets()])
        await self.refresh_jobs()
        for job in await self.services.jobs.unfinished():
            self.follow(job.id)

    async def refresh_jobs(self) -> None:
        self.jobs.set_jobs(await self.services.jobs.jobs())

    async def shutdown(self) -> None:
        for task in self._followers.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.background.cancel()

    # --- the form -------------------------------------------------------------------------------

    async def estimate(self) -> ValidationReport:
        """Export the dataset as it would be trained and validate it: tokens and cost."""
        with tempfile.TemporaryDirectory(prefix="voxdesk-estimate-") as folder:
            train, _ = await self._export(Path(folder))
            return await self._validate(train)

    async def _validate(self, train: Path) -> ValidationReport:
        """Validate the file to train on, and show its tokens and cost."""
        report = await validate_file_async(train, model=self.base_model.currentText())
        cost = (
            f"${report.cost.dollars:,.2f}" if report.cost else "unknown (no price for this model)"
        )
        verdict = "" if report.ok else f" Errors: {', '.join(report.format_errors)}."
        self.estimate_label.setText(
            f"{report.examples} examples, ~{report.billing_tokens:,} tokens × {report.epochs} "
            f"epochs = ~{report.charged_tokens:,} trained tokens; cost {cost}.{verdict}"
        )
        self.last_report = report
        return report

    async def start_job(self, *, confirm: bool = True) -> str:
        tuner = self.services.fine_tuner
        # One export: the file whose cost the user confirms is the file uploaded.
        with tempfile.TemporaryDirectory(prefix="voxdesk-finetune-") as folder:
            train, valid = await self._export(Path(folder))
            report = await self._validate(train)
            if not report.ok:
                raise VoxdeskError("The training data has errors; see the estimate, then fix them.")
            self._confirm(report, confirm)
            self.status.say("Uploading…")
            training_id = await tuner.upload(train)
            validation_id = await tuner.upload(valid) if valid else None
        request = JobRequest(
            self.base_model.currentText(), training_id, validation_id,
            "dpo" if self.method.currentText() == "dpo" else "supervised",
            Hyperparameters(self.epochs.value() or None, self.batch_size.value() or None,
                            self.learning_rate.value() or None, self.beta.value() or None),
            self.suffix.text().strip() or None, self.seed.value() or None,
        )  # fmt: skip
        job = await tuner.create(
            request,
            dataset=self.dataset.currentText(),
            estimated_cost=report.cost.dollars if report.cost else None,
        )
        self.status.say(f"Started {job.id}.")
        await self.refresh_jobs()
        self.follow(job.id)
        return job.id

    def _confirm(self, report: ValidationReport, ask: bool) -> None:
        cost = f"${report.cost.dollars:,.2f}" if report.cost else "an unknown amount"
        question = f"This fine-tune is estimated at {cost}. Start it?"
        if ask and QMessageBox.question(self, "Start fine-tune", question) \
                != QMessageBox.StandardButton.Yes:  # fmt: skip
            raise VoxdeskError("Not started.")

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Training file", "", "JSONL (*.jsonl)")
        if name:
            self.file.setText(name)

    async def _export(self, folder: Path) -> tuple[Path, Path | None]:
        """The file to train on: the chosen JSONL as it is, or the dataset exported now."""
        if self.file.text().strip():
            return await asyncio.to_thread(_existing_file, self.file.text().strip()), None
        name = self.dataset.currentText()
        if not name:
            raise VoxdeskError("Choose a dataset (import or approve examples first).")
        result = await export_jsonl(
            self.services.datasets, name, folder / f"{name}.jsonl",
            kind="preference" if self.method.currentText() == "dpo" else "chat",
            validation_ratio=self.validation.value(), seed=self.seed.value(),
        )  # fmt: skip
        return result.training, result.validation

    # --- jobs -------------------------------------------------------------------------------------

    def follow(self, job_id: str) -> None:
        if job_id not in self._followers or self._followers[job_id].done():
            self._followers[job_id] = asyncio.ensure_future(self._follow(job_id))

    async def _follow(self, job_id: str) -> None:
        try:
            async for update in self.services.fine_tuner.follow(job_id):
                job = update.job
                self.services.events.publish(JobUpdated(job.id, job.status, job.fine_tuned_model))
                await self.refresh_jobs()
                if self.selected_job_id() == job_id:
                    await self.show_job()
        except VoxdeskError as error:
            self.status.say(f"Lost track of {job_id}: {error.describe()}", error=True)

    async def wait_for(self, job_id: str) -> None:
        await self._followers[job_id]

    def selected_job(self) -> JobRecord | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        job = self.jobs.data(self.jobs.index(index.row(), 0), Qt.ItemDataRole.UserRole)
        return job if isinstance(job, JobRecord) else None

    def selected_job_id(self) -> str | None:
        job = self.selected_job()
        return job.id if job else None

    def select(self, job_id: str) -> None:
        for row, job in enumerate(self.jobs.jobs):
            if job.id == job_id:
                self.table.selectRow(row)

    async def show_job(self) -> None:
        job = self.selected_job()
        if job is None:
            return
        metrics = await self.services.jobs.metrics(job.id)
        steps = [point.step for point in metrics]
        self.loss_curve.setData(steps, [point.train_loss or 0.0 for point in metrics])
        self.accuracy_curve.setData(steps, [point.train_mean_token_accuracy or 0.0
                                            for point in metrics])  # fmt: skip
        events = await self.services.jobs.events(job.id)
        checkpoints = await self.services.jobs.checkpoints(job.id)
        lines = [f"{event.level}: {event.message}" for event in events]
        lines += [f"checkpoint at step {c.step}: {c.model}" for c in checkpoints]
        self.events.setPlainText("\n".join(lines))

    async def cancel_selected(self) -> None:
        job = self.selected_job()
        if job is None:
            raise VoxdeskError("Select a job first.")
        await self.services.fine_tuner.cancel(job.id)
        await self.refresh_jobs()
        self.status.say(f"Cancelled {job.id}.")

    async def use_selected(self) -> None:
        job = self.selected_job()
        if job is None or job.status != "succeeded" or not job.fine_tuned_model:
            raise VoxdeskError("Select a succeeded job: only it has a model to use.")
        activate_model(job.fine_tuned_model, self.services.settings_path)
        self.services.settings.assistant.model = job.fine_tuned_model
        self.status.say(f"Replies now use {job.fine_tuned_model}.")

    # --- helpers ----------------------------------------------------------------------------------


def _existing_file(text: str) -> Path:
    chosen = Path(text).expanduser()
    if not chosen.is_file():
        raise VoxdeskError(f"{chosen} is not a file.")
    return chosen


def _spin(widget: Any, low: float, high: float, value: float, special: str = "") -> Any:
    widget.setRange(low, high)
    widget.setValue(value)
    if special:  # shown for the lowest value: 0 means "let OpenAI choose"
        widget.setSpecialValueText(special)
    return widget
