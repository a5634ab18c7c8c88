"""Evaluating models, pausing and resuming jobs from the command line, against the loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.test_cli import assert_one_line_error, voxdesk
from tests.test_cli_training import environment

TUNED = "ft:gpt-4o-mini-2024-07-18:voxdesk-test:bot:abc123"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    fake = await FakeOpenAI(steps=2).start()
    fake.strict_models = True
    fake.models.add(TUNED)
    yield fake
    assert fake.spec_problems() == []
    await fake.stop()


async def import_dataset(tmp_path: Path, count: int = 10) -> None:
    rows = [{"messages": [{"role": "user", "content": f"Вопрос {i}?"},
                          {"role": "assistant", "content": f"Ответ номер {i}."}]}
            for i in range(count)]  # fmt: skip
    data = tmp_path / "club.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    run = await voxdesk("dataset", "import", "club", str(data))
    assert run.code == 0, run.err


async def test_eval_prints_the_cost_progress_and_a_summary_and_exports(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    await import_dataset(tmp_path)

    def tuned(messages: list[dict[str, Any]]) -> str:
        return messages[-1]["content"].replace("Вопрос", "Ответ номер").replace("?", ".")

    server.answers[TUNED] = tuned
    env = environment(server)
    run = await voxdesk("finetune", "eval", "gpt-4o-mini", TUNED, "--dataset", "club", env=env)
    assert_one_line_error(run, "no 'validation' split", "voxdesk finetune split club")

    run = await voxdesk("finetune", "split", "club", "--share", "0.3")
    assert run.code == 0 and "holds 3 examples out as 'validation'" in run.out, run.err
    export = tmp_path / "answers.csv"
    run = await voxdesk("finetune", "eval", "gpt-4o-mini", TUNED, "--dataset", "club",
                        "--concurrency", "4", "--rpm", "6000", "--export", str(export), "--yes",
                        env=env)  # fmt: skip
    assert run.code == 0, run.err
    assert "3 prompts x 2 models: 6 requests" in run.out and "estimated at" in run.out
    rows = [[cell.strip() for cell in line.split("│")[1:-1]]
            for line in run.out.splitlines() if line.startswith("│")]  # fmt: skip
    base, tuned = [row for row in rows if row[1]]  # a long name goes on over lines
    assert "".join(row[0] for row in rows[1:]) == TUNED  # in full
    assert (base[3], base[4]) == ("33.3", "0") and (tuned[3], tuned[4]) == ("100.0", "3")
    assert "Wrote 6 answers" in run.out
    assert len(export.read_text(encoding="utf-8").splitlines()) == 7


async def test_eval_names_a_model_that_does_not_exist_in_one_line(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    await import_dataset(tmp_path)
    await voxdesk("finetune", "split", "club")
    run = await voxdesk("finetune", "eval", "ft:gpt-4o-mini:typo", "--dataset", "club", "--yes",
                        env=environment(server))  # fmt: skip
    assert_one_line_error(run, "no model 'ft:gpt-4o-mini:typo'", "404")
    assert server.chat_requests == []


async def test_pause_and_resume_from_the_command_line(server: FakeOpenAI, tmp_path: Path) -> None:
    await import_dataset(tmp_path)
    env = environment(server)
    run = await voxdesk("finetune", "start", "--dataset", "club", "--yes", env=env)
    assert run.code == 0, run.err
    job_id = next(iter(server.jobs))
    server.jobs[job_id].status = "running"
    run = await voxdesk("finetune", "pause", job_id, env=env)
    assert run.code == 0 and f"Job {job_id} is paused." in run.out, run.err
    run = await voxdesk("finetune", "pause", job_id, env=env)
    assert_one_line_error(run, "is paused; only a running job can pause")
    run = await voxdesk("finetune", "resume", job_id, env=env)
    assert run.code == 0 and f"Job {job_id} is running." in run.out


async def test_checkpoints_are_listed_and_one_can_answer(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    await import_dataset(tmp_path)
    env = environment(server)
    run = await voxdesk("finetune", "start", "--dataset", "club", "--yes", env=env)
    job_id = next(iter(server.jobs))
    run = await voxdesk("finetune", "checkpoints", job_id, env=env)
    assert_one_line_error(run, f"Job {job_id} (", "has no checkpoints")
    run = await voxdesk("finetune", "follow", job_id, env=env)
    assert run.code == 0, run.err
    run = await voxdesk("finetune", "checkpoints", job_id, env=env)
    assert run.code == 0 and "ckpt-step-1" in run.out and "ckpt-step-2" in run.out, run.err
    run = await voxdesk("finetune", "use", job_id, "--step", "7", env=env)
    assert_one_line_error(run, "no checkpoint at step 7", "steps 1, 2")
    run = await voxdesk("finetune", "use", job_id, "--step", "1", env=env)
    assert run.code == 0 and "Replies now use ft:gpt-4o-mini-2024-07-18:ckpt-step-1." in run.out
