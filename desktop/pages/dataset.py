"""Training data: datasets, their examples, review, editing, import/export and validation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSignalBlocker, Qt
from PySide6.QtGui import QShowEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.services import Services
from voxdesk.core.training.findings import Finding
from voxdesk.core.training.store import Example, Status, kind_of
from voxdesk.core.training.transfer import export_jsonl, import_file
from voxdesk.core.training.validator import validate_file_async, with_example_ids
from voxdesk.desktop.actions import Actions, StatusLine
from voxdesk.desktop.examples import COLUMNS, ExamplesModel
from voxdesk.desktop.tables import row_table

ROLE_NAME = Qt.ItemDataRole.UserRole
ROLE_FINDING = Qt.ItemDataRole.UserRole + 1
STATUSES = ("all", "candidate", "approved", "rejected")
NO_DATASET = ("No training data yet: Import… a JSONL or CSV file, or add examples with Add to "
              "dataset (Record page) or Correct reply… (Discord page).")  # fmt: skip


class DatasetPage(QWidget):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.status = StatusLine()
        self.background = Actions(self.status)
        self.datasets = QStandardItemModel()
        self.examples = ExamplesModel(services.datasets)
        self.findings = QStandardItemModel()
        self._filled = False  # the dataset list, read once (the window's start)
        self._build()

    def _build(self) -> None:
        bar = self._toolbar()
        self.dataset_list = QListView()
        self.dataset_list.setModel(self.datasets)
        self.dataset_list.setWordWrap(True)
        self.dataset_list.selectionModel().currentChanged.connect(lambda *_: self.reload())
        split = QSplitter()
        split.addWidget(self.dataset_list)
        split.addWidget(self._examples_table())
        split.addWidget(self._report_panel())
        split.setSizes([150, 720, 250])
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.background.stop)
        self.working = QWidget()  # shown while an import or a validation runs
        working = QHBoxLayout(self.working)
        working.setContentsMargins(0, 0, 0, 0)
        working.addWidget(self.progress, 1)
        working.addWidget(self.cancel_button)
        self.working.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        layout.addWidget(self.working)
        layout.addWidget(self.status)

    def _toolbar(self) -> QHBoxLayout:
        """The filter, the search and a button for each action."""
        self.status_filter = QComboBox()
        self.status_filter.addItems(STATUSES)
        self.status_filter.currentTextChanged.connect(lambda _: self.reload())
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text and notes…")
        self.search.returnPressed.connect(self.reload)
        buttons = {
            "Import…": self.choose_import, "Export…": self.choose_export,
            "Validate": lambda: self.background.run(self.validate()), "Approve": self.approve,
            "Reject": self.reject, "Edit…": lambda: self.edit_selected(),
        }  # fmt: skip
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.status_filter)
        bar.addWidget(self.search, 1)
        self.buttons: dict[str, QPushButton] = {}
        for label, action in buttons.items():
            button = QPushButton(label)
            button.clicked.connect(action)
            bar.addWidget(button)
            self.buttons[label] = button
        return bar

    def _examples_table(self) -> QTableView:
        self.table = row_table(self.examples, QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        # Id, status and origin as wide as they read; question, answer and note share the rest
        # (a long text ends in "…", whole in its tooltip): no column is pushed out of view.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in (COLUMNS.index("Question"), COLUMNS.index("Answer"), COLUMNS.index("Note")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        return self.table

    def _report_panel(self) -> QWidget:
        """The validation report, each finding a link to its example."""
        self.finding_list = QListView()
        self.finding_list.setModel(self.findings)
        self.finding_list.setWordWrap(True)
        self.finding_list.clicked.connect(
            lambda index: self.background.run(self.show_finding(index.row()))
        )
        self.report = QLabel("Validate to check the examples shown, line by line.")
        self.report.setWordWrap(True)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.report)
        side_layout.addWidget(self.finding_list, 1)
        return side

    # --- loading --------------------------------------------------------------------------------

    async def refresh(self, select: str | None = None) -> None:
        """Rebuild the dataset list (keeping or choosing the selection), then load it once."""
        current = select or self.current_dataset()
        with QSignalBlocker(self.dataset_list.selectionModel()):
            await self._fill_datasets(current)
        await self.load()

    def showEvent(self, event: QShowEvent) -> None:
        # Examples added on other pages or by the bot since (a correction, a transcript).
        if self._filled:
            self.background.run(self.catch_up())
        super().showEvent(event)

    async def catch_up(self) -> None:
        """The dataset list again, and the examples only if a count changed: the table keeps
        its place and selection when nothing came."""
        before = self._listed()
        with QSignalBlocker(self.dataset_list.selectionModel()):
            await self._fill_datasets(self.current_dataset())
        if self._listed() != before:
            await self.load()

    def _listed(self) -> list[str]:
        return [self.datasets.item(row).text() for row in range(self.datasets.rowCount())]

    async def _fill_datasets(self, current: str | None) -> None:
        self.datasets.clear()
        for dataset in await self.services.datasets.datasets():
            counts = dataset.counts
            item = QStandardItem(f"{dataset.name}\n{counts.get('approved', 0)} approved, "
                                 f"{counts.get('candidate', 0)} to review")  # fmt: skip
            item.setData(dataset.name, ROLE_NAME)
            item.setEditable(False)
            self.datasets.appendRow(item)
            if dataset.name == current:
                self.dataset_list.setCurrentIndex(item.index())
        if self.datasets.rowCount() and not self.dataset_list.currentIndex().isValid():
            self.dataset_list.setCurrentIndex(self.datasets.index(0, 0))
        if not self.datasets.rowCount():  # a new user's empty page says how to fill it
            self.status.say(NO_DATASET)
        elif self.status.text() == NO_DATASET:  # filled since: the hint is done
            self.status.say("")
        self._filled = True

    def current_dataset(self) -> str | None:
        index = self.dataset_list.currentIndex()
        name = index.data(ROLE_NAME) if index.isValid() else None
        return str(name) if name else None

    def chosen_dataset(self) -> str:
        """The selected dataset; raises what to do when there is none (or none yet)."""
        if (dataset := self.current_dataset()) is None:
            raise VoxdeskError(NO_DATASET if not self.datasets.rowCount() else
                               "Select a dataset first.")  # fmt: skip
        return dataset

    def reload(self) -> None:
        self.background.run(self.load())

    async def load(self) -> None:
        chosen = self.status_filter.currentText()
        status = None if chosen == "all" else Status(chosen)
        await self.examples.show(self.current_dataset(), status, self.search.text().strip())

    # --- review ---------------------------------------------------------------------------------

    def selected_examples(self) -> list[Example]:
        rows = self.table.selectionModel().selectedRows()
        return [self.examples.rows[index.row()] for index in rows]

    def approve(self) -> None:
        self.background.run(self._set_status(Status.APPROVED))

    def reject(self) -> None:
        self.background.run(self._set_status(Status.REJECTED))

    async def _set_status(self, status: Status) -> None:
        chosen = self.selected_examples()
        if not chosen:
            raise VoxdeskError("Select the examples first.")
        change = await self.services.datasets.set_status([e.id for e in chosen], status)
        for example in chosen:
            self.examples.replace(await self.services.datasets.get(example.id))
        await self.refresh()
        self.status.say(change.summary(), error=bool(change.problems))

    def edit_selected(self, text: str | None = None) -> None:
        chosen = self.selected_examples()
        if len(chosen) != 1:
            self.status.say("Select one example to edit.", error=True)
            return
        if text is None:
            current = json.dumps(chosen[0].record, ensure_ascii=False, indent=2)
            text, ok = QInputDialog.getMultiLineText(self, "Edit example", "JSON record:", current)
            if not ok:
                return
        self.background.run(self._save_edit(chosen[0], text))

    async def _save_edit(self, example: Example, text: str) -> None:
        try:
            record = json.loads(text)
        except ValueError as error:
            raise VoxdeskError(f"That is not valid JSON ({error.args[0]}).") from None
        if kind_of(record) is None:
            raise VoxdeskError("An example needs a 'messages' list or a preference pair.")
        self.examples.replace(await self.services.datasets.update(example.id, record=record))
        self.status.say(f"Saved example {example.id}.")

    # --- import, export, validate -----------------------------------------------------------------

    def choose_import(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Import training data", "", "Training data (*.jsonl *.csv);;All files (*)"
        )
        if name:
            dataset, ok = QInputDialog.getText(
                self, "Import", "Into dataset:", text=self.current_dataset() or "discord"
            )
            if ok and dataset.strip():
                self.background.run(self.import_path(Path(name), dataset.strip()))

    async def import_path(self, path: Path, dataset: str) -> None:
        def progressed(done: int, total: int) -> None:
            self.show_progress(done / max(total, 1))

        try:
            with self._working("Import cancelled; the examples committed before are kept, and "
                               "importing the same file again goes on from there."):  # fmt: skip
                result = await import_file(
                    self.services.datasets, dataset, path, progress=progressed
                )
        finally:
            await self.refresh(select=dataset)
        problems = result.problems
        first = f" First: line {problems[0].line}, {problems[0].message}." if problems else ""
        self.status.say(result.summary(path.name) + first, error=bool(result.rejected))

    def choose_export(self) -> None:
        try:
            dataset = self.chosen_dataset()
        except VoxdeskError as error:
            self.status.fail(error)
            return
        name, _ = QFileDialog.getSaveFileName(
            self, "Export approved examples", f"{dataset}.jsonl", "JSONL (*.jsonl)"
        )
        if name:
            self.background.run(self.export_to(Path(name)))

    async def export_to(self, path: Path) -> None:
        dataset = self.chosen_dataset()
        result = await export_jsonl(self.services.datasets, dataset, path)
        self.status.say(f"Exported {result.summary()} ({path.parent}).")

    async def validate(self) -> None:
        """Validate the examples shown (current dataset and filter), in table order."""
        dataset = self.chosen_dataset()
        with tempfile.TemporaryDirectory(prefix="voxdesk-validate-") as folder:
            path = Path(folder) / "shown.jsonl"
            shown = await self._write_shown(dataset, path)  # example ids, in line order
            model = self.services.settings.discord.fine_tune_model
            with self._working("Validation cancelled."):
                report = await validate_file_async(path, model=model, progress=self.show_progress)
        report = with_example_ids(report, shown)  # "same as example 12", not line 2
        self.findings.clear()
        for finding in report.findings:
            item = QStandardItem(f"{finding.where} {finding.severity}: {finding.message}")
            item.setData(finding, ROLE_FINDING)
            item.setEditable(False)
            self.findings.appendRow(item)
        cost = f", about ${report.cost.dollars:,.2f} to train" if report.cost else ""
        verdict = "ready to fine-tune" if report.ok else "errors to fix before fine-tuning"
        self.report.setText(f"{report.examples} examples, {verdict}. {len(report.findings)} "
                            f"findings; {report.epochs} epochs, ~{report.charged_tokens:,} "
                            f"tokens{cost}. Click a finding to select its example.")  # fmt: skip

    async def _write_shown(self, dataset: str, path: Path) -> list[int]:
        """Write the examples the table shows (all pages, not only those loaded) to ``path``."""
        ids: list[int] = []
        filters = self.examples
        shown = self.services.datasets.each_example(
            dataset, status=filters.status, search=filters.search or None
        )
        with path.open("w", encoding="utf-8") as out:
            async for example in shown:
                ids.append(example.id)
                out.write(json.dumps(example.record, ensure_ascii=False) + "\n")
        return ids

    async def show_finding(self, row: int) -> None:
        finding = self.findings.item(row).data(ROLE_FINDING)
        if not isinstance(finding, Finding) or finding.example is None:
            return
        table_row = await self.examples.row_of(finding.example)
        if table_row is not None:
            index = self.examples.index(table_row, 0)
            self.table.selectionModel().select(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
            self.table.scrollTo(index)

    # --- helpers ----------------------------------------------------------------------------------

    def show_progress(self, share: float) -> None:
        self.progress.setValue(round(share * 100))

    @contextlib.contextmanager
    def _working(self, on_cancel: str) -> Iterator[None]:
        """The progress bar and its Cancel button while the block runs."""
        self.progress.setValue(0)
        self.working.show()
        try:
            yield
        except asyncio.CancelledError:
            self.status.say(on_cancel)
            raise
        finally:
            self.working.hide()

    async def shutdown(self) -> None:
        await self.background.cancel()
