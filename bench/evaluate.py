"""Evaluation benchmark: 500 prompts x 3 models against the loopback OpenAI.

    python -m bench.evaluate [--prompts 500] [--latency 0.2] [--concurrency 50] [--rpm 16000]

The loopback server runs in its own process (so its work is not counted as the evaluation's),
answers every chat request after ``--latency`` seconds and refuses every 50th with a 429
(Retry-After) or a 500. Core's evaluation asks three models (a base model, a fine-tuned one and
a checkpoint, which answer the reference for different shares of the prompts) every prompt of a
held-out split. A second, shorter run has a rate limit that binds. Targets: the whole run within
1.2 x (requests x latency / concurrency); no window of requests beyond what the token bucket
allows (rate x window + one second's burst); every 429/500 survived with exactly one answer per
prompt and model; event-loop lag p99 < 16 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.looplag import LagStats, LoopLagMonitor
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.core.startup import freeze_start_up_objects
from voxdesk.core.training.evaluate import (
    EvalResult,
    EvaluationStore,
    Limits,
    evaluate,
    plan_evaluation,
)
from voxdesk.core.training.store import NewExample, Status

RESULTS = Path(__file__).parent / "results" / "evaluate.json"
BASE = "gpt-4o-mini-2024-07-18"
TUNED = "ft:gpt-4o-mini-2024-07-18:voxdesk-bench:bot:bench01"
CHECKPOINT = "ft:gpt-4o-mini-2024-07-18:voxdesk-bench:bot:bench01:ckpt-step-40"
LEARNT = {TUNED: 3, CHECKPOINT: 2}  # of every 5 prompts, how many each answers as taught
FAILURE_EVERY = 50


def question(i: int) -> str:
    return f"Question {i}: when does the club open on day {i}?"


def reference(i: int) -> str:
    return f"The club opens at {8 + i % 12} o'clock on day {i}."


def _answerer(model: str) -> Any:
    def answer(messages: list[dict[str, Any]]) -> str:
        number = int(messages[-1]["content"].split(":")[0].split()[-1])
        if number % 5 < LEARNT[model]:
            return reference(number)
        return "I am not sure when the club opens, sorry."

    return answer


def serve(latency: float, pipe: Connection) -> None:
    """The loopback server's process: its URL out, then its traffic when asked to stop."""

    async def main() -> None:
        fake = await FakeOpenAI().start()
        fake.strict_models = True
        fake.models |= set(LEARNT)
        fake.answers = {model: _answerer(model) for model in LEARNT}
        fake.reply = "I am not sure when the club opens, sorry."
        fake.reply_delay = latency
        fake.chat_failure_every = FAILURE_EVERY
        pipe.send(fake.base_url)
        while True:
            await asyncio.to_thread(pipe.poll, None)
            if pipe.recv() == "stop":
                break
            answered = Counter(f"{b['model']}|{b['messages'][-1]['content']}"
                               for b in fake.chat_requests)  # fmt: skip
            pipe.send({"times": fake.chat_times, "answered": dict(answered)})
            fake.chat_times, fake.chat_requests = [], []
        await fake.stop()

    asyncio.run(main())


async def run_once(
    services: Services, url: str, pipe: Connection, prompts: int, limits: Limits
) -> dict[str, Any]:
    services.settings.openai.base_url = url
    plan = await plan_evaluation(services, [BASE, TUNED, CHECKPOINT], "bench", limit=prompts)
    monitor = LoopLagMonitor()
    monitor.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = await evaluate(services, plan, limits=limits)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    lag = await monitor.stop()
    pipe.send("traffic")
    traffic = await asyncio.to_thread(pipe.recv)
    stored = await EvaluationStore(services.database).answers(result.id)
    return {
        "requests": len(plan.cases) * len(plan.models), "elapsed": elapsed, "cpu": cpu,
        "limits": limits.__dict__, "lag": lag.__dict__, "summaries": _summaries(result),
        "failed": sum(1 for a in result.answers if a.error is not None),
        "retried": sum(a.attempts - 1 for a in result.answers),
        "stored": len(stored), "distinct_stored": len({(a.example_id, a.model) for a in stored}),
        "server_answers_per_pair": sorted(set(traffic["answered"].values())),
        "server_pairs": len(traffic["answered"]), "times": traffic["times"],
        "estimate": plan.estimate.describe(),
    }  # fmt: skip


def _summaries(result: EvalResult) -> list[dict[str, Any]]:
    return [summary.__dict__ for summary in result.summaries()]


def busiest_excess(times: list[float], rpm: float) -> float:
    """The most requests any window held beyond what the bucket allows (rate x window + one
    second's burst); 0 or less means the limit held."""
    per_second = rpm / 60
    burst = max(1.0, per_second)
    times = sorted(times)
    worst = -burst
    end = 0
    for start, first in enumerate(times):  # windows starting at each request
        for window in (1.0, 5.0):
            end = start
            while end < len(times) and times[end] < first + window:
                end += 1
            worst = max(worst, (end - start) - (per_second * window + burst))
    return worst


