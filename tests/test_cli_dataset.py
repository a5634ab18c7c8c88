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


KEY = "sk-proj-" + "abcdefghij" * 3


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
