"""The dataset store: import, export, review, and surviving a killed process."""

from __future__ import annotations

import asyncio
import codecs
import csv
import json
import os
import signal
import sqlite3
import sys
import threading
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from voxdesk.core.errors import VoxdeskError
from voxdesk.core.training import transfer
from voxdesk.core.training.database import Database
from voxdesk.core.training.store import DatasetError, DatasetStore, NewExample, Origin, Status
from voxdesk.core.training.transfer import (
    BATCH_LINES,
    MAX_NESTING,
    LineProblem,
    export_jsonl,
    import_file,
    import_problems,
    list_imports,
)
from voxdesk.core.training.validator import validate_file


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DatasetStore]:
    database = Database(tmp_path / "voxdesk.db")
    yield DatasetStore(database)
    await database.close()


def chat_line(i: int) -> str:
    return json.dumps({"messages": [
        {"role": "system", "content": "Be kind"},
        {"role": "user", "content": f"Question {i}?"},
        {"role": "assistant", "content": f"Answer {i}."},
    ]}, ensure_ascii=False)  # fmt: skip


PAIR = {"input": {"messages": [{"role": "user", "content": "Say hi"}]},
        "preferred_output": [{"role": "assistant", "content": "Hi!"}],
        "non_preferred_output": [{"role": "assistant", "content": "No."}]}  # fmt: skip


async def test_import_reports_every_bad_line_and_keeps_the_rest(
    store: DatasetStore, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        chat_line(1),
        "{broken",
        "",
        json.dumps(PAIR),
        '{"prompt": "old", "completion": "x"}',
        "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
        chat_line(2),
    ]
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n\xff\xfe\n")
    seen: list[tuple[int, int]] = []
    result = await import_file(store, "demo", path, progress=lambda d, t: seen.append((d, t)))
    assert result.imported == 3
    assert [(p.line, p.message.split(" (")[0]) for p in result.problems] == [
        (2, "not valid JSON"),
        (5, "neither a chat example"),
        (6, "not valid JSON"),
        (8, "not UTF-8 text"),
    ]  # fmt: skip
    assert result.rejected == 4
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    examples = await store.examples("demo")
    assert [e.kind for e in examples] == ["chat", "preference", "chat"]
    assert {e.origin for e in examples} == {"import"} and {e.status for e in examples} == {
        "approved"
    }


async def test_an_edit_decides_whether_an_import_still_lists_an_example_to_fix(
    store: DatasetStore, tmp_path: Path
) -> None:
    question = {"role": "user", "content": "Hi?"}
    path = tmp_path / "held.jsonl"
    path.write_text("".join(json.dumps({"messages": [question], "n": i}) + "\n" for i in (1, 2)))
    held = (await import_file(store, "demo", path)).held_examples
    assert [(h.line, h.problems) for h in held] == [
        (line, ["example_missing_assistant_message"]) for line in (1, 2)
    ]
    first, second = (h.example_id for h in held)
    answer = {"role": "assistant", "content": ""}
    await store.update(first, record={"messages": [question, answer]})
    await store.update(second, record={"messages": [question, answer | {"content": "Hello"}]})
    again = await import_file(store, "demo", path)  # finished before: only reports
    assert [(h.example_id, h.problems) for h in again.held_examples] == [
        (first, ["missing_content"])
    ]
    assert again.held == 1
    assert (await store.get(second)).metadata["import"] == {"id": again.import_id, "line": 2}


async def test_the_imports_note_of_what_to_fix_follows_the_edits_but_not_a_curators_note(
    store: DatasetStore, tmp_path: Path
) -> None:
    question = {"role": "user", "content": "Hi?"}
    path = tmp_path / "held.jsonl"
    path.write_text("".join(json.dumps({"messages": [question], "n": i}) + "\n" for i in (1, 2)))
    first, second = (h.example_id for h in (await import_file(store, "d", path)).held_examples)
    assert (await store.get(first)).note == "To fix: no assistant message to learn from."
    answer = {"role": "assistant", "content": ""}
    edited = await store.update(first, record={"messages": [question, answer]})
    assert edited.note == "To fix: a message has no text content."
    fixed = await store.update(first, record={"messages": [question, answer | {"content": "Hey"}]})
    assert fixed.note == ""
    await store.update(second, note="Ask Dana what she meant.")
    kept = await store.update(second, record={"messages": [question, answer]})
    assert kept.note == "Ask Dana what she meant."


