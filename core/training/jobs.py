"""The local record of every fine-tuning job started here (it replaces the old job-id file).

Per job: its dataset, parameters, status history, events (de-duplicated by id), metrics per
step, checkpoints and resulting model. Following a job resumes from this record after a restart.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voxdesk.core.training.database import Database, Transaction, now

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
PAUSABLE_STATUSES = frozenset({"running"})


@dataclass(frozen=True)
class JobSnapshot:
    """A fine-tuning job as the API last described it."""

    id: str
    status: str
    base_model: str
    training_file: str
    validation_file: str | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    method: str = "supervised"
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class JobEvent:
    id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any] | None:
        return self.data if self.type == "metrics" and "step" in self.data else None


@dataclass(frozen=True)
class Checkpoint:
    id: str
    step: int
    model: str
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobRecord:
    id: str
    dataset: str | None
    base_model: str
    method: str
    parameters: dict[str, Any]
    training_file: str
    validation_file: str | None
    status: str
    fine_tuned_model: str | None
    error: str | None
    estimated_cost: float | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class MetricPoint:
    step: int
    train_loss: float | None
    train_mean_token_accuracy: float | None
    valid_loss: float | None
    valid_mean_token_accuracy: float | None
    full_valid_loss: float | None = None  # a pass over the whole validation file
    full_valid_mean_token_accuracy: float | None = None

    def values(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in METRIC_FIELDS}


METRIC_FIELDS = ("train_loss", "train_mean_token_accuracy", "valid_loss",
                 "valid_mean_token_accuracy", "full_valid_loss",
                 "full_valid_mean_token_accuracy")  # fmt: skip


class JobRegistry:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def record(
        self, job: JobSnapshot, *, dataset: str | None, estimated_cost: float | None
    ) -> None:
        def insert(connection: sqlite3.Connection) -> None:
            stamp = now()
            with Transaction(connection):
                connection.execute(
                    "INSERT OR IGNORE INTO jobs (id, dataset, base_model, method, parameters,"
                    " training_file, validation_file, status, fine_tuned_model, error,"
                    " estimated_cost, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.id, dataset, job.base_model, job.method, json.dumps(job.parameters),
                     job.training_file, job.validation_file, job.status, job.fine_tuned_model,
                     job.error, estimated_cost, stamp, stamp),
                )  # fmt: skip
                _history(connection, job.id, job.status)

        await self.db.run(insert)

    async def update(self, job: JobSnapshot) -> bool:
        """Store the job's latest state; True when its status changed."""

        def update(connection: sqlite3.Connection) -> bool:
            with Transaction(connection):
                row = connection.execute("SELECT status FROM jobs WHERE id = ?", (job.id,))
                found = row.fetchone()
                if found is None:
                    return False
                connection.execute(
                    "UPDATE jobs SET status = ?, fine_tuned_model = ?, error = ?, updated_at = ?"
                    " WHERE id = ?",
                    (job.status, job.fine_tuned_model, job.error, now(), job.id),
                )
                if found["status"] != job.status:
                    _history(connection, job.id, job.status)
                    return True
                return False

        return await self.db.run(update)

    async def add_events(self, job_id: str, events: Sequence[JobEvent]) -> list[JobEvent]:
        """Store events; returns only those not seen before, oldest first."""

        def insert(connection: sqlite3.Connection) -> list[JobEvent]:
            new = []
            with Transaction(connection):
                for event in sorted(events, key=lambda e: (e.created_at, e.id)):
                    cursor = connection.execute(
                        "INSERT OR IGNORE INTO job_events (id, job_id, created_at, level, message,"
                        " data) VALUES (?, ?, ?, ?, ?, ?)",
                        (event.id, job_id, event.created_at, event.level, event.message,
                         json.dumps({"type": event.type, **event.data})),
                    )  # fmt: skip
                    if cursor.rowcount:
                        new.append(event)
                        if event.metrics:
                            _metrics(connection, job_id, event.metrics)
            return new

        return await self.db.run(insert)

    async def add_checkpoints(
        self, job_id: str, checkpoints: Sequence[Checkpoint]
    ) -> list[Checkpoint]:
        def insert(connection: sqlite3.Connection) -> list[Checkpoint]:
            new = []
            with Transaction(connection):
                for checkpoint in checkpoints:
                    cursor = connection.execute(
                        "INSERT OR IGNORE INTO job_checkpoints (id, job_id, step, model, metrics)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (checkpoint.id, job_id, checkpoint.step, checkpoint.model,
                         json.dumps(checkpoint.metrics)),
                    )  # fmt: skip
                    if cursor.rowcount:
                        new.append(checkpoint)
                        # A checkpoint may carry the step's full validation pass.
                        _metrics(connection, job_id, {**checkpoint.metrics,
                                                      "step": checkpoint.step})  # fmt: skip
            return new

        return await self.db.run(insert)

    async def jobs(self) -> list[JobRecord]:
        def query(connection: sqlite3.Connection) -> list[JobRecord]:
            rows = connection.execute("SELECT * FROM jobs ORDER BY created_at DESC")
            return [_job(row) for row in rows]

        return await self.db.run(query)

    async def job(self, job_id: str) -> JobRecord | None:
        def query(connection: sqlite3.Connection) -> JobRecord | None:
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return _job(row) if row else None

        return await self.db.run(query)

    async def unfinished(self) -> list[JobRecord]:
        return [job for job in await self.jobs() if job.status not in TERMINAL_STATUSES]

    async def events(self, job_id: str) -> list[JobEvent]:
        def query(connection: sqlite3.Connection) -> list[JobEvent]:
            rows = connection.execute(
                "SELECT * FROM job_events WHERE job_id = ? ORDER BY created_at, id", (job_id,)
            )
            return [_event(row) for row in rows]

        return await self.db.run(query)

    async def status_history(self, job_id: str) -> list[str]:
        def query(connection: sqlite3.Connection) -> list[str]:
            rows = connection.execute(
                "SELECT status FROM job_status_history WHERE job_id = ? ORDER BY rowid", (job_id,)
            )
            return [row["status"] for row in rows]

        return await self.db.run(query)

    async def metrics(self, job_id: str) -> list[MetricPoint]:
        def query(connection: sqlite3.Connection) -> list[MetricPoint]:
            rows = connection.execute(
                "SELECT * FROM job_metrics WHERE job_id = ? ORDER BY step", (job_id,)
            )
            return [MetricPoint(row["step"], *(row[name] for name in METRIC_FIELDS))
                    for row in rows]  # fmt: skip

        return await self.db.run(query)

    async def checkpoints(self, job_id: str) -> list[Checkpoint]:
        def query(connection: sqlite3.Connection) -> list[Checkpoint]:
            rows = connection.execute(
                "SELECT * FROM job_checkpoints WHERE job_id = ? ORDER BY step", (job_id,)
            )
            return [Checkpoint(r["id"], r["step"], r["model"], json.loads(r["metrics"]))
                    for r in rows]  # fmt: skip

        return await self.db.run(query)


