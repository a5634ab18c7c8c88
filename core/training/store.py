"""Named datasets of training examples: chat conversations and preference pairs.

An example is stored as the JSONL record the fine-tuning API takes, with where it came from,
its review state, tags and a note. Corrections and feedback from Discord or the desktop arrive
as candidates; only approved examples are exported by default.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.training.checks import example_problems
from voxdesk.core.training.database import Database, Transaction, now
from voxdesk.core.training.findings import fix_note, name_examples

Kind = Literal["chat", "preference"]


class Origin(StrEnum):
    MANUAL = "manual"
    IMPORT = "import"
    DISCORD_CORRECTION = "discord_correction"
    DISCORD_FEEDBACK = "discord_feedback"
    DESKTOP_TRANSCRIPT = "desktop_transcript"


class Status(StrEnum):
    CANDIDATE = "candidate"
    APPROVED = "approved"
    REJECTED = "rejected"


class DatasetError(VoxdeskError):
    """A dataset or example operation cannot be done."""


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    description: str
    created_at: str
    counts: dict[str, int] = field(default_factory=dict)  # examples by status


@dataclass(frozen=True)
class Example:
    id: int
    dataset_id: int
    kind: Kind
    record: dict[str, Any]
    origin: str
    status: str
    tags: tuple[str, ...]
    note: str
    metadata: dict[str, Any]
    created_at: str
    updated_at: str

    @property
    def messages(self) -> list[dict[str, Any]]:
        if self.kind == "chat":
            return list(self.record.get("messages", []))
        return list(self.record.get("input", {}).get("messages", []))


@dataclass(frozen=True)
class NewExample:
    record: dict[str, Any]
    origin: Origin = Origin.MANUAL
    status: Status = Status.CANDIDATE
    tags: Sequence[str] = ()
    note: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return "preference" if "preferred_output" in self.record else "chat"


@dataclass(frozen=True)
class StatusChange:
    """What approving or rejecting a set of examples did."""

    status: Status
    changed: int
    asked: int
    unknown: list[int]  # ids of no example
    problems: dict[int, list[str]]  # approved examples that fail validation -> finding codes

    def summary(self) -> str:
        verbs = {Status.APPROVED: "Approved", Status.REJECTED: "Rejected"}
        text = (
            f"{verbs.get(self.status, 'Made candidates')} {self.changed} of {self.asked} examples."
        )
        if self.unknown:
            ids = ", ".join(map(str, self.unknown))
            text += f" No example has the id {ids}." if len(self.unknown) == 1 else \
                f" No examples have the ids {ids}."  # fmt: skip
        if self.problems:
            text += f" To fix before fine-tuning: {name_examples(self.problems)}."
        return text


def kind_of(record: Any) -> Kind | None:
    """'chat' or 'preference' for a record of either shape, None for anything else."""
    if not isinstance(record, dict):
        return None
    if isinstance(record.get("messages"), list):
        return "chat"
    if "preferred_output" in record and "input" in record:
        return "preference"
    return None


# An edited example's metadata: without the import's problems, or with the new ones (only
# where an import put them).
_REVISED = (
    "json_remove(metadata, '$.import.problems')",
    "json_replace(metadata, '$.import.problems', json(?))",
)


def _follow_fix_note(connection: sqlite3.Connection, example_id: int, problems: list[str]) -> None:
    """The note an import wrote of what to fix follows the record as it is edited (a fixed
    example says nothing more), unless a curator has written a note of their own."""
    row = connection.execute(
        "SELECT note, json_extract(metadata, '$.import.problems') AS codes FROM examples"
        " WHERE id = ?",
        (example_id,),
    ).fetchone()
    if row and row["codes"] is not None and row["note"] == fix_note(json.loads(row["codes"])):
        connection.execute(
            "UPDATE examples SET note = ? WHERE id = ?", (fix_note(problems), example_id)
        )


class DatasetStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    async def create_dataset(self, name: str, description: str = "") -> Dataset:
        name = name.strip()
        if not name:
            raise DatasetError("A dataset needs a name.")

        def create(connection: sqlite3.Connection) -> int:
            try:
                cursor = connection.execute(
                    "INSERT INTO datasets (name, description, created_at) VALUES (?, ?, ?)",
                    (name, description, now()),
                )
            except sqlite3.IntegrityError:
                raise DatasetError(f"A dataset named '{name}' already exists.") from None
            return int(cursor.lastrowid or 0)

        await self.db.run(create)
        return await self.dataset(name)

    async def ensure_dataset(self, name: str) -> Dataset:
        try:
            return await self.dataset(name)
        except DatasetError:
            return await self.create_dataset(name)

    async def dataset(self, name: str) -> Dataset:
        found = [d for d in await self.datasets() if d.name == name]
        if not found:
            raise DatasetError(
                f"There is no dataset named '{name}'.",
                hint="`voxdesk dataset list` shows them; importing into a new name creates it.",
            )
        return found[0]

    async def datasets(self) -> list[Dataset]:
        def query(connection: sqlite3.Connection) -> list[Dataset]:
            counts: dict[int, dict[str, int]] = {}
            for row in connection.execute(
                "SELECT dataset_id, status, COUNT(*) AS n FROM examples GROUP BY 1, 2"
            ):
                counts.setdefault(row["dataset_id"], {})[row["status"]] = row["n"]
            return [
                Dataset(
                    row["id"],
                    row["name"],
                    row["description"],
                    row["created_at"],
                    counts.get(row["id"], {}),
                )
                for row in connection.execute("SELECT * FROM datasets ORDER BY name")
            ]

        return await self.db.run(query)

    async def add(self, dataset: str, examples: Sequence[NewExample]) -> list[int]:
        target = await self.ensure_dataset(dataset)

        def insert(connection: sqlite3.Connection) -> list[int]:
            with Transaction(connection):
                return [insert_example(connection, target.id, example) for example in examples]

        return await self.db.run(insert)

    async def get(self, example_id: int) -> Example:
        def query(connection: sqlite3.Connection) -> Example:
            row = connection.execute("SELECT * FROM examples WHERE id = ?", (example_id,))
            found = row.fetchone()
            if found is None:
                raise DatasetError(f"There is no example {example_id}.")
            return _example(found)

        return await self.db.run(query)

    async def examples(
        self,
        dataset: str,
        *,
        status: Status | None = None,
        tag: str | None = None,
        search: str | None = None,
        after_id: int = 0,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Example]:
        """A page of a dataset's examples, oldest first, filtered.

        Page on with ``after_id`` (the last id seen), which costs the same at any depth;
        ``offset`` makes SQLite step over every skipped row.
        """
        target = await self.dataset(dataset)
        where, params = _filters(target.id, status, tag, search)

        def query(connection: sqlite3.Connection) -> list[Example]:
            rows = connection.execute(
                f"SELECT * FROM examples WHERE {where} AND id > ? ORDER BY id LIMIT ? OFFSET ?",
                (*params, after_id, limit, offset),
            )
            return [_example(row) for row in rows]

        return await self.db.run(query)

    async def each_example(
        self,
        dataset: str,
        *,
        status: Status | None = None,
        search: str | None = None,
        page: int = 1_000,
    ) -> AsyncIterator[Example]:
        """Every example of a dataset that passes the filters, oldest first, a page at a time."""
        after_id = 0
        while batch := await self.examples(
            dataset, status=status, search=search, after_id=after_id, limit=page
        ):
            for example in batch:
                yield example
            after_id = batch[-1].id

    async def count(
        self,
        dataset: str,
        *,
        status: Status | None = None,
        tag: str | None = None,
        search: str | None = None,
    ) -> int:
        target = await self.dataset(dataset)
        where, params = _filters(target.id, status, tag, search)

        def query(connection: sqlite3.Connection) -> int:
            row = connection.execute(f"SELECT COUNT(*) FROM examples WHERE {where}", params)
            return int(row.fetchone()[0])

        return await self.db.run(query)

    async def update(
        self,
        example_id: int,
        *,
        record: dict[str, Any] | None = None,
        status: Status | None = None,
        tags: Sequence[str] | None = None,
        note: str | None = None,
    ) -> Example:
        if record is not None and kind_of(record) is None:
            raise DatasetError("An example must have a 'messages' list or be a preference pair.")
        changes: dict[str, Any] = {}
        if record is not None:
            changes["record"] = json.dumps(record, ensure_ascii=False)
            changes["kind"] = kind_of(record)
        if status is not None:
            changes["status"] = str(status)
        if tags is not None:
            changes["tags"] = json.dumps(sorted(set(tags)), ensure_ascii=False)
        if note is not None:
            changes["note"] = note
        if changes:
            changes["updated_at"] = now()
            assignments = [f"{column} = ?" for column in changes]
            values = list(changes.values())
            problems = example_problems(record) if record is not None else []
            if record is not None:
                # An import lists the examples it kept to fix by these codes: they follow
                # the record, so a fixed example is no longer listed.
                assignments.append(f"metadata = {_REVISED[bool(problems)]}")
                values += [json.dumps(problems)] if problems else []

            def update(connection: sqlite3.Connection) -> None:
                with Transaction(connection):
                    if record is not None and note is None:
                        _follow_fix_note(connection, example_id, problems)
                    connection.execute(
                        f"UPDATE examples SET {', '.join(assignments)} WHERE id = ?",
                        (*values, example_id),
                    )

            await self.db.run(update)
        return await self.get(example_id)

    async def set_status(self, example_ids: Sequence[int], status: Status) -> StatusChange:
        """Approve or reject several examples at once; says which ids do not exist, and which
        examples were approved although they fail validation."""
        wanted = json.dumps(sorted(set(example_ids)))

        def update(connection: sqlite3.Connection) -> dict[int, str]:
            with Transaction(connection):
                found = {row["id"]: row["record"] for row in connection.execute(
                    "SELECT id, record FROM examples WHERE id IN (SELECT value FROM json_each(?))",
                    (wanted,),
                )}  # fmt: skip
                connection.executemany(
                    "UPDATE examples SET status = ?, updated_at = ? WHERE id = ?",
                    [(str(status), now(), example_id) for example_id in found],
                )
            return found

        found = await self.db.run(update)
        problems: dict[int, list[str]] = {}
        if status == Status.APPROVED:
            checked = {i: example_problems(json.loads(record)) for i, record in found.items()}
            problems = {i: codes for i, codes in sorted(checked.items()) if codes}
        unknown = sorted(set(example_ids) - found.keys())
        return StatusChange(status, len(found), len(set(example_ids)), unknown, problems)

    async def delete(self, example_ids: Sequence[int]) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            with Transaction(connection):
                connection.executemany(
                    "DELETE FROM examples WHERE id = ?", [(i,) for i in example_ids]
                )

        await self.db.run(delete)

    async def add_correction(
        self,
        dataset: str,
        *,
        conversation: Sequence[dict[str, Any]],
        wrong_reply: str,
        corrected_reply: str,
        origin: Origin = Origin.DISCORD_CORRECTION,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """A corrected bot reply becomes a candidate chat example.

        The wrong reply is kept, so the same candidate can also be exported as a preference
        pair (corrected preferred over wrong).
        """
        record = {"messages": [*conversation, {"role": "assistant", "content": corrected_reply}]}
        example = NewExample(
            record,
            origin=origin,
            metadata={**(metadata or {}), "rejected_reply": wrong_reply},
        )
        return (await self.add(dataset, [example]))[0]

    async def add_feedback(
        self,
        dataset: str,
        *,
        conversation: Sequence[dict[str, Any]],
        feedback: str,
        origin: Origin = Origin.DISCORD_FEEDBACK,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Feedback on an exchange becomes a candidate with the feedback as its note."""
        example = NewExample(
            {"messages": list(conversation)}, origin=origin, note=feedback, metadata=metadata or {}
        )
        return (await self.add(dataset, [example]))[0]


