"""A large file is validated on every core and reports exactly what one process would."""

from __future__ import annotations

import itertools
import json
import random
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from bench.dataset_file import write_dataset
from voxdesk.core.training import scan, stretches
from voxdesk.core.training.validator import validate_file, validate_lines
from voxdesk.core.work import Cancelled

MODEL = "gpt-3.5-turbo-0125"


@pytest.fixture
def training_file(tmp_path: Path) -> Path:
    """Defects of every kind, duplicates far apart, a blank line and a secret."""
    path = tmp_path / "train.jsonl"
    write_dataset(path, 1_500)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[700] = ""
    lines[900] = json.dumps({"messages": [{"role": "user", "content": "key sk-" + "a" * 30}]})
    shouted = json.loads(lines[10])
    for message in shouted["messages"]:
        message["content"] = message["content"].upper() + "!!"
    lines += [lines[3], lines[1_200], json.dumps(shouted)]  # exact, exact and near duplicates
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stretches, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(stretches, "STRETCH_BYTES", 100_000)
    monkeypatch.setattr(stretches.os, "cpu_count", lambda: 2)


@pytest.mark.usefixtures("small_stretches")
def test_workers_report_what_one_process_does(training_file: Path) -> None:
    seen: list[tuple[int, int]] = []
    size = training_file.stat().st_size
    parallel = validate_file(
        training_file, model=MODEL, progress=lambda done, total: seen.append((done, total))
    )
    with training_file.open("rb") as handle:
        single = validate_lines(handle, model=MODEL)
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == (size, size)
    assert parallel.counts == single.counts
    assert parallel.findings == single.findings
    assert parallel.total_tokens_per_example == single.total_tokens_per_example
    assert parallel.assistant_tokens_per_example == single.assistant_tokens_per_example
    assert (parallel.total_tokens, parallel.billing_tokens) == (single.total_tokens,
                                                                single.billing_tokens)  # fmt: skip
    assert parallel.counts["duplicate"] == 2 and parallel.counts["near_duplicate"] == 1
    duplicate_lines = [f.line for f in parallel.findings if f.code.endswith("duplicate")]
    assert duplicate_lines == [1_501, 1_502, 1_503]
    assert any(f.line == 901 and f.code == "secret_openai_key" for f in parallel.findings)


@pytest.mark.usefixtures("small_stretches")
def test_a_failed_worker_pool_falls_back_to_this_process(
    training_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise BrokenProcessPool("a worker was killed")

    monkeypatch.setattr(stretches, "_scan_in_workers", broken)
    with training_file.open("rb") as handle:
        single = validate_lines(handle, model=MODEL)
    assert validate_file(training_file, model=MODEL).findings == single.findings


@pytest.mark.parametrize("parallel", [False, True])
def test_validation_can_be_cancelled(
    training_file: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    monkeypatch.setattr(stretches, "PARALLEL_MIN_BYTES", 0 if parallel else 1 << 40)
    monkeypatch.setattr(stretches, "STRETCH_BYTES", 100_000)
    monkeypatch.setattr(stretches.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(scan, "CHUNK_LINES", 100)
    cancelled, seen = threading.Event(), []

    def progressed(done: int, total: int) -> None:
        seen.append(done)
        cancelled.set()  # as the Cancel button would, once work is under way

    with pytest.raises(Cancelled):
        validate_file(training_file, model=MODEL, progress=progressed, cancelled=cancelled)
    assert len(seen) == 1 and seen[0] < training_file.stat().st_size


@pytest.mark.parametrize("seed", range(5))
def test_stretches_start_lines_and_read_the_lines_of_the_file(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = [b"x" * rng.choice([0, 1, 5, 200, 5_000]) for _ in range(rng.randint(1, 300))]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines) + rng.choice([b"", b"\n"]))
    size = path.stat().st_size
    bounds = stretches._line_bounds(path, size, rng.randint(2, 12))
    data = path.read_bytes()
    assert bounds[0] == 0 and bounds[-1] == size and bounds == sorted(set(bounds))
    assert all(data[bound - 1 : bound] == b"\n" for bound in bounds[1:-1])
    read = [line for start, end in itertools.pairwise(bounds)
            for chunk in stretches._chunks(data[start:end]) for line in chunk]  # fmt: skip
    assert read == [line.rstrip(b"\n") for line in data.splitlines(keepends=True)]
