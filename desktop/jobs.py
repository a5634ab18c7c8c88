"""The fine-tuning jobs started here, as a table with a status badge per job."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from voxdesk.core.training.jobs import JobRecord
from voxdesk.desktop.tables import RowsModel

COLUMNS = ("Job", "Status", "Base model", "Dataset", "Fine-tuned model")
Index = QModelIndex | QPersistentModelIndex
BADGES = {"succeeded": "#2e7d32", "failed": "#c62828", "cancelled": "#757575",
          "running": "#1565c0", "queued": "#6a1b9a", "validating_files": "#6a1b9a"}  # fmt: skip


class JobsModel(RowsModel):
    columns = COLUMNS

    @property
    def jobs(self) -> list[JobRecord]:
        return self.rows

    def set_jobs(self, jobs: list[JobRecord]) -> None:
        self.beginResetModel()
        self.rows = jobs
        self.endResetModel()

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
