"""Evaluating models on a held-out split, against the loopback OpenAI server."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI
from voxdesk.core.config import OpenAISettings, SecretStore
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.services import Services
from voxdesk.core.training import evaluate as evaluate_module
from voxdesk.core.training.evaluate import (
    NO_VERDICT,
    EvalPlan,
    EvaluationError,
    EvaluationStore,
    Limits,
    Progress,
    evaluate,
    export_results,
    hold_out,
    plan_evaluation,
)
from voxdesk.core.training.store import NewExample, Status

BASE = "gpt-4o-mini-2024-07-18"
TUNED = "ft:gpt-4o-mini-2024-07-18:voxdesk-test:bot:abc123"
JUDGE = "gpt-4.1-mini-2025-04-14"


@pytest.fixture
def server(server: FakeOpenAI) -> FakeOpenAI:
    """The shared loopback server, knowing the fine-tuned model and no other."""
    server.strict_models = True
    server.models.add(TUNED)
    return server


@pytest.fixture
def services(services: Services) -> Services:
    """The shared services, with the SDK's own retries as a user has them."""
    services.settings.openai.max_retries = OpenAISettings().max_retries
    return services


def question(i: int) -> str:
    return f"Когда открывается клуб в день {i}?"


def reference(i: int) -> str:
    return f"Клуб открывается в {10 + i} часов, приходите!"


async def fill(services: Services, held_out: int = 5, trained: int = 3) -> None:
    """Examples 0..held_out-1 tagged 'validation' (the last one a Discord correction)."""
    examples = [
        NewExample({"messages": [{"role": "system", "content": "Отвечай кратко."},
                                 {"role": "user", "content": question(i)},
                                 {"role": "assistant", "content": reference(i)}]},
                   status=Status.APPROVED, tags=["validation"] if i < held_out else [])
        for i in range(held_out + trained)
    ]  # fmt: skip
    await services.datasets.add("club", examples)
    correction = await services.datasets.add_correction(
        "club", conversation=[{"role": "user", "content": question(99)}],
        wrong_reply="Не знаю.", corrected_reply=reference(99),
    )  # fmt: skip
    await services.datasets.update(correction, tags=["validation"])


def learns(server: FakeOpenAI, learnt: set[int]) -> None:
    """The tuned model answers the reference for the questions in ``learnt``."""
    known = {question(i): reference(i) for i in learnt}

    def reply(messages: list[dict[str, Any]]) -> str:
        return known.get(messages[-1]["content"], "Не знаю.")

    server.answers[TUNED] = reply


def asked(server: FakeOpenAI) -> Counter[tuple[str, str]]:
    return Counter((body["model"], body["messages"][-1]["content"])
                   for body in server.chat_requests)  # fmt: skip


async def test_every_model_answers_every_prompt_once_and_each_answer_is_kept(
    server: FakeOpenAI, services: Services
) -> None:
    await fill(services)
    learns(server, {0, 1, 2, 99})
    plan = await plan_evaluation(services, [BASE, TUNED], "club")
    assert [case.prompt for case in plan.cases] == [*map(question, range(5)), question(99)]
    assert plan.cases[-1].original == "Не знаю." and plan.cases[0].original is None
    assert plan.estimate.requests == 12 and plan.estimate.dollars > 0

    seen: list[Progress] = []
    threads: set[threading.Thread] = set()

    def heard(step: Progress) -> None:
        seen.append(step)
        threads.add(threading.current_thread())

    result = await evaluate(services, plan, progress=heard)

    assert [step.done for step in seen] == list(range(1, 13))
    assert threads == {threading.current_thread()}  # the caller's: a window may show it
    assert set(asked(server).values()) == {1} and len(asked(server)) == 12
    sent = next(b for b in server.chat_requests if b["messages"][-1]["content"] == question(0))
    assert sent["messages"][0] == {"role": "system", "content": "Отвечай кратко."}
    assert all(m["role"] != "assistant" for m in sent["messages"])  # the reference stays here
    stored = await EvaluationStore(services.database).answers(result.id)
    assert sorted(stored, key=lambda a: (a.example_id, a.model)) == sorted(
        result.answers, key=lambda a: (a.example_id, a.model)
    )
    base, tuned = result.summaries()
    assert (tuned.model, tuned.answered, tuned.wins) == (TUNED, 6, 4)
    assert tuned.mean_similarity is not None and base.mean_similarity is not None
    assert tuned.mean_similarity > base.mean_similarity
    assert base.cost is not None and tuned.cost is not None and tuned.cost > 0
    assert result.corrections_learnt() == {BASE: (0, 1), TUNED: (1, 1)}
    learnt = result.answer(plan.cases[-1].example_id, TUNED)
    assert learnt is not None and learnt.similarity == 100.0
    records = await EvaluationStore(services.database).evaluations()
    assert [(r.id, r.state, r.models) for r in records] == [(result.id, "finished", (BASE, TUNED))]


