"""Importing JSONL and CSV into a dataset, streamed and resumable; exporting JSONL atomically.

Imports read one line at a time and commit in batches, each batch together with the lines it
rejected and the import's progress row (the byte after its last line). A killed import thus
leaves whole batches and an exact record of how far it got: importing the same file into the
same dataset again goes on from there, and once an import has finished, doing it again changes
nothing. A malformed line, or one the dataset already holds, is reported with its number and
the import goes on. An example that fine-tuning would refuse, or that holds a secret, is
imported as a candidate with a note saying why, never approved: a curator fixes it first.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import functools
import json
import os
import random
import sqlite3
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
from xxhash import xxh3_64_intdigest, xxh3_128

from voxdesk.core.training.checks import example_problems
from voxdesk.core.training.database import Transaction, mark_interrupted_imports, now
from voxdesk.core.training.findings import describe_all, fix_note, name_examples
from voxdesk.core.training.scan import JSON_WHITESPACE, UTF8_BOM, check_text
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
from voxdesk.core.work import check_cancelled

BATCH_LINES = 1_000  # lines, good or bad, committed together
MAX_REPORTED_PROBLEMS = 1_000  # in ImportResult; every one is kept in the database
# Python's json module, which stores and exports records, recurses once per level: a record
# must stay well below the interpreter's recursion limit (1,000) wherever it is read.
MAX_NESTING = 100
# The split `voxdesk finetune split` tags and evaluations ask (evaluate.DEFAULT_SPLIT).
VALIDATION_TAG = "validation"
_CSV_COLUMNS = frozenset({"prompt", "completion"})  # needed; "system" may be there too
_CSV_DELIMITERS = (",", ";", "\t")
_READ_BLOCK = 1 << 20
# How a repeated example's line is rejected; the import counts these lines by their message.
_IN_DATASET = "already in the dataset as example"
_IN_FILE = "the same example as line"
# JSON allows these unescaped, but str.splitlines() and some JSONL readers end a line at them.
_LINE_BREAKS_ESCAPED = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}

ProgressCallback = Callable[[int, int], None]
"""(bytes read, total bytes), called on the event loop."""
Rows = Callable[[Path, int, int], Iterator[tuple[int, int, Any]]]
"""(file, byte to start at, lines before it) -> (line, byte after it, record or LineProblem)."""


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str


@dataclass(frozen=True)
class HeldExample:
    """An imported example kept as a candidate: fine-tuning would refuse it, or it holds a
    secret."""

    line: int
    example_id: int
    problems: list[str]  # finding codes

    @property
    def message(self) -> str:
        return describe_all(self.problems)


@dataclass
class ImportResult:
    dataset: str
    import_id: int = 0
    lines_read: int = 0
    imported: int = 0
    rejected: int = 0
    problems: list[LineProblem] = field(default_factory=list)  # the first MAX_REPORTED_PROBLEMS
    resumed_after_line: int = 0  # an interrupted import of the file went on after this line
    finished_before: str | None = None  # when the file had already been imported in full
    held: int = 0  # of the imported, candidates still to fix (see HeldExample)
    held_examples: list[HeldExample] = field(default_factory=list)  # the first reported
    repeats: int = 0  # of the rejected, examples the dataset or the file held already

    @property
    def found_nothing(self) -> bool:
        """No line held an example: the file was of no use (a failed import). Repeats are
        examples found: importing a grown export again with nothing new is a success."""
        return not self.imported and not self.repeats

    def summary(self, file_name: str) -> str:
        """One line for the user: what was imported, and whether it went on or was done before."""
        counts = (f"{self.imported} examples into '{self.dataset}' from {self.lines_read} lines; "
                  f"{self.rejected} rejected")  # fmt: skip
        if self.held:
            counts += f"; {self.held} to fix, kept as candidates"
        if self.finished_before:
            return (f"Nothing changed: {file_name} was imported in full on "
                    f"{self.finished_before[:10]} ({counts}).")  # fmt: skip
        if self.resumed_after_line:
            return (f"Imported {counts}, taking up an interrupted import of this file after line "
                    f"{self.resumed_after_line}.")  # fmt: skip
        return f"Imported {counts}."


@dataclass(frozen=True)
class ImportRecord:
    """An import as the database remembers it."""

    id: int
    dataset: str
    source: str
    state: Literal["running", "finished", "interrupted"]
    lines_read: int
    imported: int
    rejected: int
    started_at: str
    finished_at: str | None


@dataclass(frozen=True)
class _Source:
    path: Path
    size: int
    digest: str
    rows: Rows


@dataclass(frozen=True)
class ExportResult:
    training: Path
    training_examples: int
    validation: Path | None = None
    validation_examples: int = 0
    # The example on each line of the training and validation files, in order.
    training_ids: list[int] = field(default_factory=list, repr=False)
    validation_ids: list[int] = field(default_factory=list, repr=False)
    problems: dict[int, list[str]] = field(default_factory=dict)  # written, but failing checks

    @property
    def files(self) -> list[Path]:
        return [self.training] + ([self.validation] if self.validation else [])

    def summary(self) -> str:
        """What was written, for every front end: examples held out for validation (tagged,
        or drawn) go to a file of their own, which a user must not miss."""
        text = f"{self.training_examples} examples to train on in {self.training.name}"
        if self.validation:
            text += f", {self.validation_examples} held out in {self.validation.name}"
        if self.problems:
            text += f"; to fix before fine-tuning: {name_examples(self.problems)}"
        return text


async def import_file(
    store: DatasetStore,
    dataset: str,
    path: Path,
    *,
    status: Status = Status.APPROVED,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import a .jsonl (chat or preference) or .csv (prompt, completion[, system]) file.

    An earlier import of the same file (by content) into the same dataset is taken up where it
    stopped if it was interrupted, and not repeated if it finished. Cancelling the awaiting task
    stops the import after the batch it is on, resumable like a killed one.
    """
    is_csv = path.suffix.lower() == ".csv"
    size, digest = await asyncio.to_thread(_fingerprint, path, is_csv)
    rows: Rows = _jsonl_rows
    if is_csv:
        rows = functools.partial(_csv_rows, await asyncio.to_thread(_csv_layout, path))
    source = _Source(path, size, digest, rows)
    target = await store.ensure_dataset(dataset)
    loop = asyncio.get_running_loop()

    def report(done: int) -> None:
        if progress:
            loop.call_soon_threadsafe(progress, done, size)

    stop = threading.Event()

    def work(connection: sqlite3.Connection) -> ImportResult:
        return _import(connection, target.id, dataset, source, status, report, stop)

    try:
        return await store.db.run(work)
    except asyncio.CancelledError:
        stop.set()  # the database thread would otherwise go on to the end of the file
        raise


