"""The SQLite database of training data and fine-tuning jobs: WAL, migrations, one thread.

Every statement runs on one worker thread that owns the connection, so nothing blocks the
event loop and SQLite never sees two threads. WAL with synchronous=NORMAL survives a killed
process: a transaction is either fully there after a restart or not at all.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import platformdirs
import psutil

from voxdesk.core.errors import VoxdeskError

T = TypeVar("T")

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE TABLE examples (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('chat', 'preference')),
        record TEXT NOT NULL,
        origin TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('candidate', 'approved', 'rejected')),
        tags TEXT NOT NULL DEFAULT '[]',
        note TEXT NOT NULL DEFAULT '',
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX examples_by_dataset ON examples (dataset_id, status, id);
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'interrupted')),
        pid INTEGER NOT NULL,
        lines_read INTEGER NOT NULL DEFAULT 0,
        imported INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    """,
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        dataset TEXT,
        base_model TEXT NOT NULL,
        method TEXT NOT NULL,
        parameters TEXT NOT NULL,
        training_file TEXT NOT NULL,
        validation_file TEXT,
        status TEXT NOT NULL,
        fine_tuned_model TEXT,
        error TEXT,
        estimated_cost REAL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE job_status_history (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE job_events (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX job_events_by_job ON job_events (job_id, created_at);
    CREATE TABLE job_metrics (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        train_loss REAL,
        train_mean_token_accuracy REAL,
        valid_loss REAL,
        valid_mean_token_accuracy REAL,
        PRIMARY KEY (job_id, step)
    );
    CREATE TABLE job_checkpoints (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        model TEXT NOT NULL,
        metrics TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # Resumable imports: the file they read (its hash) and the byte after their last commit;
    # the lines they rejected, committed with the batch they were read in.
    """
    ALTER TABLE imports ADD COLUMN file_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE imports ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX imports_by_file ON imports (dataset_id, file_hash);
    CREATE TABLE import_problems (
        import_id INTEGER NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
        line INTEGER NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX import_problems_by_import ON import_problems (import_id, line);
    """,
    # Evaluations: models answering a dataset split's prompts, every answer kept, by the job
    # whose models they are when the registry knows it. One answer per prompt and model.
    # Metrics gain the full validation pass OpenAI reports at epoch ends and in checkpoints.
    """
    CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY,
        job_id TEXT REFERENCES jobs(id) ON DELETE SET NULL,
        dataset TEXT NOT NULL,
        split TEXT NOT NULL,
        models TEXT NOT NULL,
        judge TEXT,
        state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'cancelled', 'failed')),
        estimated_cost REAL,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX evaluations_by_job ON evaluations (job_id);
    CREATE TABLE evaluation_answers (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
        example_id INTEGER NOT NULL,
        model TEXT NOT NULL,
        answer TEXT,
        error TEXT,
        similarity REAL,
        verdict TEXT,
        reasoning TEXT NOT NULL DEFAULT '',
        latency REAL NOT NULL,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost REAL,
        attempts INTEGER NOT NULL,
        PRIMARY KEY (evaluation_id, example_id, model)
    );
    ALTER TABLE job_metrics ADD COLUMN full_valid_loss REAL;
    ALTER TABLE job_metrics ADD COLUMN full_valid_mean_token_accuracy REAL;
    """,
    # The process running an evaluation: one left 'running' by a killed process reads as
    # interrupted.
    """
    ALTER TABLE evaluations ADD COLUMN pid INTEGER;
    """,
)


class DatabaseError(VoxdeskError):
    """The database cannot be opened or is damaged."""


def default_database_path() -> Path:
    return platformdirs.user_data_path("voxdesk") / "voxdesk.db"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Database:
    """An SQLite connection confined to one thread, driven with ``await db.run(fn)``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_database_path()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxdesk-db")
        self._connection: sqlite3.Connection | None = None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._connection = self._open()
        return work(self._connection)

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=5000")
            _migrate(connection)
        except sqlite3.DatabaseError as error:
            raise DatabaseError(
                f"The database {self.path} cannot be opened: {error}.",
                hint="If it is damaged, move it aside; Voxdesk starts a new one.",
            ) from error
        return connection

    async def close(self) -> None:
        def close(connection: sqlite3.Connection) -> None:
            connection.close()
            self._connection = None

        if self._connection is not None:
            await self.run(close)
        self._executor.shutdown(wait=True)


def _migrate(connection: sqlite3.Connection) -> None:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise DatabaseError(
            f"The database was written by a newer Voxdesk (schema {version}).",
            hint="Update Voxdesk.",
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; the BEGIN makes each migration all-or-nothing.
        connection.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    # This process imports on this connection only, which is new: an import 'running' under its
    # id was left by an earlier process with the same id (every new container counts from 1).
    connection.execute(
        "UPDATE imports SET state = 'interrupted' WHERE state = 'running' AND pid = ?",
        (os.getpid(),),
    )
    mark_interrupted_imports(connection)


def mark_interrupted_imports(connection: sqlite3.Connection) -> None:
    """An import 'running' in a process that no longer exists was killed with it."""
    for row in connection.execute("SELECT id, pid FROM imports WHERE state = 'running'"):
        if not _alive(row["pid"]):
            connection.execute(
                "UPDATE imports SET state = 'interrupted' WHERE id = ?", (row["id"],)
            )


def _alive(pid: int) -> bool:
    # Not os.kill(pid, 0): on Windows any signal but the console events terminates the process.
    return bool(psutil.pid_exists(pid))


class Transaction:
    """``with Transaction(connection):`` commits on success and rolls back on error."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self._connection.execute("BEGIN IMMEDIATE")
        return self._connection

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        self._connection.execute("COMMIT" if kind is None else "ROLLBACK")