async def run(prompts: int, latency: float, concurrency: int, rpm: float) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(latency, child))
    server.start()
    url = await asyncio.to_thread(parent.recv)
    with tempfile.TemporaryDirectory(prefix="voxdesk-bench-") as folder:
        settings = Settings()
        services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}),
                            database_path=Path(folder) / "voxdesk.db")  # fmt: skip
        freeze_start_up_objects()  # as the window does once started
        examples = [NewExample({"messages": [{"role": "user", "content": question(i)},
                                             {"role": "assistant", "content": reference(i)}]},
                               status=Status.APPROVED, tags=["validation"])
                    for i in range(prompts)]  # fmt: skip
        await services.datasets.add("bench", examples)
        main = await run_once(services, url, parent, prompts, Limits(concurrency, rpm))
        tight_rpm = 6000.0  # 100 a second: binds, as 3 x 200 requests would go at 250 a second
        tight = await run_once(services, url, parent, 200, Limits(concurrency, tight_rpm))
        await services.close()
    parent.send("stop")
    await asyncio.to_thread(server.join, 30)
    for one, limit in ((main, rpm), (tight, tight_rpm)):
        one["rate_excess"] = busiest_excess(one.pop("times"), limit)
    return {"latency": latency, "main": main, "rate_limited": tight,
            "idle_lag": (await idle_lag(main["elapsed"])).__dict__}  # fmt: skip


async def idle_lag(seconds: float) -> LagStats:
    """The lag of a loop doing nothing, as long as the main run: this machine's floor."""
    monitor = LoopLagMonitor()
    monitor.start()
    await asyncio.sleep(seconds)
    return await monitor.stop()


def report(result: dict[str, Any], path: Path) -> bool:
    console = Console(width=140)
    main, tight = result["main"], result["rate_limited"]
    models = Table(title=f"{main['requests'] // 3} prompts x 3 models: {main['estimate']}")
    for column in ("model", "answered", "failed", "mean similarity", "wins", "cost", "latency"):
        models.add_column(column, justify="left" if column == "model" else "right")
    for row in main["summaries"]:
        models.add_row(row["model"], str(row["answered"]), str(row["failed"]),
                       f"{row['mean_similarity']:.1f}", str(row["wins"]),
                       f"${row['cost']:.4f}", f"{row['mean_latency']:.3f} s")  # fmt: skip
    console.print(models)
    latency = f"{result['latency'] * 1000:.0f} ms"
    runs = Table(title=f"Runs against the loopback OpenAI ({latency} a request, every "
                       f"{FAILURE_EVERY}th refused with a 429 or a 500)")  # fmt: skip
    columns = ("run", "requests", "concurrency", "rpm", "elapsed s", "bound s", "retries",
               "stored", "rate excess", "cpu ms/request", "lag p50 ms", "p99 ms",
               "max ms")  # fmt: skip
    for column in columns:
        runs.add_column(column, justify="right")
    checks: list[tuple[bool, str]] = []
    for name, one in (("main", main), ("rate-limited", tight)):
        limits = one["limits"]
        ideal = one["requests"] * result["latency"] / limits["concurrency"]
        per_second = limits["requests_per_minute"] / 60  # after the bucket's half second
        floor = (one["requests"] - per_second / 2) / per_second
        bound = 1.2 * max(ideal, floor)
        lag = one["lag"]
        runs.add_row(name, str(one["requests"]), str(limits["concurrency"]),
                     f"{limits['requests_per_minute']:g}", f"{one['elapsed']:.2f}",
                     f"{bound:.2f}", str(one["retried"]), str(one["stored"]),
                     f"{one['rate_excess']:.0f}", f"{one['cpu'] * 1000 / one['requests']:.2f}",
                     f"{lag['p50_ms']:.1f}", f"{lag['p99_ms']:.1f}",
                     f"{lag['max_ms']:.1f}")  # fmt: skip
        once = (one["stored"] == one["distinct_stored"] == one["requests"] == one["server_pairs"]
                and one["server_answers_per_pair"] == [1] and one["failed"] == 0)  # fmt: skip
        checks += [
            (one["elapsed"] <= bound, f"{name}: within 1.2 x the ideal time ({bound:.2f} s)"),
            (one["rate_excess"] <= 0, f"{name}: within the rate limit in every 1 s and 5 s window"),
            (once and one["retried"] > 0, f"{name}: {one['retried']} retries through 429/500, "
                                          "one answer per prompt and model"),
            (lag["p99_ms"] < 16, f"{name}: event-loop lag p99 < 16 ms"),
        ]  # fmt: skip
    console.print(runs)
    idle = result["idle_lag"]
    console.print(f"An idle loop on this machine, as long: lag p50 {idle['p50_ms']:.1f} ms, "
                  f"p99 {idle['p99_ms']:.1f} ms, max {idle['max_ms']:.1f} ms")  # fmt: skip
    for ok, text in checks:
        console.print(f"{'PASS' if ok else 'FAIL'}  {text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"Wrote {path}")
    return all(ok for ok, _ in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.2, help="Seconds a chat answer takes.")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rpm", type=float, default=16_000, help="Requests per minute.")
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(run(args.prompts, args.latency, args.concurrency, args.rpm))
    raise SystemExit(0 if report(result, args.json) else 1)


if __name__ == "__main__":
    main()