async def list_imports(store: DatasetStore, dataset: str | None = None) -> list[ImportRecord]:
    """Every import (of one dataset, or all), oldest first; killed ones say 'interrupted'."""

    def query(connection: sqlite3.Connection) -> list[ImportRecord]:
        mark_interrupted_imports(connection)
        rows = connection.execute(
            "SELECT imports.*, datasets.name AS dataset FROM imports"
            " JOIN datasets ON datasets.id = imports.dataset_id"
            " WHERE ? IS NULL OR datasets.name = ? ORDER BY imports.id",
            (dataset, dataset),
        )
        return [ImportRecord(row["id"], row["dataset"], row["source"], row["state"],
                             row["lines_read"], row["imported"], row["rejected"],
                             row["started_at"], row["finished_at"]) for row in rows]  # fmt: skip

    return await store.db.run(query)


_Row = TypeVar("_Row")  # one row of a query read in pages


async def import_problems(
    store: DatasetStore, import_id: int, *, page: int = 1_000
) -> AsyncIterator[LineProblem]:
    """Every line an import rejected, in file order, a page at a time."""
    read = functools.partial(_problems, import_id=import_id, limit=page)
    async for problem in _in_pages(store, read, lambda problem: problem.line):
        yield problem


async def held_examples(
    store: DatasetStore, import_id: int, *, page: int = 1_000
) -> AsyncIterator[HeldExample]:
    """Every example an import kept as a candidate that is still to fix, a page at a time."""
    read = functools.partial(_held, import_id=import_id, limit=page)
    async for held in _in_pages(store, read, lambda held: held.example_id):
        yield held


