"""The fine-tuning jobs started here, as a table with a status badge per job."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from core.training.jobs import JobRecord

COLUMNS = ("Job", "Status", "Base model", "Dataset", "Fine-tuned model")
Index = QModelIndex | QPersistentModelIndex
BADGES = {"succeeded": "#2e7d32", "failed": "#c62828", "cancelled": "#757575",
          "running": "#1565c0", "queued": "#6a1b9a", "validating_files": "#6a1b9a"}  # fmt: skip


class JobsModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[JobRecord] = []

    def set_jobs(self, jobs: list[JobRecord]) -> None:
        self.beginResetModel()
        self.jobs = jobs
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self.jobs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # fmt: skip
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        job = self.jobs[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return job
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            return QColor(BADGES.get(job.status, "#000000"))
        if role == Qt.ItemDataRole.DisplayRole:
            values = (job.id, job.status, job.base_model, job.dataset or job.training_file,
                      job.fine_tuned_model or "")  # fmt: skip
            return values[index.column()]
        return None