async def test_csv_import(store: DatasetStore, tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerows([["Prompt", "Completion", "system"], ["Hi", "Hello!", "Be kind"],
                          ["Multi\nline", "Yes, \"quoted\"", ""], ["", "orphan", ""]])  # fmt: skip
    result = await import_file(store, "csv", path, status=Status.CANDIDATE)
    assert result.imported == 2
    assert [p.line for p in result.problems] == [5]  # the CSV line where that record ends
    first, second = await store.examples("csv")
    assert first.record["messages"][0] == {"role": "system", "content": "Be kind"}
    assert second.record["messages"] == [
        {"role": "user", "content": "Multi\nline"},
        {"role": "assistant", "content": 'Yes, "quoted"'},
    ]
    assert first.status == "candidate"


@pytest.mark.parametrize("delimiter", [";", "\t"])
async def test_csv_from_spreadsheets_with_other_separators(
    store: DatasetStore, tmp_path: Path, delimiter: str
) -> None:
    # as a spreadsheet set to Russian saves "CSV UTF-8": a byte-order mark, ';' between columns
    path = tmp_path / "pairs.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerows([["prompt", "completion"], ["Сколько стоит?", "3,50 рубля; спасибо"]])
    result = await import_file(store, "csv", path)
    assert (result.imported, result.rejected) == (1, 0)
    (example,) = await store.examples("csv")
    contents = [message["content"] for message in example.record["messages"]]
    assert contents == ["Сколько стоит?", "3,50 рубля; спасибо"]


async def test_csv_without_the_columns_is_refused(store: DatasetStore, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("question,answer\nhi,hello\n")
    with pytest.raises(DatasetError, match="needs 'prompt' and 'completion' columns"):
        await import_file(store, "csv", path)
    assert await list_imports(store) == []  # nothing was begun


async def test_a_large_import_streams(store: DatasetStore, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    lines = 50_000
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            out.write(chat_line(i) + "\n")
    assert path.stat().st_size > 6_000_000
    tracemalloc.start()
    try:
        result = await import_file(store, "big", path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.imported == lines
    assert peak < 5_000_000  # a batch at a time, not the file (which is over 6 MB)
    assert await store.count("big") == lines


async def test_export_is_atomic_seeded_and_approved_only(
    store: DatasetStore, tmp_path: Path
) -> None:
    ids = await store.add("d", [NewExample(json.loads(chat_line(i)), status=Status.APPROVED)
                                for i in range(20)])  # fmt: skip
    await store.add("d", [NewExample(json.loads(chat_line(99)))])  # a candidate
    first = await export_jsonl(store, "d", tmp_path / "a.jsonl", validation_ratio=0.25, seed=7)
    again = await export_jsonl(store, "d", tmp_path / "b.jsonl", validation_ratio=0.25, seed=7)
    other = await export_jsonl(store, "d", tmp_path / "c.jsonl", validation_ratio=0.25, seed=8)
    assert (first.training_examples, first.validation_examples) == (15, 5)
    assert first.validation is not None and again.validation is not None
    assert first.validation.read_text() == again.validation.read_text()
    assert other.validation is not None
    assert other.validation.read_text() != first.validation.read_text()
    train = [json.loads(line) for line in first.training.read_text().splitlines()]
    assert "Question 99?" not in json.dumps(train, ensure_ascii=False)
    assert len(ids) == 20
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


async def test_a_failed_export_leaves_the_old_file(store: DatasetStore, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous export\n")
    with pytest.raises(DatasetError, match="no approved chat examples"):
        await store.create_dataset("empty")
        await export_jsonl(store, "empty", target)
    assert target.read_text() == "previous export\n"


async def test_corrections_and_feedback_become_candidates(
    store: DatasetStore, tmp_path: Path
) -> None:
    conversation = [{"role": "user", "content": "Столица Франции?"}]
    correction = await store.add_correction(
        "bot", conversation=conversation, wrong_reply="Берлин", corrected_reply="Париж",
        metadata={"discord": {"channel_id": "1", "message_id": "2"}},
    )  # fmt: skip
    feedback = await store.add_feedback(
        "bot", conversation=[*conversation, {"role": "assistant", "content": "Париж"}],
        feedback="Хороший ответ, но слишком коротко",
    )  # fmt: skip
    candidates = await store.examples("bot", status=Status.CANDIDATE)
    assert [c.id for c in candidates] == [correction, feedback]
    assert candidates[0].origin == Origin.DISCORD_CORRECTION
    assert candidates[1].note == "Хороший ответ, но слишком коротко"
    await store.set_status([correction], Status.APPROVED)
    pairs = await export_jsonl(store, "bot", tmp_path / "dpo.jsonl", kind="preference")
    assert json.loads(pairs.training.read_text()) == {
        "input": {"messages": conversation},
        "preferred_output": [{"role": "assistant", "content": "Париж"}],
        "non_preferred_output": [{"role": "assistant", "content": "Берлин"}],
    }


async def test_edit_filter_and_delete(store: DatasetStore) -> None:
    (example_id,) = await store.add("d", [NewExample(json.loads(chat_line(1)), tags=["greet"])])
    assert await store.count("d", tag="greet") == 1
    assert await store.count("d", search="Question 1") == 1
    edited = await store.update(example_id, record={"messages": [{"role": "user", "content": "x"}]},
                                tags=["edited"], note="fixed")  # fmt: skip
    assert (
        edited.tags == ("edited",)
        and edited.note == "fixed"
        and edited.messages[0]["content"] == "x"
    )
    with pytest.raises(DatasetError, match="'messages' list"):
        await store.update(example_id, record={"text": "no"})
    await store.delete([example_id])
    assert await store.count("d") == 0


async def test_paging_by_last_id_walks_every_filtered_example_once(store: DatasetStore) -> None:
    statuses = [Status.APPROVED, Status.CANDIDATE, Status.APPROVED]
    examples = [NewExample(json.loads(chat_line(i)), status=statuses[i % 3]) for i in range(20)]
    ids = await store.add("d", examples)
    approved = [i for n, i in enumerate(ids) if statuses[n % 3] is Status.APPROVED]
    walked = [e.id async for e in store.each_example("d", status=Status.APPROVED, page=4)]
    assert walked == approved
    second_page = await store.examples("d", status=Status.APPROVED, after_id=approved[3], limit=4)
    assert [e.id for e in second_page] == approved[4:8]
    assert [e.id async for e in store.each_example("d", search="Question 1")] == [
        ids[1],
        *ids[10:20],
    ]


async def test_names_are_checked(store: DatasetStore) -> None:
    await store.create_dataset("one")
    with pytest.raises(DatasetError, match="already exists"):
        await store.create_dataset("one")
    with pytest.raises(DatasetError, match="no dataset named 'two'"):
        await store.examples("two")


KILL_SCRIPT = """
import asyncio, sys
from pathlib import Path
from voxdesk.core.training.database import Database
from voxdesk.core.training.store import DatasetStore
from voxdesk.core.training.transfer import import_file
async def main():
    store = DatasetStore(Database(Path(sys.argv[1])))
    await import_file(store, "big", Path(sys.argv[2]))
asyncio.run(main())
"""


KILLED_LINES = 100_000


async def test_a_killed_import_resumes_without_duplicates(tmp_path: Path) -> None:
    db_path, source = tmp_path / "voxdesk.db", tmp_path / "huge.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(KILLED_LINES):
            out.write(chat_line(i) + "\n" if i % 1_000 != 7 else "{broken\n")
    broken = [i + 1 for i in range(KILLED_LINES) if i % 1_000 == 7]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILL_SCRIPT, str(db_path), str(source),
        cwd=Path(__file__).parents[3],
    )  # fmt: skip
    await wait_for_progress(db_path, process)
    os.kill(process.pid, signal.SIGKILL)
    await process.wait()

    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        imported, rejected, lines_read, state = raw.execute(
            "SELECT imported, rejected, lines_read, state FROM imports"
        ).fetchone()
        stored = raw.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
    assert state == "running"  # the process died before it could say otherwise
    assert 0 < stored < KILLED_LINES - len(broken) and stored == imported
    assert lines_read % BATCH_LINES == 0 and imported + rejected == lines_read

    database = Database(db_path)  # reopening marks the dead import as interrupted
    store = DatasetStore(database)
    assert await store.count("big") == stored
    (interrupted,) = await list_imports(store)
    assert (interrupted.state, interrupted.imported) == ("interrupted", stored)

    result = await import_file(store, "big", source)  # the same command again
    assert result.resumed_after_line == lines_read
    assert (result.imported, result.rejected) == (KILLED_LINES - len(broken), len(broken))
    assert [problem.line for problem in result.problems] == broken
    distinct = await database.run(
        lambda c: c.execute("SELECT COUNT(DISTINCT record), COUNT(*) FROM examples").fetchone()
    )
    assert tuple(distinct) == (KILLED_LINES - len(broken),) * 2
    (finished,) = await list_imports(store, "big")
    assert (finished.id, finished.state) == (interrupted.id, "finished")
    await database.close()


async def wait_for_progress(db_path: Path, process: asyncio.subprocess.Process) -> None:
    """Poll (bounded) until the child has committed a few batches."""
    for _ in range(600):
        if db_path.exists():
            try:
                with sqlite3.connect(db_path, timeout=1) as raw:
                    row = raw.execute("SELECT imported FROM imports").fetchone()
                if row and row[0] >= 3 * BATCH_LINES:
                    return
            except sqlite3.OperationalError:
                pass  # the schema is being created
        assert process.returncode is None, "the import finished or died before it was killed"
        await asyncio.sleep(0.05)
    raise AssertionError("the import made no progress in 30 s")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.one_of(st.binary(max_size=30), st.text(max_size=30).map(str.encode),
                          st.just(chat_line(5).encode())), min_size=1, max_size=15))  # fmt: skip
@example(lines=[codecs.BOM_UTF8])  # a byte order mark and nothing else: an empty file
def test_fuzzed_imports_never_crash_and_account_for_every_line(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "fuzz.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")

    async def run() -> None:
        database = Database(folder / "voxdesk.db")
        try:
            result = await import_file(DatasetStore(database), "fuzz", path)
        except VoxdeskError:  # not text at all
            result = None
        finally:
            await database.close()
        # JSONL records end at "\n" only (splitlines would also split at a lone "\r"); blank
        # means JSON's whitespace only (not \v or \f, which bytes.strip would drop too).
        data = path.read_bytes()
        text = data.removeprefix(codecs.BOM_UTF8)  # a file's byte order mark is no content
        non_blank = sum(1 for line in text.split(b"\n") if line.strip(b" \t\r\n"))
        # Refused whole only when it cannot be text: nothing in it, a NUL, line 1 not UTF-8.
        assert (result is None) == (not non_blank or b"\0" in data or not _utf8(data))
        if result is not None:
            assert result.imported + result.rejected == non_blank
            assert len(result.problems) == result.rejected

    asyncio.run(run())


def _utf8(data: bytes) -> bool:
    try:
        data.split(b"\n")[0].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
chat_records = st.builds(
    lambda turns, weight: {"messages": [
        {"role": role, "content": text, **({"weight": weight} if role == "assistant" else {})}
        for role, text in turns
    ]},
    st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), texts), min_size=1,
             max_size=4),
    st.sampled_from([0, 1]),
)  # fmt: skip


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(chat_records, min_size=1, max_size=8))
@example([{"messages": [{"role": "user", "content": "one\x85two\u2028three"}]}])
def test_what_is_imported_exports_as_it_was(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, object]]
) -> None:
    folder = tmp_path_factory.mktemp("round-trip")
    source = folder / "in.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))

    async def run() -> list[object]:
        database = Database(folder / "voxdesk.db")
        store = DatasetStore(database)
        await import_file(store, "trip", source)
        # those with no assistant message to learn from were imported to fix, as candidates
        result = await export_jsonl(store, "trip", folder / "out.jsonl",
                                    statuses=(Status.APPROVED, Status.CANDIDATE))  # fmt: skip
        await database.close()
        # splitlines(), as careless readers do: it also breaks at U+0085 and U+2028
        return [json.loads(line) for line in result.training.read_text("utf-8").splitlines()]

    once = [r for i, r in enumerate(records) if r not in records[:i]]  # a repeat is rejected
    assert asyncio.run(run()) == once