async def _in_pages(
    store: DatasetStore, read: Callable[..., list[_Row]], position: Callable[[_Row], int]
) -> AsyncIterator[_Row]:
    """The rows ``read`` returns, a page at a time, each page after the last row before it."""
    after = 0
    while batch := await store.db.run(functools.partial(read, after=after)):
        for row in batch:
            yield row
        after = position(batch[-1])


def _problems(
    connection: sqlite3.Connection, import_id: int, after: int, limit: int
) -> list[LineProblem]:
    rows = connection.execute(
        "SELECT line, message FROM import_problems WHERE import_id = ? AND line > ?"
        " ORDER BY line LIMIT ?",
        (import_id, after, limit),
    )
    return [LineProblem(row["line"], row["message"]) for row in rows]


def _fingerprint(path: Path, utf8_only: bool) -> tuple[int, str]:
    """The file's size and content hash; with ``utf8_only``, also that it is all UTF-8.

    A CSV is checked before anything is imported: one not saved as UTF-8 is wrong throughout,
    and fixed it is another file, which would import again the rows already taken from it.
    """
    if not path.is_file():
        raise DatasetError(f"{path} is not a file.")
    digest, decoder = xxh3_128(), codecs.getincrementaldecoder("utf-8")()
    size = lines = 0
    blank = True
    try:
        with path.open("rb") as handle:
            while block := handle.read(_READ_BLOCK):
                if not size:
                    check_text(path.name, block)
                content = block if size else block.removeprefix(codecs.BOM_UTF8)
                blank = blank and not content.strip(JSON_WHITESPACE)
                digest.update(block)
                size += len(block)
                if utf8_only:
                    _check_utf8(decoder, block, lines, path)
                    lines += block.count(b"\n")
    except OSError as error:
        raise DatasetError(f"{path} cannot be read ({error.strerror}).") from None
    if blank:
        raise DatasetError(f"{path.name} is empty: there is nothing to import.")
    if utf8_only:
        _check_utf8(decoder, b"", lines, path)  # a character cut off at the end
    return size, digest.hexdigest()


def _check_utf8(decoder: codecs.IncrementalDecoder, block: bytes, lines: int, path: Path) -> None:
    try:
        decoder.decode(block, final=not block)
    except UnicodeDecodeError as error:
        line = lines + block.count(b"\n", 0, max(error.start, 0)) + 1
        raise DatasetError(
            f"{path.name} is not UTF-8 text (line {line}).",
            hint="Save the CSV as UTF-8 and import it again.",
        ) from None


def _import(
    connection: sqlite3.Connection,
    dataset_id: int,
    dataset: str,
    source: _Source,
    status: Status,
    report: Callable[[int], None],
    stop: threading.Event,
) -> ImportResult:
    mark_interrupted_imports(connection)
    previous = connection.execute(
        "SELECT * FROM imports WHERE dataset_id = ? AND file_hash = ? ORDER BY id DESC LIMIT 1",
        (dataset_id, source.digest),
    ).fetchone()
    if previous is not None and previous["state"] == "finished":
        result = _result_of(previous, dataset)
        result.finished_before = previous["finished_at"]
        _add_reports(connection, result)
        return result
    if previous is not None and previous["state"] == "running":
        raise DatasetError(
            f"{source.path.name} is being imported into '{dataset}' right now "
            f"(process {previous['pid']}).",
            hint="Wait for that import to finish.",
        )
    result, start = _begin(connection, dataset_id, dataset, source, previous)
    try:
        _read(connection, dataset_id, source, start, result, status, report, stop)
    except BaseException:
        # Whatever stopped it, the import is resumable from its last commit.
        connection.execute(
            "UPDATE imports SET state = 'interrupted' WHERE id = ?", (result.import_id,)
        )
        raise
    _add_reports(connection, result)
    return result


