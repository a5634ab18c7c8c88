"""Importing JSONL and CSV into a dataset, streamed; exporting JSONL atomically.

Imports read one line at a time and commit in batches, each batch together with the import's
progress row, so a killed import leaves whole batches and an accurate record of how far it got.
A malformed line is reported with its number and the import goes on.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import random
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from voxdesk.core.training.database import Transaction, now
from voxdesk.core.training.scan import JSON_WHITESPACE
from voxdesk.core.training.store import (
    DatasetError,
    DatasetStore,
    NewExample,
    Origin,
    Status,
    insert_example,
    iter_records,
    kind_of,
)

BATCH_LINES = 1_000
MAX_REPORTED_PROBLEMS = 1_000  # listed one by one; the count stays exact beyond this
_CSV_COLUMNS = frozenset({"prompt", "completion"})  # needed; "system" may be there too
_CSV_DELIMITERS = (",", ";", "\t")
# JSON allows these unescaped, but str.splitlines() and some JSONL readers end a line at them.
_LINE_BREAKS_ESCAPED = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}

ProgressCallback = Callable[[int, int], None]
"""(bytes read, total bytes), called on the event loop."""


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str


@dataclass
class ImportResult:
    dataset: str
    lines_read: int = 0
    imported: int = 0
    rejected: int = 0
    problems: list[LineProblem] = field(default_factory=list)

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(LineProblem(line, message))


@dataclass(frozen=True)
class ExportResult:
    training: Path
    training_examples: int
    validation: Path | None = None
    validation_examples: int = 0


async def import_file(
    store: DatasetStore,
    dataset: str,
    path: Path,
    *,
    status: Status = Status.APPROVED,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import a .jsonl (chat or preference) or .csv (prompt, completion[, system]) file."""
    rows = _csv_rows if path.suffix.lower() == ".csv" else _jsonl_rows
    total = await asyncio.to_thread(_size_of, path)
    target = await store.ensure_dataset(dataset)
    loop = asyncio.get_running_loop()

    def report(done: int) -> None:
        if progress:
            loop.call_soon_threadsafe(progress, done, total)

    def work(connection: sqlite3.Connection) -> ImportResult:
        return _import(connection, target.id, dataset, path, rows, status, report)

    return await store.db.run(work)


def _size_of(path: Path) -> int:
    if not path.is_file():
        raise DatasetError(f"{path} is not a file.")
    return path.stat().st_size


def _import(
    connection: sqlite3.Connection,
    dataset_id: int,
    dataset: str,
    path: Path,
    rows: Callable[[Path], Iterator[tuple[int, int, Any]]],
    status: Status,
    report: Callable[[int], None],
) -> ImportResult:
    result = ImportResult(dataset)
    with Transaction(connection):
        cursor = connection.execute(
            "INSERT INTO imports (dataset_id, source, state, pid, started_at)"
            " VALUES (?, ?, 'running', ?, ?)",
            (dataset_id, str(path), os.getpid(), now()),
        )
    import_id = cursor.lastrowid
    batch: list[NewExample] = []
    position = 0
    for line, position, record in rows(path):
        result.lines_read = line
        if isinstance(record, LineProblem):
            result.reject(record.line, record.message)
        else:
            batch.append(NewExample(record, origin=Origin.IMPORT, status=status))
        if len(batch) >= BATCH_LINES:
            _commit(connection, dataset_id, import_id, batch, result, "running")
            batch = []
            report(position)
    _commit(connection, dataset_id, import_id, batch, result, "finished")
    report(position)
    return result


def _commit(
    connection: sqlite3.Connection,
    dataset_id: int,
    import_id: int | None,
    batch: list[NewExample],
    result: ImportResult,
    state: str,
) -> None:
    with Transaction(connection):
        for example in batch:
            insert_example(connection, dataset_id, example)
        result.imported += len(batch)
        connection.execute(
            "UPDATE imports SET state = ?, lines_read = ?, imported = ?, rejected = ?,"
            " finished_at = CASE WHEN ? = 'finished' THEN ? END WHERE id = ?",
            (state, result.lines_read, result.imported, result.rejected, state, now(), import_id),
        )


def _jsonl_rows(path: Path) -> Iterator[tuple[int, int, Any]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            position = handle.tell()
            if not raw.strip(JSON_WHITESPACE):
                continue
            yield number, position, _parse_record(number, raw)


def _parse_record(number: int, raw: bytes) -> Any:
    try:
        record = json.loads(raw)
    except UnicodeDecodeError:
        return LineProblem(number, "not UTF-8 text")
    except ValueError as error:
        return LineProblem(number, f"not valid JSON ({error.args[0].split(':')[0]})")
    if kind_of(record) is None:
        return LineProblem(
            number, "neither a chat example ('messages') nor a preference pair ('input', "
            "'preferred_output', 'non_preferred_output')",
        )  # fmt: skip
    return record


def _csv_rows(path: Path) -> Iterator[tuple[int, int, Any]]:
    with path.open("rb") as handle:
        position = [0]
        lines = _decoded_lines(handle, position, path)
        header = next(lines, "")
        reader = csv.DictReader(itertools.chain([header], lines), delimiter=_delimiter(header))
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        if not columns.keys() >= _CSV_COLUMNS:
            raise DatasetError(
                f"{path.name} needs 'prompt' and 'completion' columns "
                f"(found: {', '.join(columns) or 'none'})."
            )
        for row in reader:
            number = reader.line_num
            yield number, position[0], _csv_record(number, row, columns)


def _delimiter(header: str) -> str:
    """The separator that splits the header into named columns.

    Spreadsheets write ';' where the decimal separator is a comma (Russian and German
    locales, among others), and some exports use tabs.
    """
    for delimiter in _CSV_DELIMITERS:
        names = {name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter))}
        if names >= _CSV_COLUMNS:
            return delimiter
    return ","