async def test_rate_limits_and_server_errors_are_waited_out_without_duplicate_answers(
    server: FakeOpenAI, services: Services
) -> None:
    await fill(services)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    plan = await plan_evaluation(services, [BASE, TUNED], "club")
    server.fail_next(429, "Rate limit reached", **{"Retry-After": "7"})
    server.fail_next(500, "The server had an error")
    server.fail_next(503, "Overloaded")
    result = await evaluate(services, plan, limits=Limits(concurrency=1), sleep=sleep)

    assert waits[0] == 7.0  # as Retry-After asked
    assert len(waits) == 3
    assert all(0 <= wait <= 0.5 for wait in waits[1:])  # else a first retry's: random, up to 0.5 s
    assert len(result.answers) == 12 and all(a.error is None for a in result.answers)
    assert set(asked(server).values()) == {1}
    assert sum(a.attempts for a in result.answers) == 15
    stored = await EvaluationStore(services.database).answers(result.id)
    assert len({(a.example_id, a.model) for a in stored}) == len(stored) == 12


async def test_requests_keep_to_the_rate_limit(server: FakeOpenAI, services: Services) -> None:
    await fill(services, held_out=14)
    plan = await plan_evaluation(services, [BASE, TUNED], "club")
    started = time.monotonic()
    await evaluate(services, plan, limits=Limits(concurrency=16, requests_per_minute=600))
    # 30 requests at 10 a second with a bucket of 10: at least two seconds.
    assert time.monotonic() - started >= 1.9
    times = server.chat_times
    busiest = max(sum(1 for t in times if first <= t < first + 1) for first in times)
    assert busiest <= 20


async def test_a_model_that_does_not_exist_is_one_line_before_any_answer(
    server: FakeOpenAI, services: Services
) -> None:
    await fill(services)
    with pytest.raises(EvaluationError) as error:
        await plan_evaluation(services, [BASE, "ft:gpt-4o-mini:nobody:typo:zzz"], "club")
    assert "no model 'ft:gpt-4o-mini:nobody:typo:zzz'" in error.value.describe()
    assert "404" in error.value.describe()
    assert server.chat_requests == []


async def test_a_dataset_without_the_split_says_how_to_make_one(services: Services) -> None:
    await services.datasets.add("plain", [NewExample(
        {"messages": [{"role": "user", "content": question(i)},
                      {"role": "assistant", "content": reference(i)}]},
        status=Status.APPROVED) for i in range(10)])  # fmt: skip
    with pytest.raises(EvaluationError) as error:
        await plan_evaluation(services, [BASE], "plain")
    assert "voxdesk finetune split plain" in error.value.describe()

    assert await hold_out(services.datasets, "plain", 0.2) == 2
    assert await hold_out(services.datasets, "plain", 0.2) == 2  # the same two, not two more
    plan = await plan_evaluation(services, [BASE], "plain")
    assert len(plan.cases) == 2