async def test_a_deeply_nested_line_is_one_rejected_line(
    store: DatasetStore, tmp_path: Path
) -> None:
    deep = 100_000
    nested = {"messages": [{"role": "user", "content": "x"}], "extra": 0}
    for _ in range(MAX_NESTING - 1):  # as deep as allowed: the record and 99 lists in it
        nested["extra"] = [nested["extra"]]
    path = tmp_path / "deep.jsonl"
    lines = [chat_line(1), "[" * deep + "]" * deep, '{"messages": ' + "[" * 500 + "]" * 500 + "}",
             json.dumps(nested), chat_line(2)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    result = await import_file(store, "deep", path)
    assert (result.imported, result.rejected) == (3, 2)
    assert [(p.line, p.message) for p in result.problems] == [
        (2, f"nested more than {MAX_NESTING} levels deep"),
        (3, f"nested more than {MAX_NESTING} levels deep"),
    ]
    (record,) = await list_imports(store, "deep")
    assert (record.state, record.imported, record.rejected) == ("finished", 3, 2)
    exported = await export_jsonl(store, "deep", tmp_path / "out.jsonl",
                                  statuses=(Status.APPROVED, Status.CANDIDATE))  # fmt: skip
    assert exported.training_examples == 3
    assert list(exported.problems.values()) == [["example_missing_assistant_message"]]


async def test_importing_a_finished_file_again_changes_nothing(
    store: DatasetStore, tmp_path: Path
) -> None:
    path = tmp_path / "once.jsonl"
    path.write_text(chat_line(1) + "\n{bad\n" + chat_line(2) + "\n")
    first = await import_file(store, "d", path)
    again = await import_file(store, "d", path)
    assert again.finished_before is not None and again.import_id == first.import_id
    assert (again.imported, again.rejected, again.problems) == (2, 1, first.problems)
    assert await store.count("d") == 2
    path.write_text(chat_line(1) + "\n" + chat_line(3) + "\n")  # another file now
    changed = await import_file(store, "d", path)
    assert changed.finished_before is None and changed.imported == 1  # example 1 is there
    assert changed.problems == [LineProblem(1, "already in the dataset as example 1")]
    other = await import_file(store, "other", path)  # another dataset
    assert other.imported == 2 and await store.count("d") == 3


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
async def test_an_import_stopped_by_an_error_is_taken_up_where_it_stopped(
    store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    monkeypatch.setattr(transfer, "BATCH_LINES", 10)
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        rows = [["Prompt", "Completion"]] + [
            [f"Q{i}\nmore", "" if i % 7 == 3 else f"A{i}"] for i in range(45)
        ]
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    else:
        path.write_text("".join(chat_line(i) + "\n" if i % 7 != 3 else "{bad\n"
                                for i in range(45)))  # fmt: skip
    parse = transfer._csv_record if suffix == ".csv" else transfer._parse_record
    lines_seen: list[int] = []

    def failing(number: int, *args: object) -> object:
        lines_seen.append(number)
        if len(lines_seen) == 25:
            raise OSError("disk went away")
        return parse(number, *args)  # type: ignore[arg-type]

    name = "_csv_record" if suffix == ".csv" else "_parse_record"
    monkeypatch.setattr(transfer, name, failing)
    with pytest.raises(OSError, match="disk went away"):
        await import_file(store, "d", path)
    (stopped,) = await list_imports(store, "d")
    assert (stopped.state, stopped.imported + stopped.rejected) == ("interrupted", 20)
    monkeypatch.setattr(transfer, name, parse)

    result = await import_file(store, "d", path)
    bad = [i for i in range(45) if i % 7 == 3]
    assert (result.imported, result.rejected) == (45 - len(bad), len(bad))
    assert result.resumed_after_line == stopped.lines_read
    firsts = await store.examples("d", limit=100)
    texts = [e.messages[0]["content"] for e in firsts]
    expected = [f"Q{i}\nmore" if suffix == ".csv" else "Be kind" for i in range(45) if i not in bad]
    assert texts == expected
    if suffix == ".jsonl":
        assert [e.messages[1]["content"] for e in firsts] == [
            f"Question {i}?" for i in range(45) if i not in bad
        ]
        assert [p.line for p in result.problems] == [i + 1 for i in bad]
    else:  # a record spans two lines after the header
        assert [p.line for p in result.problems] == [2 * i + 3 for i in bad]
    (finished,) = await list_imports(store, "d")
    assert finished.state == "finished" and finished.id == stopped.id


async def test_a_csv_that_is_not_utf8_is_refused_before_anything_is_imported(
    store: DatasetStore, tmp_path: Path
) -> None:
    path = tmp_path / "cp1251.csv"
    path.write_bytes("prompt,completion\nhi,hello\nЦена?,3 рубля\n".encode("cp1251"))
    with pytest.raises(DatasetError, match=r"not UTF-8 text \(line 3\)"):
        await import_file(store, "csv", path)
    assert await list_imports(store) == []
    path.write_bytes("prompt,completion\nhi,hello\nЦена?,3 рубля".encode()[:-1])  # cut off
    with pytest.raises(DatasetError, match=r"not UTF-8 text \(line 3\)"):
        await import_file(store, "csv", path)


async def test_every_rejected_line_is_kept(
    store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "MAX_REPORTED_PROBLEMS", 5)
    path = tmp_path / "bad.jsonl"
    path.write_text("".join("{bad\n" if i % 2 else chat_line(i) + "\n" for i in range(40)))
    result = await import_file(store, "d", path)
    assert len(result.problems) == 5 and result.rejected == 20
    every = [p.line async for p in import_problems(store, result.import_id, page=3)]
    assert every == list(range(2, 41, 2))


async def test_the_importer_and_the_validator_agree_on_a_byte_order_mark(
    store: DatasetStore, tmp_path: Path
) -> None:
    path = tmp_path / "bom.jsonl"
    lines = ["\ufeff" + chat_line(1), chat_line(2), "\ufeff" + chat_line(3), '{"x": NaN}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = await import_file(store, "bom", path)
    report = validate_file(path)
    invalid = [f.line for f in report.findings if f.code == "invalid_json"]
    assert [p.line for p in result.problems] == invalid == [3, 4]
    assert result.imported == 2


async def test_an_import_left_running_under_a_reused_process_id_is_taken_up(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(chat_line(1) + "\n" + chat_line(2) + "\n")
    database = Database(tmp_path / "voxdesk.db")
    store = DatasetStore(database)
    first = await import_file(store, "d", path)
    # As a process killed in an earlier container with this process's id would have left it:
    await database.run(lambda c: c.execute(
        "UPDATE imports SET state = 'running', lines_read = 1, imported = 1, position = ?,"
        " finished_at = NULL", (len(chat_line(1)) + 1,)))  # fmt: skip
    await database.run(lambda c: c.execute("DELETE FROM examples WHERE id = 2"))
    await database.close()

    database = Database(tmp_path / "voxdesk.db")
    store = DatasetStore(database)
    again = await import_file(store, "d", path)
    assert (again.import_id, again.resumed_after_line, again.imported) == (first.import_id, 1, 2)
    assert await store.count("d") == 2
    await database.close()


async def test_a_cancelled_import_stops_after_its_batch_and_resumes(
    store: DatasetStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "BATCH_LINES", 10)
    path = tmp_path / "data.jsonl"
    path.write_text("".join(chat_line(i) + "\n" for i in range(100)))
    second_batch, release = threading.Event(), threading.Event()
    commits: list[int] = []
    commit = transfer._commit

    def held_commit(*args: Any) -> list[int]:
        ids = commit(*args)
        commits.append(1)
        if len(commits) == 2:
            second_batch.set()
            release.wait(30)
        return ids

    monkeypatch.setattr(transfer, "_commit", held_commit)
    task = asyncio.create_task(import_file(store, "d", path))
    assert await asyncio.to_thread(second_batch.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    (stopped,) = await list_imports(store, "d")  # runs after the import's thread let go
    assert (stopped.state, stopped.imported) == ("interrupted", 20)

    result = await import_file(store, "d", path)
    assert (result.resumed_after_line, result.imported) == (20, 100)
    assert await store.count("d") == 100