def _add_reports(connection: sqlite3.Connection, result: ImportResult) -> None:
    """The import's rejected lines (how many were repeats) and the examples it kept back that
    are still to fix, the first of each."""
    result.problems = _problems(connection, result.import_id, 0, MAX_REPORTED_PROBLEMS)
    # Counted from the database: a resumed import's earlier runs rejected lines too.
    result.repeats = connection.execute(
        "SELECT COUNT(*) FROM import_problems WHERE import_id = ?"
        " AND (message LIKE ? OR message LIKE ?)",
        (result.import_id, f"{_IN_DATASET}%", f"{_IN_FILE}%"),
    ).fetchone()[0]
    result.held = connection.execute(
        f"SELECT COUNT(*) {_HELD}", {"import": result.import_id}
    ).fetchone()[0]
    result.held_examples = _held(connection, result.import_id, 0, MAX_REPORTED_PROBLEMS)


# The examples an import kept back that are still to fix: candidates (approved or rejected,
# a curator has decided) whose problems an edit has not cleared (DatasetStore.update). The
# index on (dataset_id, status) keeps this to the dataset's candidates, not all its examples.
_HELD = (
    "FROM examples WHERE dataset_id = (SELECT dataset_id FROM imports WHERE id = :import)"
    " AND status = 'candidate' AND json_extract(metadata, '$.import.id') = :import"
    " AND json_extract(metadata, '$.import.problems') IS NOT NULL"
)


def _held(
    connection: sqlite3.Connection, import_id: int, after: int, limit: int
) -> list[HeldExample]:
    rows = connection.execute(
        "SELECT id, json_extract(metadata, '$.import.line') AS line,"
        f" json_extract(metadata, '$.import.problems') AS problems {_HELD}"
        " AND id > :after ORDER BY id LIMIT :limit",
        {"import": import_id, "after": after, "limit": limit},
    )
    return [HeldExample(row["line"], row["id"], json.loads(row["problems"])) for row in rows]


def _begin(
    connection: sqlite3.Connection,
    dataset_id: int,
    dataset: str,
    source: _Source,
    interrupted: sqlite3.Row | None,
) -> tuple[ImportResult, int]:
    """Start a new import, or take up an interrupted one; returns it and the byte to read from."""
    with Transaction(connection):
        if interrupted is None:
            cursor = connection.execute(
                "INSERT INTO imports (dataset_id, source, state, pid, started_at, file_hash)"
                " VALUES (?, ?, 'running', ?, ?, ?)",
                (dataset_id, str(source.path), os.getpid(), now(), source.digest),
            )
            return ImportResult(dataset, int(cursor.lastrowid or 0)), 0
        connection.execute(
            "UPDATE imports SET state = 'running', pid = ?, source = ? WHERE id = ?",
            (os.getpid(), str(source.path), interrupted["id"]),
        )
    result = _result_of(interrupted, dataset)
    result.resumed_after_line = result.lines_read
    return result, int(interrupted["position"])


def _result_of(row: sqlite3.Row, dataset: str) -> ImportResult:
    return ImportResult(dataset, row["id"], row["lines_read"], row["imported"], row["rejected"])


def _read(
    connection: sqlite3.Connection,
    dataset_id: int,
    source: _Source,
    start: int,
    result: ImportResult,
    status: Status,
    report: Callable[[int], None],
    stop: threading.Event,
) -> None:
    records: list[tuple[int, Any]] = []  # (line, record)
    problems: list[LineProblem] = []
    position = start
    known = _KnownRecords(connection, dataset_id)
    try:
        for line, position, record in source.rows(source.path, start, result.lines_read):
            result.lines_read = line
            if isinstance(record, LineProblem):
                problems.append(record)
            else:
                records.append((line, record))
            if len(records) + len(problems) >= BATCH_LINES:
                _store(connection, dataset_id, known, records, problems, result, position, status)
                records, problems = [], []
                report(position)
                check_cancelled(stop)
        _store(connection, dataset_id, known, records, problems, result, position, status,
               "finished")  # fmt: skip
    finally:
        known.close()
    report(source.size)