async def test_the_judge_gives_verdicts_and_nonsense_is_no_verdict(
    server: FakeOpenAI, services: Services
) -> None:
    await fill(services, held_out=2)
    learns(server, {0})

    def judge(messages: list[dict[str, Any]]) -> str:
        graded = messages[-1]["content"]
        if question(1) in graded:
            return "I think it is fine!!"  # not the JSON asked for
        verdict = "correct" if graded.endswith(reference(0)) else "wrong"
        return json.dumps({"verdict": verdict, "reasoning": "Same hours.\nSame words."})

    server.answers[JUDGE] = judge
    plan = await plan_evaluation(services, [BASE, TUNED], "club", judge=JUDGE)
    assert plan.estimate.requests == 12
    result = await evaluate(services, plan)

    first = plan.cases[0].example_id
    tuned, base = result.answer(first, TUNED), result.answer(first, BASE)
    assert tuned is not None and base is not None
    assert (tuned.verdict, tuned.reasoning) == ("correct", "Same hours. Same words.")
    assert base.verdict == "wrong"
    confused = result.answer(plan.cases[1].example_id, TUNED)
    assert confused is not None and confused.verdict == NO_VERDICT
    assert "\n" not in confused.reasoning and "verdict" in confused.reasoning
    judged = [b for b in server.chat_requests if b["model"] == JUDGE]
    assert len(judged) == 6
    assert judged[0]["response_format"]["type"] == "json_schema"
    assert {s.model: s.verdicts.get("correct", 0) for s in result.summaries()} == {
        BASE: 0, TUNED: 1,
    }  # fmt: skip


async def held_out_plan(server: FakeOpenAI, services: Services) -> EvalPlan:
    """Eight held-out prompts for the base model, each answered after 50 ms."""
    await fill(services, held_out=8)
    server.reply_delay = 0.05
    return await plan_evaluation(services, [BASE], "club")


def counted(
    enough: int,
) -> tuple[list[Progress], asyncio.Event, Callable[[Progress], None]]:
    """Progress kept as it comes, and an event set once ``enough`` steps came."""
    seen: list[Progress] = []
    reached = asyncio.Event()

    def heard(step: Progress) -> None:
        seen.append(step)
        if len(seen) == enough:
            reached.set()

    return seen, reached, heard


async def test_stopping_keeps_the_answers_so_far(server: FakeOpenAI, services: Services) -> None:
    plan = await held_out_plan(server, services)
    seen, two, heard = counted(2)

    task = asyncio.create_task(
        evaluate(services, plan, limits=Limits(concurrency=1), progress=heard)
    )
    await two.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store = EvaluationStore(services.database)
    (record,) = await store.evaluations()
    assert record.state == "cancelled"
    assert len(await store.answers(record.id)) == len(seen) < len(plan.cases)
    # Its requests stopped with it: the one under way was the last, its loop and thread gone.
    assert len(server.chat_requests) <= len(seen) + 1
    assert "voxdesk-evaluation" not in {thread.name for thread in threading.enumerate()}


