"""``voxdesk dataset import`` as a user runs it: killed, run again, and asked for JSON."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import pytest

from tests.core.training.test_store import chat_line, wait_for_progress
from tests.test_cli import VOXDESK, assert_one_line_error, voxdesk
from voxdesk.core.training.database import default_database_path


async def test_json_lists_every_rejected_line(tmp_path: Path) -> None:
    data = tmp_path / "mixed.jsonl"
    data.write_text("".join("{bad\n" if i % 3 == 0 else chat_line(i) + "\n" for i in range(90)))
    run = await voxdesk("dataset", "import", "bot", str(data), "--json")
    assert run.code == 0, run.err
    outcome = json.loads(run.out)
    assert (outcome["imported"], outcome["rejected"]) == (60, 30)
    assert [p["line"] for p in outcome["problems"]] == list(range(1, 91, 3))
    assert outcome["problems"][0]["message"].startswith("not valid JSON")

    run = await voxdesk("dataset", "import", "bot", str(data))
    assert run.code == 0 and run.out.startswith("Nothing changed: mixed.jsonl was imported")
    assert "... and 10 more (use --json)." in run.out


async def test_a_killed_import_is_listed_and_finished_by_running_it_again(tmp_path: Path) -> None:
    lines = 100_000
    data = tmp_path / "big.jsonl"
    data.write_text("".join(chat_line(i) + "\n" for i in range(lines)))
    process = await asyncio.create_subprocess_exec(VOXDESK, "dataset", "import", "big", str(data))
    await wait_for_progress(default_database_path(), process)
    os.kill(process.pid, signal.SIGKILL)
    await process.wait()

    run = await voxdesk("dataset", "imports")
    assert run.code == 0, run.err
    assert "interrupted" in run.out and "import the same file into the same dataset" in run.out

    run = await voxdesk("dataset", "import", "big", str(data))
    assert run.code == 0, run.err
    assert f"Imported {lines} examples into 'big' from {lines} lines; 0 rejected" in run.out
    assert "taking up an interrupted import of this file after line" in run.out
    run = await voxdesk("dataset", "list")
    assert re.search(rf"big\s+│ {lines}\s+│ 0\s+│", run.out), run.out  # approved, candidate
    run = await voxdesk("dataset", "imports", "big")
    assert "finished" in run.out and "interrupted" not in run.out


async def test_a_file_that_fails_validation_exits_1_with_only_its_report(tmp_path: Path) -> None:
    data = tmp_path / "one.jsonl"
    data.write_text(chat_line(0) + "\n")  # one example: fewer than OpenAI accepts
    run = await voxdesk("dataset", "validate", str(data))
    assert (run.code, run.err) == (1, "")
    assert "error" in run.out and "unexpected" not in run.out


def bad_rows() -> list[str]:
    """Ten good examples, then what a careless file holds: lines 11-15 are the trouble."""
    no_answer = [{"role": "user", "content": "no answer"}]
    wizard = [{"role": "wizard", "content": 5}, {"role": "assistant", "content": "hm"}]
    secret = [{"role": "user", "content": "my key?"}, {"role": "assistant", "content": KEY}]
    trouble = [json.dumps({"messages": m}) for m in (no_answer, wizard, secret)]
    return [chat_line(i) for i in range(10)] + trouble + [chat_line(1), "{bad json"]


KEY = "sk-proj-" + "abcdefghij" * 3


async def test_import_approves_only_what_can_be_trained_on(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(bad_rows()) + "\n")
    run = await voxdesk("dataset", "import", "t1", str(data))
    assert run.code == 0, run.err
    assert "Imported 13 examples into 't1' from 15 lines; 2 rejected; 3 to fix, kept as " \
        "candidates." in run.out  # fmt: skip
    assert "line 14: the same example as line 2: imported once" in run.out
    assert "line 11, example 11: no assistant message to learn from" in run.out
    assert "line 12, example 12: a message has an unknown role; a message has no text" in run.out
    assert "line 13, example 13: contains what looks like an OpenAI API key" in run.out
    assert KEY not in run.out
    run = await voxdesk("dataset", "list")
    assert re.search(r"t1\s+│ 10\s+│ 3\s+│", run.out), run.out  # approved, candidate
    run = await voxdesk("dataset", "show", "t1", "--status", "candidate")
    assert "[redacted]" in run.out and "sk-proj" not in run.out

    out = tmp_path / "out.jsonl"
    run = await voxdesk("dataset", "export", "t1", str(out))
    assert run.code == 0 and "Wrote 10 examples to train on in out.jsonl." in run.out, run.err
    assert KEY not in out.read_text()
    run = await voxdesk("dataset", "validate", str(out))
    assert run.code == 0 and "ready to upload" in run.out, run.out

    run = await voxdesk("dataset", "export", "t1", str(out), "--include-candidates")
    assert run.code == 0, run.err
    assert ("to fix before fine-tuning: example 11 (no assistant message to learn from); "
            "example 12 (a message has an unknown role, a message has no text content); "
            "example 13 (contains what looks like an OpenAI API key)") in run.out  # fmt: skip


async def test_import_lists_only_examples_still_to_fix_and_json_lists_all(
    tmp_path: Path,
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(bad_rows()) + "\n")
    assert (await voxdesk("dataset", "import", "t1", str(data))).code == 0
    assert (await voxdesk("dataset", "approve", "13")).code == 0
    assert (await voxdesk("dataset", "approve", "--reject", "12")).code == 0
    run = await voxdesk("dataset", "import", "t1", str(data))
    assert "; 1 to fix, kept as candidates)" in run.out, run.out
    assert "example 11:" in run.out and "example 12" not in run.out and "example 13" not in run.out

    many = tmp_path / "many.jsonl"  # no answer in any: each is held to fix
    many.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Q{i}"}]})
                            + "\n" for i in range(1_005)))  # fmt: skip
    run = await voxdesk("dataset", "import", "t2", str(many), "--json")
    outcome = json.loads(run.out)
    assert outcome["held"] == len(outcome["held_examples"]) == 1_005
    assert [held["line"] for held in outcome["held_examples"]] == list(range(1, 1_006))


async def test_approving_says_what_is_wrong_and_which_ids_do_not_exist(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(bad_rows()) + "\n")
    assert (await voxdesk("dataset", "import", "t1", str(data))).code == 0
    run = await voxdesk("dataset", "approve", "9999")
    assert (
        run.code == 1 and run.out.strip() == "Approved 0 of 1 examples. No example has the id 9999."
    )
    run = await voxdesk("dataset", "approve", "13", "9998", "9999")
    assert run.code == 1
    assert run.out.startswith("Approved 1 of 3 examples. No examples have the ids 9998, 9999.")
    assert (
        "To fix before fine-tuning: example 13 (contains what looks like an OpenAI API" in run.out
    )
    run = await voxdesk("dataset", "list")
    assert re.search(r"t1\s+│ 11\s+│ 2\s+│", run.out), run.out


@pytest.mark.parametrize(
    ("content", "says"),
    [(bytes(range(256)) * 20, "holds binary data"), (b"", "is empty: there is nothing to import"),
     (b"\n \n", "is empty"), ("{}\n".encode("cp1251") + "Привет\n".encode("cp1251"), "")],
)  # fmt: skip
async def test_a_file_with_nothing_to_import_fails(
    tmp_path: Path, content: bytes, says: str
) -> None:
    data = tmp_path / "x.jsonl"
    data.write_bytes(content)
    run = await voxdesk("dataset", "import", "t1", str(data))
    if says:
        assert_one_line_error(run, says)
        assert "t1" not in (await voxdesk("dataset", "list")).out
    else:  # text, but no line is an example: each is named, and the import failed
        assert run.code == 1 and "Imported 0 examples" in run.out and "line 2: not UTF-8" in run.out


async def test_importing_only_repeats_succeeds_and_only_malformed_lines_fail(
    tmp_path: Path,
) -> None:
    first, again, broken = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    first.write_text("".join(chat_line(i) + "\n" for i in range(3)))
    again.write_text("".join(chat_line(i) + "\n" for i in (2, 1, 0, 0)))  # nothing new
    broken.write_text("{bad\n[1]\n")
    assert (await voxdesk("dataset", "import", "t1", str(first))).code == 0
    run = await voxdesk("dataset", "import", "t1", str(again))
    assert run.code == 0, run.out
    assert "Imported 0 examples into 't1' from 4 lines; 4 rejected." in run.out
    assert "line 1: already in the dataset as example 3" in run.out
    for _ in range(2):  # the same verdict when the finished import is asked again
        run = await voxdesk("dataset", "import", "t1", str(broken))
        assert run.code == 1 and "line 2: neither a chat example" in run.out, run.out


@pytest.mark.parametrize("place", ["/proc/x.jsonl", "folder", "file/x.jsonl", "file/a/x.jsonl"])
async def test_export_to_a_place_it_cannot_write_says_so(tmp_path: Path, place: str) -> None:
    data = tmp_path / "good.jsonl"
    data.write_text(chat_line(0) + "\n")
    assert (await voxdesk("dataset", "import", "t1", str(data))).code == 0
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    target = place if place.startswith("/") else str(tmp_path / place)
    run = await voxdesk("dataset", "export", "t1", target)
    says = {
        "/proc/x.jsonl": "/proc/x.jsonl cannot be written (No such file or directory). "
        "Choose a folder you can write to.",
        "folder": "folder is a folder. Give the file to write, like",
    }.get(place, f"{tmp_path / 'file'} is a file, so nothing can be written under it.")
    assert_one_line_error(run, says)
    assert "unexpected" not in run.err and "/." not in run.err  # no hidden temporary file


UTF16 = "x.jsonl is UTF-16 text; JSONL must be UTF-8. Save it as UTF-8"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("command", ["import", "validate"])
async def test_a_utf16_file_is_named_utf16(tmp_path: Path, encoding: str, command: str) -> None:
    data = tmp_path / "x.jsonl"
    mark = "\ufeff" if encoding != "utf-16" else ""  # "utf-16" writes the mark itself
    data.write_bytes((mark + chat_line(0) + "\n").encode(encoding))
    run = await voxdesk("dataset", command, *(["t1"] if command == "import" else []), str(data))
    assert_one_line_error(run, UTF16)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [("x.jsonl", bytes(range(256)) * 20, "x.jsonl holds binary data, not lines of text."),
     ("x.jsonl", "Привет\n".encode("cp1251") * 78, "x.jsonl is not UTF-8 text (line 1)."),
     ("x.csv", b"prompt,completion\nhi,hello\n", "Import it first (`voxdesk dataset import")],
)  # fmt: skip
async def test_validate_refuses_what_is_not_jsonl_in_one_line(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    data = tmp_path / name
    data.write_bytes(content)
    run = await voxdesk("dataset", "validate", str(data))
    assert_one_line_error(run, says)
    assert run.out == ""  # no table, no cost


async def test_validate_lists_a_line_of_every_finding_it_counts(tmp_path: Path) -> None:
    rows = [json.dumps({"messages": [{"role": "user", "content": f"Q{i}"},
                                     {"role": "assistant", "content": f"A{i}"}]})
            for i in range(30)]  # 30 missing_system_message warnings come first  # fmt: skip
    rows.append(json.dumps({"messages": [{"role": "user", "content": "key?"},
                                         {"role": "assistant", "content": KEY}]}))  # fmt: skip
    data = tmp_path / "many.jsonl"
    data.write_text("\n".join(rows) + "\n")
    run = await voxdesk("dataset", "validate", str(data))
    assert "secret_openai_key: 1" in run.out
    assert "line 31: warning secret_openai_key:" in run.out
    assert "... 11 more (use --json)." in run.out  # 31 warnings, 20 and the secret shown
