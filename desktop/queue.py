"""The queue of files on the Record page: a table of the core queue's jobs, Cancel and Retry."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.stt.queue import JobState, TranscriptionJob, TranscriptionQueue
from voxdesk.desktop.tables import fit_new_rows

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("File", "Length", "Status", "Progress", "Engine")
FILE, STATUS, PROGRESS = (COLUMNS.index(name) for name in ("File", "Status", "Progress"))


class QueueModel(QAbstractTableModel):
    """One row per file, in the order queued; follows the queue's changes."""

    JobRole = Qt.ItemDataRole.UserRole + 1
    done = Signal(object)  # a TranscriptionJob just transcribed

    def __init__(self, queue: TranscriptionQueue) -> None:
        super().__init__()
        self.queue = queue
        self._rows: list[TranscriptionJob] = []
        self._row_of: dict[int, int] = {}
        queue.subscribe(self._changed)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        job = self._rows[index.row()]
        if role == self.JobRole:
            return job
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(job)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:  # what a cell is too narrow for
            return job.error if index.column() == STATUS and job.error else str(job.path)
        return None

    def job_at(self, row: int) -> TranscriptionJob:
        return self._rows[row]

    def _changed(self, job: TranscriptionJob) -> None:
        row = self._row_of.get(job.id)
        if row is None:
            row = len(self._rows)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.append(job)
            self._row_of[job.id] = row
            self.endInsertRows()
            return
        was = self._rows[row].state
        self._rows[row] = job
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        if job.state is JobState.DONE and was is not JobState.DONE:
            self.done.emit(job)


def _cells(job: TranscriptionJob) -> tuple[str, str, str, str, str]:
    length = "" if job.duration is None else _clock(job.duration)
    status = job.state.value  # why it failed: in the tooltip and the status line
    engine = f"{job.engine} {job.model}".strip()
    return job.name, length, status, f"{job.progress:.0%}", engine


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return (
        f"{minutes // 60}:{minutes % 60:02}:{seconds:02}"
        if minutes >= 60
        else f"{minutes}:{seconds:02}"
    )


class _ProgressDelegate(QStyledItemDelegate):
    """The progress column as a bar, while a file is being transcribed."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        job = index.data(QueueModel.JobRole)
        if not isinstance(job, TranscriptionJob) or job.state is not JobState.TRANSCRIBING:
            super().paint(painter, option, index)
            return
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(2, 4, -2, -4)
        bar.minimum, bar.maximum = 0, 100
        bar.progress = round(job.progress * 100)
        bar.text = f"{job.progress:.0%}"
        bar.textVisible = True
        style = QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class QueueView(QWidget):
    """The files, with Cancel and Retry for the selected ones."""

    def __init__(self, queue: TranscriptionQueue) -> None:
        super().__init__()
        self.model = QueueModel(queue)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(PROGRESS, _ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        # A name keeps its start and its extension; the why of a failure is the status line's
        # and the cell's tooltip's, so that no column pushes the others out of view.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Stretch)
        fit_new_rows(self.table)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the selected files, waiting or under way")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Queue the selected failed or cancelled files again")
        self.retry_button.clicked.connect(self.retry_selected)
        self.table.selectionModel().selectionChanged.connect(self._enable)
        self.model.dataChanged.connect(self._enable)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Files"))
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.retry_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.table)
        self._enable()

    def selected(self) -> list[TranscriptionJob]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [self.model.job_at(row) for row in rows]

    def cancel_selected(self) -> None:
        for job in self.selected():
            self.model.queue.cancel(job.id)

    def retry_selected(self) -> None:
        for job in self.selected():
            self.model.queue.retry(job.id)

    def _enable(self) -> None:
        states = {job.state for job in self.selected()}
        self.cancel_button.setEnabled(bool(states & {JobState.WAITING, JobState.TRANSCRIBING}))
        self.retry_button.setEnabled(bool(states & {JobState.FAILED, JobState.CANCELLED}))