def _store(
    connection: sqlite3.Connection,
    dataset_id: int,
    known: _KnownRecords,
    records: list[tuple[int, Any]],
    problems: list[LineProblem],
    result: ImportResult,
    position: int,
    status: Status,
    state: str = "running",
) -> None:
    """Commit a batch: its records but those the dataset or the file had already, which are
    rejected lines like its malformed ones."""
    texts = [json.dumps(record, ensure_ascii=False) for _, record in records]
    keys = [_text_key(text) for text in texts]
    stored = known.find(keys)
    first_line: dict[int, int] = {}  # key -> line, in this batch
    examples: list[tuple[NewExample, str]] = []  # with its record as stored
    new_keys: list[int] = []
    for (line, record), text, key in zip(records, texts, keys, strict=True):
        if key in stored:
            problems.append(LineProblem(line, f"{_IN_DATASET} {stored[key]}"))
        elif (earlier := first_line.setdefault(key, line)) != line:
            problems.append(LineProblem(line, f"{_IN_FILE} {earlier}: imported once"))
        else:
            examples.append((_imported(record, status, result.import_id, line), text))
            new_keys.append(key)
    ids = _commit(connection, dataset_id, examples, problems, result, position, state)
    known.add(new_keys, ids)


def _imported(record: Any, status: Status, import_id: int, line: int) -> NewExample:
    """The example a line holds: as ``status`` when it may be trained on, else a candidate
    whose note says what to fix (and whose metadata lets the import list it)."""
    problems = example_problems(record)
    if not problems:
        return NewExample(record, origin=Origin.IMPORT, status=status)
    metadata = {"import": {"id": import_id, "line": line, "problems": problems}}
    note = fix_note(problems)
    return NewExample(record, Origin.IMPORT, Status.CANDIDATE, note=note, metadata=metadata)


class _KnownRecords:
    """The dataset's examples by a 64-bit hash of their record, so that a line holding one of
    them again is not imported twice. They are kept in a temporary table of the connection:
    SQLite's pages, not Python objects, so that a large dataset costs the import no memory."""

    def __init__(self, connection: sqlite3.Connection, dataset_id: int) -> None:
        self.connection = connection
        connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_keys (key INTEGER PRIMARY KEY, id INTEGER)"
        )
        connection.execute("DELETE FROM temp.import_keys")  # left by an import that failed
        cursor = connection.execute(
            "SELECT id, record FROM examples WHERE dataset_id = ?", (dataset_id,)
        )
        while rows := cursor.fetchmany(BATCH_LINES):
            # The stored text is json.dumps of the record, as _store makes it.
            self.add([_text_key(row["record"]) for row in rows], [row["id"] for row in rows])

    def find(self, keys: list[int]) -> dict[int, int]:
        """The id of the example with each key that has one."""
        rows = self.connection.execute(
            "SELECT key, id FROM temp.import_keys WHERE key IN (SELECT value FROM json_each(?))",
            (json.dumps(keys),),
        )
        return {row["key"]: row["id"] for row in rows}

    def add(self, keys: list[int], ids: list[int]) -> None:
        with Transaction(self.connection):
            self.connection.executemany(
                "INSERT OR IGNORE INTO temp.import_keys (key, id) VALUES (?, ?)",
                zip(keys, ids, strict=True),
            )

    def close(self) -> None:
        self.connection.execute("DROP TABLE temp.import_keys")


def _text_key(text: str) -> int:
    # shifted into SQLite's signed 64-bit integers
    return xxh3_64_intdigest(text.encode("utf-8", "surrogatepass")) - (1 << 63)


def _commit(
    connection: sqlite3.Connection,
    dataset_id: int,
    examples: list[tuple[NewExample, str]],
    problems: list[LineProblem],
    result: ImportResult,
    position: int,
    state: str,
) -> list[int]:
    """Store a batch with its rejected lines and how far the import got, all or nothing;
    returns the ids of its examples."""
    with Transaction(connection):
        ids = [insert_example(connection, dataset_id, *example) for example in examples]
        connection.executemany(
            "INSERT INTO import_problems (import_id, line, message) VALUES (?, ?, ?)",
            [(result.import_id, problem.line, problem.message) for problem in problems],
        )
        connection.execute(
            "UPDATE imports SET state = ?, lines_read = ?, imported = ?, rejected = ?,"
            " position = ?, finished_at = CASE WHEN ? = 'finished' THEN ? END WHERE id = ?",
            (state, result.lines_read, result.imported + len(examples),
             result.rejected + len(problems), position, state, now(), result.import_id),
        )  # fmt: skip
    result.imported += len(examples)
    result.rejected += len(problems)
    return ids


