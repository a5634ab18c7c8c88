"""Fine-tunes: a form with the cost shown before confirming, the jobs, their events and chart.

The form only collects an order for core's launch (core/training/launch.py) and shows its steps.
The job list follows the event bus, so a job started elsewhere (``!train``) moves here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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

from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import JobUpdated, Subscription
from voxdesk.core.services import Services
from voxdesk.core.training.job_request import (
    MAX_BATCH_SIZE,
    MAX_BETA,
    MAX_EPOCHS,
    MAX_SUFFIX_LENGTH,
    Hyperparameters,
    JobOptions,
)
from voxdesk.core.training.jobs import JobRecord
from voxdesk.core.training.launch import (
    FineTuneOrder,
    LaunchStep,
    Uploading,
    Validated,
    estimate_fine_tune,
    launch_fine_tune,
)
from voxdesk.core.training.pricing import price_table
from voxdesk.core.training.validator import ValidationReport
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
        self._listener: asyncio.Task[None] | None = None
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
        self.suffix.setMaxLength(MAX_SUFFIX_LENGTH)
        self.seed = _spin(QSpinBox(), 0, 2_000_000_000, 0, "random")
        # 0 (shown as "auto") leaves the choice to OpenAI; the top of each range is OpenAI's.
        self.epochs = _spin(QSpinBox(), 0, MAX_EPOCHS, 0, "auto")
        self.batch_size = _spin(QSpinBox(), 0, MAX_BATCH_SIZE, 0, "auto")
        self.learning_rate = _spin(QDoubleSpinBox(), 0, 10, 0, "auto")
        self.beta = _spin(QDoubleSpinBox(), 0, MAX_BETA, 0, "auto")
        self.beta.setEnabled(False)  # DPO only
        self.method.currentTextChanged.connect(lambda method: self.beta.setEnabled(method == "dpo"))
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
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop estimating or starting; files already uploaded for "
                                    "the job are deleted again")  # fmt: skip
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(estimate)
        buttons.addWidget(start)
        buttons.addWidget(self.stop_button)
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
        # connect="finite": a step without a value leaves a gap instead of dropping to 0
        self.loss_curve = self.chart.plot([], [], pen=pyqtgraph.mkPen("#c62828", width=2),
                                          name="training loss", connect="finite")  # fmt: skip
        self.validation_loss_curve = self.chart.plot(
            [], [], pen=pyqtgraph.mkPen("#ef6c00", width=2, style=Qt.PenStyle.DashLine),
            name="validation loss", connect="finite",
        )  # fmt: skip
        self.accuracy_curve = self.chart.plot([], [], pen=pyqtgraph.mkPen("#1565c0", width=2),
                                              name="token accuracy", connect="finite")  # fmt: skip
        return self.chart

    def changeEvent(self, event: QEvent) -> None:
        # A new palette (the system switched light/dark): the chart follows it.
        if event.type() == QEvent.Type.PaletteChange:
            self.chart.setBackground(self.palette().base().color())
        super().changeEvent(event)

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Fill the dataset choice and job list; resume following unfinished jobs."""
        if self._listener is None:  # subscribed before anything is followed: no update missed
            updates = self.services.events.subscribe(JobUpdated, size=200)
            self._listener = asyncio.ensure_future(self._follow_updates(updates))
        self.dataset.clear()
        self.dataset.addItems([d.name for d in await self.services.datasets.datasets()])
        await self.refresh_jobs()
        for job in await self.services.jobs.unfinished():
            self.follow(job.id)

    async def refresh_jobs(self) -> None:
        self.jobs.set_jobs(await self.services.jobs.jobs())

    async def shutdown(self) -> None:
        for task in [*self._followers.values(), *([self._listener] if self._listener else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.background.cancel()

    # --- the form -------------------------------------------------------------------------------

    async def estimate(self) -> ValidationReport:
        """Export the dataset as it would be trained and validate it: tokens and cost."""
        report = await estimate_fine_tune(self.services, self.order())
        self._show_estimate(report)
        return report

    def _show_estimate(self, report: ValidationReport) -> None:
        cost = (
            f"${report.cost.dollars:,.2f}" if report.cost else "unknown (no price for this model)"
        )
        verdict = "" if report.ok else f" Errors: {', '.join(report.format_errors)}."
        self.estimate_label.setText(
            f"{report.examples} examples, ~{report.billing_tokens:,} tokens × {report.epochs} "
            f"epochs = ~{report.charged_tokens:,} trained tokens; cost {cost}.{verdict}"
        )
        self.last_report = report

    async def start_job(self, *, confirm: bool = True) -> str:
        started = await launch_fine_tune(
            self.services, self.order(), progress=self._show_step,
            confirm=self._confirm if confirm else None,
        )  # fmt: skip
        self.status.say(f"Started {started.job.id}.")
        await self.refresh_jobs()
        self.follow(started.job.id)
        return started.job.id

    def order(self) -> FineTuneOrder:
        """The form as an order for core: the chosen file as it is, or the chosen dataset."""
        dpo = self.method.currentText() == "dpo"
        options = JobOptions(
            self.base_model.currentText(), "dpo" if dpo else "supervised",
            Hyperparameters(self.epochs.value() or None, self.batch_size.value() or None,
                            self.learning_rate.value() or None,
                            (self.beta.value() or None) if dpo else None),
            self.suffix.text().strip() or None, self.seed.value() or None,
        )  # fmt: skip
        if file := self.file.text().strip():
            return FineTuneOrder(options, training_file=Path(file).expanduser())
        if not self.dataset.currentText():
            raise VoxdeskError("Choose a dataset (import or approve examples first).")
        return FineTuneOrder(options, self.dataset.currentText(),
                             validation_share=self.validation.value())  # fmt: skip

    def _show_step(self, step: LaunchStep) -> None:
        if isinstance(step, Validated):
            self._show_estimate(step.report)
        elif isinstance(step, Uploading):
            self.status.say(f"Uploading the {step.role} file… "
                            f"{step.done * 100 // max(step.total, 1)}%")  # fmt: skip

    async def _confirm(self, report: ValidationReport) -> bool:
        cost = f"${report.cost.dollars:,.2f}" if report.cost else "an unknown amount"
        question = f"This fine-tune is estimated at {cost}. Start it?"
        answer = QMessageBox.question(self, "Start fine-tune", question)
        return answer == QMessageBox.StandardButton.Yes

    def stop(self) -> None:
        self.background.stop()
        self.status.say("Stopped.")

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Training file", "", "JSONL (*.jsonl)")
        if name:
            self.file.setText(name)

    # --- jobs -------------------------------------------------------------------------------------

    def follow(self, job_id: str) -> None:
        if job_id not in self._followers or self._followers[job_id].done():
            self._followers[job_id] = asyncio.ensure_future(self._follow(job_id))

    async def _follow(self, job_id: str) -> None:
        try:
            async for _ in self.services.fine_tuner.follow(job_id):
                await self._job_changed(job_id)
        except VoxdeskError as error:
            self.status.say(f"Lost track of {job_id}: {user_message(error)}", error=True)

    async def _follow_updates(self, updates: Subscription[JobUpdated]) -> None:
        """Jobs followed elsewhere (the bot's ``!train``): shown as they change."""
        try:
            async for update in updates:
                follower = self._followers.get(update.job_id)
                if follower is None or follower.done():  # this page's own are shown by _follow
                    await self._job_changed(update.job_id)
        finally:
            updates.close()

    async def _job_changed(self, job_id: str) -> None:
        await self.refresh_jobs()
        if self.selected_job_id() == job_id:
            await self.show_job()

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
        for curve, values in (
            (self.loss_curve, [point.train_loss for point in metrics]),
            (self.validation_loss_curve, [point.valid_loss for point in metrics]),
            (self.accuracy_curve, [point.train_mean_token_accuracy for point in metrics]),
        ):
            curve.setData(steps, [math.nan if value is None else value for value in values])
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
        await self.services.settings_store.set("assistant.model", job.fine_tuned_model)
        self.status.say(f"Replies now use {job.fine_tuned_model}.")

    # --- helpers ----------------------------------------------------------------------------------


def _spin(widget: Any, low: float, high: float, value: float, special: str = "") -> Any:
    widget.setRange(low, high)
    widget.setValue(value)
    if special:  # shown for the lowest value: 0 means "let OpenAI choose"
        widget.setSpecialValueText(special)
    return widget
