"""Fine-tunes: a form with the cost shown before confirming; the jobs with their curves,
events and checkpoints; runs compared; the account's jobs; models evaluated side by side.

The form only collects an order for core's launch (core/training/launch.py) and shows its steps.
The job list follows the event bus, so a job started elsewhere (``!train``) moves here too. The
curves leave a gap where a step has no value and name the step's numbers under the pointer.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pyqtgraph
from PySide6.QtCore import QEvent, QItemSelectionModel, QPointF, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.events import JobUpdated, Subscription
from voxdesk.core.services import Services
from voxdesk.core.training.findings import name_places
from voxdesk.core.training.finetune import Retrying
from voxdesk.core.training.job_request import (
    MAX_BATCH_SIZE,
    MAX_BETA,
    MAX_EPOCHS,
    MAX_SUFFIX_LENGTH,
    Hyperparameters,
    JobOptions,
)
from voxdesk.core.training.jobs import (
    PAUSABLE_STATUSES,
    TERMINAL_STATUSES,
    Checkpoint,
    JobRecord,
    MetricPoint,
)
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
from voxdesk.desktop.actions import (
    Actions,
    EnabledWhileRunning,
    StatusLine,
    answered_yes,
    yes_no,
)
from voxdesk.desktop.evaluation import EvaluatePanel
from voxdesk.desktop.jobs import CheckpointsModel, JobsModel, RemoteJobsModel
from voxdesk.desktop.tables import fit_columns, row_table


class FineTunePage(QWidget):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.status = StatusLine()
        self.background = Actions(self.status)
        self.jobs = JobsModel()
        self.checkpoints = CheckpointsModel()
        self.remote_jobs = RemoteJobsModel()
        self._points: list[MetricPoint] = []  # the selected job's, for the hover line
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()  # followed jobs whose last poll OpenAI did not answer
        self._listener: asyncio.Task[None] | None = None
        self.last_report: ValidationReport | None = None
        self._build()

    def _build(self) -> None:
        self.evaluation = EvaluatePanel(self.services, self.status)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._jobs_panel(), "Jobs")
        self.tabs.addTab(self._compare_panel(), "Compare runs")
        self.tabs.addTab(self._account_panel(), "Account's jobs")
        self.tabs.addTab(self.evaluation, "Evaluate")
        # The models to choose from grow as jobs finish, and the past evaluations listed are
        # the selected job's: both are listed afresh when the tab is shown.
        self.tabs.currentChanged.connect(self._tab_shown)
        split = QSplitter()
        split.addWidget(self._form())
        split.addWidget(self.tabs)
        split.setSizes([330, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)

    def _tab_shown(self, index: int) -> None:
        if self.tabs.widget(index) is self.evaluation:
            self.background.run(self.evaluation.refresh_choices())
            self.background.run(self.evaluation.refresh_history(self.selected_job_id()))

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
        self._stoppable = EnabledWhileRunning(self.stop_button)  # an estimate or a start
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
        """The jobs (several may be selected to compare) with what can be done to them; the
        selected one's curves and events; its checkpoints, the full width for their numbers."""
        self.table = row_table(self.jobs, QAbstractItemView.SelectionMode.ExtendedSelection)
        fit_columns(self.table, stretch=len(self.jobs.columns) - 1)  # the fine-tuned model
        self.table.selectionModel().currentChanged.connect(
            lambda *_: self.background.run(self.show_job())
        )
        self.events = QPlainTextEdit()
        self.events.setReadOnly(True)
        self.checkpoint_table = row_table(
            self.checkpoints, QAbstractItemView.SelectionMode.SingleSelection
        )
        fit_columns(self.checkpoint_table, stretch=CheckpointsModel.MODEL)
        self.pause_button = self._action("Pause", self.pause_selected)
        self.resume_button = self._action("Resume", self.resume_selected)
        self.cancel_job_button = self._action("Cancel job", self.cancel_selected)
        self.compare_button = self._action("Compare selected", self.compare_selected)
        self.compare_button.setToolTip("Select two jobs or more (Ctrl+click)")
        self.use_model_button = self._action("Reply with model", self.use_selected)
        self.use_checkpoint_button = self._action("Reply with checkpoint", self.use_checkpoint)
        for changed in (self.table.selectionModel().selectionChanged,
                        self.table.selectionModel().currentChanged, self.jobs.modelReset,
                        self.checkpoint_table.selectionModel().selectionChanged,
                        self.checkpoints.modelReset):  # fmt: skip
            changed.connect(self._enable_actions)
        job_actions = _row(self.pause_button, self.resume_button, self.cancel_job_button, None,
                           self.compare_button, self.use_model_button)  # fmt: skip
        detail = QSplitter()
        detail.addWidget(self._chart())
        detail.addWidget(self.events)
        detail.setSizes([560, 260])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(_stacked(self.table, job_actions))
        split.addWidget(detail)
        split.addWidget(_stacked(self.checkpoint_table, _row(None, self.use_checkpoint_button)))
        split.setSizes([170, 300, 150])
        self._enable_actions()
        return split

    def _action(self, label: str, work: Callable[[], Coroutine[Any, Any, None]]) -> QPushButton:
        button = QPushButton(label)
        button.clicked.connect(lambda: self.background.run(work()))
        return button

    def _enable_actions(self) -> None:
        """Only what the selected job's state allows (paused jobs resume, running ones pause)."""
        job = self.selected_job()
        status = job.status if job else ""
        self.pause_button.setEnabled(status in PAUSABLE_STATUSES)
        self.resume_button.setEnabled(status == "paused")
        self.cancel_job_button.setEnabled(bool(job) and status not in TERMINAL_STATUSES)
        self.compare_button.setEnabled(len(self.selected_jobs()) >= 2)
        self.use_model_button.setEnabled(bool(job and job.fine_tuned_model))
        self.use_checkpoint_button.setEnabled(self.checkpoint_table.currentIndex().isValid())

    def _chart(self) -> QWidget:
        # The palette's colours, not white: the chart then follows a light or dark theme.
        self.chart = pyqtgraph.PlotWidget(background=self.palette().base().color())
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
        self.validation_accuracy_curve = self.chart.plot(
            [], [], pen=pyqtgraph.mkPen("#00838f", width=2, style=Qt.PenStyle.DashLine),
            name="validation token accuracy", connect="finite",
        )  # fmt: skip
        # A full validation pass happens at a few steps only: points, not a line.
        self.full_validation_loss = self.chart.plot(
            [], [], pen=None, symbol="o", symbolBrush="#ef6c00", name="full validation loss"
        )
        self.full_validation_accuracy = self.chart.plot(
            [], [], pen=None, symbol="s", symbolBrush="#00838f",
            name="full validation token accuracy",
        )  # fmt: skip
        self.legend = _legend_below(self.chart)
        self.hover = QLabel("Point at the chart for a step's numbers.")
        self.chart.scene().sigMouseMoved.connect(self._pointed)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.hover)
        return box

    def _compare_panel(self) -> QWidget:
        """Selected jobs' curves overlaid, and their hyperparameters side by side."""
        self.compare_chart = pyqtgraph.PlotWidget(background=self.palette().base().color())
        self.compare_chart.addLegend()
        self.compare_chart.setLabel("bottom", "step")
        self.compare_table = QTableWidget()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.compare_chart)
        split.addWidget(self.compare_table)
        split.setSizes([400, 200])
        return split

    def _account_panel(self) -> QWidget:
        """The account's jobs on OpenAI, wherever they were started; any can be followed here."""
        self.remote_table = row_table(
            self.remote_jobs, QAbstractItemView.SelectionMode.SingleSelection
        )
        fit_columns(self.remote_table, stretch=3)  # the fine-tuned model
        load = self._action("Load the account's jobs", self.load_remote_jobs)
        self.track_button = self._action("Follow here", self.track_selected)
        self.track_button.setEnabled(False)  # until one of the account's jobs is selected
        self.remote_table.selectionModel().currentChanged.connect(
            lambda current, _: self.track_button.setEnabled(current.isValid())
        )
        self.remote_jobs.modelReset.connect(lambda: self.track_button.setEnabled(False))
        return _stacked(self.remote_table, _row(load, self.track_button, None))

    def changeEvent(self, event: QEvent) -> None:
        # A new palette (the system switched light/dark): the chart follows it.
        if event.type() == QEvent.Type.PaletteChange:
            for chart in (self.chart, self.compare_chart):
                chart.setBackground(self.palette().base().color())
        super().changeEvent(event)

    # --- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Fill the dataset choice and job list; resume following unfinished jobs."""
        if self._listener is None:  # subscribed before anything is followed: no update missed
            updates = self.services.events.subscribe(JobUpdated, size=200)
            self._listener = asyncio.ensure_future(self._follow_updates(updates))
        await self.refresh_datasets()
        await self.refresh_jobs()
        await self.evaluation.start()
        for job in await self.services.jobs.unfinished():
            self.follow(job.id)

    async def refresh_datasets(self) -> None:
        """The datasets there are now, the one chosen kept."""
        chosen = self.dataset.currentText()
        names = [dataset.name for dataset in await self.services.datasets.datasets()]
        self.dataset.clear()
        self.dataset.addItems(names)
        if chosen in names:
            self.dataset.setCurrentText(chosen)

    def showEvent(self, event: QShowEvent) -> None:
        # Datasets imported or begun on other pages since the list was filled; once started.
        if self._listener is not None:
            self.background.run(self.refresh_datasets())
        super().showEvent(event)

    async def refresh_jobs(self) -> None:
        """The jobs as recorded now; the jobs selected before stay selected."""
        chosen, current = {job.id for job in self.selected_jobs()}, self.selected_job_id()
        self.jobs.set_jobs(await self.services.jobs.jobs())
        selection = self.table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        for row, job in enumerate(self.jobs.jobs):
            index = self.jobs.index(row, 0)
            if job.id in chosen:
                selection.select(index, flags.Select | flags.Rows)
            if job.id == current:
                selection.setCurrentIndex(index, flags.NoUpdate)

    async def shutdown(self) -> None:
        for task in [*self._followers.values(), *([self._listener] if self._listener else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.background.cancel()
        await self.evaluation.shutdown()

    # --- the form -------------------------------------------------------------------------------

    async def estimate(self) -> ValidationReport:
        """Export the dataset as it would be trained and validate it: tokens and cost."""
        with self._stoppable():
            report = await estimate_fine_tune(self.services, self.order())
        self._show_estimate(report)
        return report

    def _show_estimate(self, report: ValidationReport) -> None:
        cost = (
            f"${report.cost.dollars:,.2f}" if report.cost else "unknown (no price for this model)"
        )
        verdict = "" if report.ok else f" {self._errors(report)}"
        self.estimate_label.setText(
            f"{report.examples} examples, ~{report.billing_tokens:,} tokens × {report.epochs} "
            f"epochs = ~{report.charged_tokens:,} trained tokens; cost {cost}.{verdict}"
        )
        self.last_report = report

    def _errors(self, report: ValidationReport) -> str:
        """The errors in words, each with where it is: the examples of a dataset (core names
        them, the export being a file the user never sees) or the lines of a file given."""
        fix = "" if self.file.text().strip() else " Fix or reject them on the Dataset page."
        return f"Errors to fix before training: {name_places(report.errors)}.{fix}"

    async def start_job(self, *, confirm: bool = True) -> str:
        with self._stoppable():
            started = await launch_fine_tune(
                self.services, self.order(), progress=self._show_step,
                confirm=self._confirm if confirm else None,
            )  # fmt: skip
        self.status.say(f"Started {started.job.id}.")
        await self.refresh_jobs()
        self.select(started.job.id)  # its curves and events fill in as it runs
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
        return await answered_yes(yes_no(self, "Start fine-tune", question))

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
            async for _ in self.services.fine_tuner.follow(job_id, waiting=self._say_waiting):
                if job_id in self._waiting:  # the red line would stay, as if OpenAI still were away
                    self._waiting.discard(job_id)
                    self.status.say(f"OpenAI answers again: following {job_id}.")
                await self._job_changed(job_id)
        except VoxdeskError as error:
            self.status.say(f"Lost track of {job_id}: {user_message(error)}", error=True)

    def _say_waiting(self, notice: Retrying) -> None:
        """OpenAI could not be asked about a job followed here; following goes on after a wait."""
        self._waiting.add(notice.job_id)
        self.status.say(notice.describe(), error=True)

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
        self._points = metrics = await self.services.jobs.metrics(job.id)
        steps = [point.step for point in metrics]
        lines = ((self.loss_curve, "train_loss"), (self.validation_loss_curve, "valid_loss"),
                 (self.accuracy_curve, "train_mean_token_accuracy"),
                 (self.validation_accuracy_curve, "valid_mean_token_accuracy"))  # fmt: skip
        for curve, name in lines:
            curve.setData(steps, _values(metrics, name))
        full = ((self.full_validation_loss, "full_valid_loss"),
                (self.full_validation_accuracy, "full_valid_mean_token_accuracy"))  # fmt: skip
        for points, name in full:
            found = [(p.step, v) for p in metrics if (v := p.values()[name]) is not None]
            points.setData([step for step, _ in found], [value for _, value in found])
        events = await self.services.jobs.events(job.id)
        self.events.setPlainText("\n".join(f"{e.level}: {e.message}" for e in events))
        self.checkpoints.set_checkpoints(await self.services.jobs.checkpoints(job.id))

    def _pointed(self, position: QPointF) -> None:
        """The numbers of the step nearest the pointer, on the line under the chart."""
        if not self._points:
            return
        step = self.chart.getPlotItem().vb.mapSceneToView(position).x()
        self.hover.setText(step_numbers(min(self._points, key=lambda p: abs(p.step - step))))

    async def pause_selected(self) -> None:
        job = self._chosen()
        if job.status not in PAUSABLE_STATUSES:
            raise VoxdeskError(f"{job.id} is {job.status}; only a running job can be paused.")
        await self.services.fine_tuner.pause(job.id)
        await self.refresh_jobs()
        self.status.say(f"Paused {job.id}; Resume goes on from where it stopped.")

    async def resume_selected(self) -> None:
        job = self._chosen()
        await self.services.fine_tuner.resume(job.id)
        await self.refresh_jobs()
        self.follow(job.id)
        self.status.say(f"Resumed {job.id}.")

    def _chosen(self) -> JobRecord:
        job = self.selected_job()
        if job is None:
            raise VoxdeskError("Select a job first.")
        return job

    def selected_jobs(self) -> list[JobRecord]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.jobs.jobs[row] for row in rows]

    async def compare_selected(self) -> None:
        """Overlay the selected jobs' loss curves; their hyperparameters side by side."""
        jobs = self.selected_jobs()
        if len(jobs) < 2:
            raise VoxdeskError("Select two jobs or more to compare (Ctrl+click).")
        self.compare_chart.clear()
        for number, job in enumerate(jobs):
            metrics = await self.services.jobs.metrics(job.id)
            colour = pyqtgraph.intColor(number, hues=max(len(jobs), 3))
            steps = [point.step for point in metrics]
            self.compare_chart.plot(steps, _values(metrics, "train_loss"), connect="finite",
                                    pen=pyqtgraph.mkPen(colour, width=2),
                                    name=f"{job.id} training loss")  # fmt: skip
            self.compare_chart.plot(
                steps, _values(metrics, "valid_loss"), connect="finite",
                pen=pyqtgraph.mkPen(colour, width=2, style=Qt.PenStyle.DashLine),
                name=f"{job.id} validation loss",
            )  # fmt: skip
        self._fill_parameters(jobs)
        self.tabs.setCurrentIndex(1)

    def _fill_parameters(self, jobs: list[JobRecord]) -> None:
        rows = {"base model": [j.base_model for j in jobs], "method": [j.method for j in jobs],
                "dataset": [j.dataset or j.training_file for j in jobs],
                "status": [j.status for j in jobs]}  # fmt: skip
        names = sorted({name for job in jobs for name in job.parameters})
        rows |= {name: [str(job.parameters.get(name, "")) for job in jobs] for name in names}
        self.compare_table.clear()
        self.compare_table.setColumnCount(len(jobs))
        self.compare_table.setRowCount(len(rows))
        self.compare_table.setHorizontalHeaderLabels([job.id for job in jobs])
        self.compare_table.setVerticalHeaderLabels(list(rows))
        for row, values in enumerate(rows.values()):
            for column, value in enumerate(values):
                self.compare_table.setItem(row, column, QTableWidgetItem(str(value)))

    async def load_remote_jobs(self) -> None:
        """The account's jobs, every page, newest first."""
        found, after = [], None
        while True:
            page, more = await self.services.fine_tuner.list_jobs(limit=100, after=after)
            found += page
            if not more or not page:
                break
            after = page[-1].id
        recorded = {job.id for job in await self.services.jobs.jobs()}
        self.remote_jobs.set_jobs(found, recorded)
        jobs = "fine-tuning job" if len(found) == 1 else "fine-tuning jobs"
        self.status.say(f"The account has {len(found)} {jobs}.")

    async def track_selected(self) -> None:
        index = self.remote_table.currentIndex()
        if not index.isValid():
            raise VoxdeskError("Select one of the account's jobs first.")
        job = self.remote_jobs.jobs[index.row()]
        await self.services.fine_tuner.track(job.id)
        await self.refresh_jobs()
        self.remote_jobs.set_jobs(self.remote_jobs.jobs, self.remote_jobs.recorded | {job.id})
        self.follow(job.id)
        self.status.say(f"{job.id} is recorded here and followed.")

    async def use_checkpoint(self) -> None:
        """A checkpoint answers replies, as a finished job's model would."""
        index = self.checkpoint_table.currentIndex()
        if not index.isValid():
            raise VoxdeskError("Select a checkpoint first (a job's checkpoints are listed).")
        checkpoint: Checkpoint = self.checkpoints.checkpoints[index.row()]
        await self.services.settings_store.set("assistant.model", checkpoint.model)
        self.status.say(f"Replies now use {checkpoint.model} (step {checkpoint.step}).")

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


def _legend_below(chart: pyqtgraph.PlotWidget) -> pyqtgraph.LegendItem:
    """The curves' names under the plot, not over the curves; room around the plot for the
    axes' end labels (the top one was cut in half)."""
    plot = chart.getPlotItem()
    legend = pyqtgraph.LegendItem(colCount=2, verSpacing=-4)
    for curve in plot.listDataItems():
        legend.addItem(curve, curve.name())
    plot.layout.addItem(legend, 4, 1)  # under the bottom axis (row 3), beside no axis
    plot.layout.setContentsMargins(4, 12, 16, 4)
    return legend


def _row(*widgets: QWidget | None) -> QHBoxLayout:
    """Widgets in a row; None is a stretch."""
    row = QHBoxLayout()
    for widget in widgets:
        if widget is None:
            row.addStretch(1)
        else:
            row.addWidget(widget)
    return row


def _stacked(view: QWidget, buttons: QHBoxLayout) -> QWidget:
    """A view with its buttons under it, as one splitter pane."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(view, 1)
    layout.addLayout(buttons)
    return box


def _values(points: list[MetricPoint], name: str) -> list[float]:
    """One metric per step, NaN where the step has none (the curve leaves a gap, not a 0)."""
    return [math.nan if (v := point.values()[name]) is None else v for point in points]


def step_numbers(point: MetricPoint) -> str:
    labels = {"train_loss": "training loss", "train_mean_token_accuracy": "accuracy",
              "valid_loss": "validation loss", "valid_mean_token_accuracy": "validation accuracy",
              "full_valid_loss": "full validation loss",
              "full_valid_mean_token_accuracy": "full validation accuracy"}  # fmt: skip
    known = [f"{labels[k]} {v:.4f}" for k, v in point.values().items() if v is not None]
    return f"step {point.step}: " + (", ".join(known) or "no numbers")


def _spin(widget: Any, low: float, high: float, value: float, special: str = "") -> Any:
    widget.setRange(low, high)
    widget.setValue(value)
    if special:  # shown for the lowest value: 0 means "let OpenAI choose"
        widget.setSpecialValueText(special)
    return widget