def _history(connection: sqlite3.Connection, job_id: str, status: str) -> None:
    connection.execute(
        "INSERT INTO job_status_history (job_id, status, at) VALUES (?, ?, ?)",
        (job_id, status, now()),
    )


def _metrics(connection: sqlite3.Connection, job_id: str, data: dict[str, Any]) -> None:
    """Merge a step's metrics: a value already known is kept where the new data has none."""
    values = [_number(data.get(name)) for name in METRIC_FIELDS]
    merged = ", ".join(f"{name} = COALESCE(excluded.{name}, {name})" for name in METRIC_FIELDS)
    connection.execute(
        f"INSERT INTO job_metrics (job_id, step, {', '.join(METRIC_FIELDS)})"
        f" VALUES (?, ?, {', '.join('?' for _ in METRIC_FIELDS)})"
        f" ON CONFLICT (job_id, step) DO UPDATE SET {merged}",
        (job_id, int(data["step"]), *values),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _job(row: sqlite3.Row) -> JobRecord:
    values = dict(row)
    values["parameters"] = json.loads(values["parameters"])
    return JobRecord(**values)


def _event(row: sqlite3.Row) -> JobEvent:
    data = json.loads(row["data"])
    kind = data.pop("type", "message")
    return JobEvent(row["id"], row["created_at"], row["level"], row["message"], kind, data)