def insert_example(
    connection: sqlite3.Connection, dataset_id: int, example: NewExample, record: str | None = None
) -> int:
    """Store ``example``; ``record`` is its record as JSON text when the caller made it already."""
    stamp = now()
    cursor = connection.execute(
        "INSERT INTO examples (dataset_id, kind, record, origin, status, tags, note, metadata,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            dataset_id,
            example.kind,
            record or json.dumps(example.record, ensure_ascii=False),
            str(example.origin),
            str(example.status),
            json.dumps(sorted(set(example.tags)), ensure_ascii=False),
            example.note,
            json.dumps(example.metadata, ensure_ascii=False),
            stamp,
            stamp,
        ),
    )
    return int(cursor.lastrowid or 0)


def iter_records(
    connection: sqlite3.Connection, dataset_id: int, statuses: Sequence[str]
) -> Iterator[sqlite3.Row]:
    marks = ", ".join("?" for _ in statuses)
    yield from connection.execute(
        f"SELECT id, kind, record, metadata FROM examples WHERE dataset_id = ? "
        f"AND status IN ({marks}) ORDER BY id",
        (dataset_id, *statuses),
    )


def _filters(
    dataset_id: int, status: Status | None, tag: str | None, search: str | None
) -> tuple[str, tuple[Any, ...]]:
    clauses: list[str] = ["dataset_id = ?"]
    params: list[Any] = [dataset_id]
    if status is not None:
        clauses.append("status = ?")
        params.append(str(status))
    if tag:
        clauses.append("EXISTS (SELECT 1 FROM json_each(examples.tags) WHERE value = ?)")
        params.append(tag)
    if search:
        clauses.append("(record LIKE ? OR note LIKE ?)")
        params += [f"%{search}%", f"%{search}%"]
    return " AND ".join(clauses), tuple(params)


def _example(row: sqlite3.Row) -> Example:
    return Example(
        id=row["id"],
        dataset_id=row["dataset_id"],
        kind=row["kind"],
        record=json.loads(row["record"]),
        origin=row["origin"],
        status=row["status"],
        tags=tuple(json.loads(row["tags"])),
        note=row["note"],
        metadata=json.loads(row["metadata"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