async def test_the_callers_loop_runs_while_the_answers_are_worked_on(
    server: FakeOpenAI, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests and their answers are worked on off the caller's loop (the window's, the
    bot's): an answer whose scoring blocks its loop leaves the caller's free to run."""
    await fill(services, held_out=1)
    plan = await plan_evaluation(services, [BASE], "club", limit=1)
    blocked, released = threading.Event(), threading.Event()

    def held(answer: str, reference: str) -> float:
        blocked.set()
        return 100.0 if released.wait(timeout=5) else 0.0  # 0: nobody could release it

    monkeypatch.setattr(evaluate_module, "similarity", held)
    task = asyncio.create_task(evaluate(services, plan))
    assert await asyncio.to_thread(blocked.wait, 5)
    released.set()  # this loop ran while the answer's loop was blocked
    result = await task
    assert [answer.similarity for answer in result.answers] == [100.0]


async def test_results_export_as_jsonl_and_csv(
    server: FakeOpenAI, services: Services, tmp_path: Path
) -> None:
    await fill(services, held_out=2)
    plan: EvalPlan = await plan_evaluation(services, [BASE, TUNED], "club")
    result = await evaluate(services, plan)
    lines = (await export_results(result, tmp_path / "r.jsonl")).read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 6
    assert {"prompt", "reference", "original", "model", "text", "similarity"} <= set(rows[0])
    with (await export_results(result, tmp_path / "r.csv")).open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["model"] for row in table] == [row["model"] for row in rows]
    assert table[-1]["original"] == "Не знаю."
    with pytest.raises(EvaluationError):
        await export_results(result, tmp_path / "r.xlsx")


async def test_a_refused_key_stops_the_evaluation_with_one_error(
    server: FakeOpenAI, services: Services
) -> None:
    await fill(services, held_out=3)
    plan = await plan_evaluation(services, [BASE], "club")
    services.secrets = SecretStore({"OPENAI_API_KEY": "sk-wrong-0123456789abcdefghijkl"})
    with pytest.raises(VoxdeskError, match="rejected the API key"):
        await evaluate(services, plan)
    (record,) = await EvaluationStore(services.database).evaluations()
    assert record.state == "failed"


async def test_openai_going_away_stops_the_evaluation_with_one_clear_line(
    server: FakeOpenAI, services: Services
) -> None:
    """A connection refused, not a timeout: the aiohttp transport calls both timeouts."""
    plan = await held_out_plan(server, services)
    _, two, heard = counted(2)

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    task = asyncio.create_task(evaluate(
        services, plan, limits=Limits(concurrency=1), progress=heard, sleep=sleep
    ))  # fmt: skip
    await two.wait()
    await server.stop()
    with pytest.raises(VoxdeskError) as error:
        await task
    assert error.value.describe() == (
        "OpenAI cannot be reached. Check the internet connection and openai.base_url."
    )
    store = EvaluationStore(services.database)
    (record,) = await store.evaluations()
    assert record.state == "failed"
    kept = await store.answers(record.id)
    assert len(kept) >= 2 and all(a.error is None for a in kept)
    assert len(kept) < len(plan.cases)


async def test_stopping_while_it_is_recorded_records_it_stopped(
    server: FakeOpenAI, services: Services, tmp_path: Path
) -> None:
    await fill(services, held_out=2)
    plan = await plan_evaluation(services, [BASE], "club")
    inserting = threading.Event()

    def traced(statement: str) -> None:
        if statement.startswith("INSERT INTO evaluations"):
            inserting.set()

    await services.database.run(lambda connection: connection.set_trace_callback(traced))
    other = sqlite3.connect(tmp_path / "voxdesk.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the record's INSERT waits for this writer
    task = asyncio.create_task(evaluate(services, plan))
    assert await asyncio.to_thread(inserting.wait, 5)
    task.cancel()  # while the record is being written
    other.execute("ROLLBACK")
    other.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    (record,) = await EvaluationStore(services.database).evaluations()
    assert record.state == "cancelled"
    assert server.chat_requests == []


async def test_a_run_whose_process_is_gone_reads_as_interrupted(
    server: FakeOpenAI, services: Services
) -> None:
    await fill(services, held_out=1)
    plan = await plan_evaluation(services, [BASE], "club")
    store = EvaluationStore(services.database)
    here = await store.begin(plan)
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "")
    await gone.wait()

    def left_running(connection: sqlite3.Connection, pid: int) -> int:
        cursor = connection.execute(
            "INSERT INTO evaluations (dataset, split, models, state, started_at, pid)"
            " VALUES ('club', 'validation', '[]', 'running', '2026-01-01', ?)",
            (pid,),
        )
        return int(cursor.lastrowid or 0)

    killed = await services.database.run(partial(left_running, pid=gone.pid))
    elsewhere = await services.database.run(partial(left_running, pid=os.getppid()))
    # This process's id, not its run: an earlier process had the same id (a new container)
    earlier = await services.database.run(partial(left_running, pid=os.getpid()))

    read = {record.id: record.state for record in await store.evaluations()}
    assert read == {here: "running", killed: "interrupted", elsewhere: "running",
                    earlier: "interrupted"}  # fmt: skip
    await store.finish(here, "finished")
    assert [r.state for r in await store.evaluations() if r.id == here] == ["finished"]