def _decoded_lines(handle: Any, position: list[int], path: Path) -> Iterator[str]:
    """Text lines for the csv module, counting bytes read (text files cannot tell())."""
    for number, raw in enumerate(handle, start=1):
        position[0] += len(raw)
        try:
            line: str = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DatasetError(
                f"{path.name} is not UTF-8 text (line {number}).",
                hint="Save the CSV as UTF-8 and import it again.",
            ) from None
        yield line.removeprefix("\ufeff") if number == 1 else line


def _csv_record(number: int, row: dict[str, Any], columns: dict[str, str]) -> Any:
    prompt = (row.get(columns["prompt"]) or "").strip()
    completion = (row.get(columns["completion"]) or "").strip()
    if not prompt or not completion:
        return LineProblem(number, "empty prompt or completion")
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    system = (row.get(columns.get("system", ""), "") or "").strip()
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return {"messages": messages}


async def export_jsonl(
    store: DatasetStore,
    dataset: str,
    path: Path,
    *,
    kind: Literal["chat", "preference"] = "chat",
    statuses: tuple[Status, ...] = (Status.APPROVED,),
    validation_ratio: float = 0.0,
    seed: int = 0,
) -> ExportResult:
    """Write the dataset as JSONL; with a ratio, a seeded share goes to ``*.validation.jsonl``.

    Files are written under a temporary name, flushed to disk and renamed, so a reader never
    sees half a file. ``kind='preference'`` writes preference pairs, including those made from
    corrections (the corrected reply preferred over the wrong one).
    """
    if not 0.0 <= validation_ratio < 1.0:
        raise DatasetError("The validation share must be at least 0 and below 1.")
    target = await store.dataset(dataset)
    wanted = tuple(str(status) for status in statuses)

    def work(connection: sqlite3.Connection) -> ExportResult:
        ids = [row["id"] for row in iter_records(connection, target.id, wanted)
               if _exportable(row, kind)]  # fmt: skip
        if not ids:
            raise DatasetError(
                f"Dataset '{dataset}' has no {'/'.join(wanted)} {kind} examples to export.",
                hint="Approve candidates first (`voxdesk dataset approve`).",
            )
        held_out = _validation_ids(ids, validation_ratio, seed)
        validation = path.with_suffix(".validation.jsonl") if held_out else None
        with _atomic(path) as train_out, _atomic(validation) as valid_out:
            for row in iter_records(connection, target.id, wanted):
                line = _export_line(row, kind)
                if line is not None:
                    (valid_out if row["id"] in held_out else train_out).write(line)
        return ExportResult(path, len(ids) - len(held_out), validation, len(held_out))

    return await store.db.run(work)


def _exportable(row: sqlite3.Row, kind: str) -> bool:
    if kind == "chat":
        return bool(row["kind"] == "chat")
    return row["kind"] == "preference" or "rejected_reply" in json.loads(row["metadata"])


def _export_line(row: sqlite3.Row, kind: str) -> str | None:
    if not _exportable(row, kind):
        return None
    record = json.loads(row["record"])
    if kind == "preference" and row["kind"] == "chat":
        record = _pair_from_correction(record, json.loads(row["metadata"])["rejected_reply"])
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS_ESCAPED) + "\n"


def _pair_from_correction(record: dict[str, Any], wrong: str) -> dict[str, Any]:
    *conversation, corrected = record["messages"]
    return {
        "input": {"messages": conversation},
        "preferred_output": [corrected],
        "non_preferred_output": [{"role": "assistant", "content": wrong}],
    }


def _validation_ids(ids: list[int], ratio: float, seed: int) -> set[int]:
    count = round(len(ids) * ratio)
    if ratio > 0 and count == 0 and len(ids) > 1:
        count = 1
    return set(random.Random(seed).sample(ids, count))


class _atomic:
    """Write a text file under a temporary name; fsync and rename it into place on success."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._temp: Path | None = None
        self._handle: Any = None

    def __enter__(self) -> Any:
        if self._path is None:
            return None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        self._temp = Path(name)
        self._handle = os.fdopen(fd, "w", encoding="utf-8")
        return self._handle

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if self._handle is None or self._temp is None or self._path is None:
            return
        try:
            if kind is None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
            self._handle.close()
            if kind is None:
                self._temp.replace(self._path)
        finally:
            self._temp.unlink(missing_ok=True)