def _jsonl_rows(path: Path, start: int, lines_before: int) -> Iterator[tuple[int, int, Any]]:
    with path.open("rb") as handle:
        handle.seek(start)
        for number, raw in enumerate(handle, start=lines_before + 1):
            position = handle.tell()
            if number == 1:
                raw = raw.removeprefix(UTF8_BOM)  # as the validator allows
            if not raw.strip(JSON_WHITESPACE):
                continue
            yield number, position, _parse_record(number, raw)


def _parse_record(number: int, raw: bytes) -> Any:
    try:
        # orjson, as the validator: the two agree on what is JSON (no NaN, no lone surrogates,
        # no byte-order mark inside the file), and it refuses deep nesting instead of recursing.
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return LineProblem(number, _json_problem(raw, str(error)))
    if _nested_too_deep(record, raw):
        return LineProblem(number, f"nested more than {MAX_NESTING} levels deep")
    if kind_of(record) is None:
        return LineProblem(
            number, "neither a chat example ('messages') nor a preference pair ('input', "
            "'preferred_output', 'non_preferred_output')",
        )  # fmt: skip
    return record


def _json_problem(raw: bytes, error: str) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    if error.startswith("depth limit"):
        return f"nested more than {MAX_NESTING} levels deep"
    return f"not valid JSON ({error.split(':')[0]})"


def _nested_too_deep(record: Any, raw: bytes) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return False  # no deeper than it has brackets: the common case, decided in C
    stack = [(record, 1)] if type(record) in (dict, list) else []
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        children = value.values() if type(value) is dict else value
        stack += [(child, depth + 1) for child in children if type(child) in (dict, list)]
    return False


def _csv_layout(path: Path) -> tuple[list[str], str]:
    """The column names and the delimiter, checked before the import begins."""
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8").removeprefix("\ufeff")
    delimiter = _delimiter(header)
    names = next(csv.reader([header], delimiter=delimiter), [])
    found = [name.strip().lower() for name in names]
    if not set(found) >= _CSV_COLUMNS:
        raise DatasetError(
            f"{path.name} needs 'prompt' and 'completion' columns "
            f"(found: {', '.join(found) or 'none'})."
        )
    return names, delimiter


def _csv_rows(
    layout: tuple[list[str], str], path: Path, start: int, lines_before: int
) -> Iterator[tuple[int, int, Any]]:
    names, delimiter = layout
    columns = {name.strip().lower(): name for name in names}
    with path.open("rb") as handle:
        if start:
            handle.seek(start)
        else:
            handle.readline()
            lines_before = 1  # the header
        position = [handle.tell()]
        reader = csv.DictReader(_decoded_lines(handle, position), names, delimiter=delimiter)
        for row in reader:
            number = lines_before + reader.line_num
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


