"""Fine-tuning jobs as tables: those recorded here (a status badge each), a job's checkpoints,
and the account's jobs on OpenAI."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from voxdesk.core.training.jobs import Checkpoint, JobRecord, JobSnapshot
from voxdesk.desktop.tables import RowsModel

COLUMNS = ("Job", "Status", "Base model", "Dataset", "Fine-tuned model")
Index = QModelIndex | QPersistentModelIndex
BADGES = {"succeeded": "#2e7d32", "failed": "#c62828", "cancelled": "#757575",
          "running": "#1565c0", "queued": "#6a1b9a", "validating_files": "#6a1b9a",
          "paused": "#ef6c00"}  # fmt: skip


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
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):  # tip: if elided
            values = (job.id, job.status, job.base_model, job.dataset or job.training_file,
                      job.fine_tuned_model or "")  # fmt: skip
            return values[index.column()]
        return None


class CheckpointsModel(RowsModel):
    """A job's checkpoints: each is a model that can answer, with its step's metrics."""

    # Short headers, the numbers are short: the model's name (last) gets the room left.
    columns = ("Step", "Train loss", "Val. loss", "Full val. loss", "Full val. acc.", "Model")
    _tips = (
        "",
        "Training loss",
        "Validation loss",
        "Full validation loss",
        "Full validation token accuracy",
        "The checkpoint's model, which can answer",
    )
    _metrics = ("train_loss", "valid_loss", "full_valid_loss", "full_valid_mean_token_accuracy")
    MODEL = len(columns) - 1

    @property
    def checkpoints(self) -> list[Checkpoint]:
        return self.rows

    def set_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        self.beginResetModel()
        self.rows = sorted(checkpoints, key=lambda c: c.step, reverse=True)
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        checkpoint = self.checkpoints[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return checkpoint
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == self.MODEL:
            return checkpoint.model
        if role == Qt.ItemDataRole.DisplayRole:
            values = [checkpoint.metrics.get(name) for name in self._metrics]
            shown = ["" if v is None else f"{v:.4f}" for v in values]
            return (str(checkpoint.step), *shown, checkpoint.model)[index.column()]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # fmt: skip
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            return self._tips[section] or None
        return super().headerData(section, orientation, role)


class RemoteJobsModel(RowsModel):
    """The account's jobs on OpenAI, and whether this machine records them."""

    columns = ("Job", "Status", "Base model", "Fine-tuned model", "Recorded here")

    def __init__(self) -> None:
        super().__init__()
        self.recorded: set[str] = set()

    @property
    def jobs(self) -> list[JobSnapshot]:
        return self.rows

    def set_jobs(self, jobs: list[JobSnapshot], recorded: set[str]) -> None:
        self.beginResetModel()
        self.rows, self.recorded = jobs, recorded
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        job = self.jobs[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return job
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (job.id, job.status, job.base_model, job.fine_tuned_model or "",
                      "yes" if job.id in self.recorded else "")  # fmt: skip
            return values[index.column()]
        return None