def _decoded_lines(handle: Any, position: list[int]) -> Iterator[str]:
    """Text lines for the csv module, counting bytes read (text files cannot tell()).

    The file was checked to be UTF-8 before the import began.
    """
    for raw in handle:
        position[0] += len(raw)
        yield raw.decode("utf-8")


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
    """Write the dataset as JSONL, its held-out examples as ``*.validation.jsonl``.

    Examples tagged ``validation`` (``voxdesk finetune split``) are the ones evaluations ask,
    so they always go to the validation file and never to the training file. A ratio is the
    share of the export held out in all: the tagged examples count towards it, and any more it
    asks for are drawn, seeded, from the untagged ones.

    Files are written under a temporary name, flushed to disk and renamed, so a reader never
    sees half a file. ``kind='preference'`` writes preference pairs, including those made from
    corrections (the corrected reply preferred over the wrong one). Examples that fail the
    per-example checks (a format error, a secret) are written and named in the result.
    """
    if not 0.0 <= validation_ratio < 1.0:
        raise DatasetError("The validation share must be at least 0 and below 1.")
    target = await store.dataset(dataset)
    wanted = tuple(str(status) for status in statuses)

    def work(connection: sqlite3.Connection) -> ExportResult:
        _check_target(path)
        ids = [row["id"] for row in iter_records(connection, target.id, wanted)
               if _exportable(row, kind)]  # fmt: skip
        if not ids:
            raise DatasetError(
                f"Dataset '{dataset}' has no {'/'.join(wanted)} {kind} examples to export.",
                hint="Approve candidates first (`voxdesk dataset approve`).",
            )
        held_out = _validation_ids(ids, _tagged_ids(connection, target.id), validation_ratio, seed)
        if len(held_out) == len(ids):
            raise DatasetError(
                f"All {len(ids)} {kind} examples of '{dataset}' are in its '{VALIDATION_TAG}'"
                " split, so none is left to train on.",
                hint="Approve more examples, or remove the tag from some.",
            )
        validation = path.with_suffix(".validation.jsonl") if held_out else None
        result = ExportResult(path, len(ids) - len(held_out), validation, len(held_out))
        try:
            with _atomic(path) as train_out, _atomic(validation) as valid_out:
                for row in iter_records(connection, target.id, wanted):
                    if not _exportable(row, kind):
                        continue
                    record = _export_record(row, kind)
                    if problems := example_problems(record):
                        result.problems[row["id"]] = problems
                    held = row["id"] in held_out
                    (valid_out if held else train_out).write(_line(record))
                    (result.validation_ids if held else result.training_ids).append(row["id"])
        except OSError as error:  # its file name is the temporary one: the user's is ``path``
            raise DatasetError(f"{path} cannot be written ({error.strerror}).",
                               hint="Choose a folder you can write to.") from None  # fmt: skip
        return result

    return await store.db.run(work)


def _check_target(path: Path) -> None:
    """Refuse a path that names a folder, or lies under a file, before anything is written."""
    if path.is_dir():
        example = path / "export.jsonl"
        raise DatasetError(f"{path} is a folder.", hint=f"Give the file to write, like {example}.")
    parent = next(folder for folder in path.parents if folder.exists())
    if not parent.is_dir():
        raise DatasetError(f"{parent} is a file, so nothing can be written under it.",
                           hint="Choose another folder for the export.")  # fmt: skip


def _exportable(row: sqlite3.Row, kind: str) -> bool:
    if kind == "chat":
        return bool(row["kind"] == "chat")
    return row["kind"] == "preference" or "rejected_reply" in json.loads(row["metadata"])


def _export_record(row: sqlite3.Row, kind: str) -> Any:
    record = json.loads(row["record"])
    if kind == "preference" and row["kind"] == "chat":
        record = _pair_from_correction(record, json.loads(row["metadata"])["rejected_reply"])
    return record


def _line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS_ESCAPED) + "\n"


def _pair_from_correction(record: dict[str, Any], wrong: str) -> dict[str, Any]:
    *conversation, corrected = record["messages"]
    return {
        "input": {"messages": conversation},
        "preferred_output": [corrected],
        "non_preferred_output": [{"role": "assistant", "content": wrong}],
    }


def _tagged_ids(connection: sqlite3.Connection, dataset_id: int) -> set[int]:
    rows = connection.execute(
        "SELECT id FROM examples WHERE dataset_id = ?"
        " AND EXISTS (SELECT 1 FROM json_each(examples.tags) WHERE value = ?)",
        (dataset_id, VALIDATION_TAG),
    )
    return {row["id"] for row in rows}


def _validation_ids(ids: list[int], tagged: set[int], ratio: float, seed: int) -> set[int]:
    """The tagged examples, topped up from the untagged to ``ratio`` of all, one left to train."""
    held = [i for i in ids if i in tagged]
    free = [i for i in ids if i not in tagged]
    wanted = round(len(ids) * ratio)
    if ratio > 0 and wanted == 0 and len(ids) > 1:
        wanted = 1
    extra = max(0, min(wanted - len(held), len(free) - 1))
    return {*held, *random.Random(seed).sample(free, extra)}


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
