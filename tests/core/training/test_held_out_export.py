"""The examples held out as the 'validation' split never reach a training file.

`voxdesk finetune split` tags them, evaluations ask them: a fine-tune trained on them would be
measured on the prompts it learnt.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import FakeOpenAI
from voxdesk.core.services import Services
from voxdesk.core.training.database import Database
from voxdesk.core.training.evaluate import DEFAULT_SPLIT, evaluate, hold_out, plan_evaluation
from voxdesk.core.training.job_request import JobOptions
from voxdesk.core.training.launch import (
    DEFAULT_VALIDATION_SHARE,
    FineTuneOrder,
    launch_fine_tune,
)
from voxdesk.core.training.store import DatasetError, DatasetStore, NewExample, Status
from voxdesk.core.training.transfer import VALIDATION_TAG, export_jsonl

MODEL = "gpt-4o-mini-2024-07-18"


def question(i: int) -> str:
    return f"Во сколько открывается клуб в день {i}?"


def example(i: int, *, tags: list[str] | None = None) -> NewExample:
    record = {"messages": [{"role": "user", "content": question(i)},
                           {"role": "assistant", "content": f"В {i % 12 + 8} часов."}]}  # fmt: skip
    return NewExample(record, status=Status.APPROVED, tags=tags or [])


def prompts(path: Path | None) -> set[str]:
    if path is None:
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["messages"][-2]["content"] for line in lines}


def prompts_in(server: FakeOpenAI, file_id: str) -> set[str]:
    lines = server.file_contents[file_id].decode("utf-8").splitlines()
    return {json.loads(line)["messages"][-2]["content"] for line in lines}


def test_the_export_holds_out_the_split_evaluations_ask() -> None:
    assert VALIDATION_TAG == DEFAULT_SPLIT


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    tagged=st.sets(st.integers(0, 11), max_size=11),
    ratio=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9]),
    seed=st.integers(0, 3),
)
def test_tagged_examples_only_ever_go_to_the_validation_file(
    tmp_path_factory: pytest.TempPathFactory, tagged: set[int], ratio: float, seed: int
) -> None:
    folder = tmp_path_factory.mktemp("export")

    async def run() -> None:
        database = Database(folder / "voxdesk.db")
        store = DatasetStore(database)
        try:
            await store.add("club", [example(i, tags=["validation", "x"] if i in tagged else ["x"])
                                     for i in range(12)])  # fmt: skip
            result = await export_jsonl(store, "club", folder / "out.jsonl",
                                        validation_ratio=ratio, seed=seed)  # fmt: skip
        finally:
            await database.close()
        held = {question(i) for i in tagged}
        training, validation = prompts(result.training), prompts(result.validation)
        assert held <= validation and not held & training
        assert len(training | validation) == 12 and training  # every example, one side each
        # The share asked for is the whole validation file, tagged ones included.
        assert len(validation) == max(len(held), min(round(12 * ratio), 11))

    asyncio.run(run())


async def test_a_dataset_held_out_entirely_is_refused_and_writes_nothing(
    services: Services, tmp_path: Path
) -> None:
    await services.datasets.add("club", [example(i, tags=["validation"]) for i in range(3)])
    with pytest.raises(DatasetError, match="none is left to train on"):
        await export_jsonl(services.datasets, "club", tmp_path / "out.jsonl")
    assert list(tmp_path.glob("out*")) == []


async def test_a_preference_export_holds_out_tagged_corrections(
    services: Services, tmp_path: Path
) -> None:
    store = services.datasets
    for i in range(4):
        made = await store.add_correction(
            "club", conversation=[{"role": "user", "content": question(i)}],
            wrong_reply="Не знаю.", corrected_reply=f"В {i + 8} часов.",
        )  # fmt: skip
        await store.update(made, status=Status.APPROVED, tags=["validation"] if i == 0 else [])
    result = await export_jsonl(store, "club", tmp_path / "dpo.jsonl", kind="preference")

    def asked(path: Path | None) -> list[str]:
        assert path is not None
        return [json.loads(line)["input"]["messages"][-1]["content"]
                for line in path.read_text(encoding="utf-8").splitlines()]  # fmt: skip

    assert asked(result.validation) == [question(0)]
    assert asked(result.training) == [question(i) for i in (1, 2, 3)]


@pytest.mark.parametrize("share", [0.0, DEFAULT_VALIDATION_SHARE])
async def test_a_launch_uploads_the_split_as_its_validation_file(
    services: Services, server: FakeOpenAI, share: float
) -> None:
    await services.datasets.add("club", [example(i) for i in range(20)])
    assert await hold_out(services.datasets, "club", 0.2, seed=3) == 4
    tagged = await services.datasets.examples("club", tag=DEFAULT_SPLIT)
    held = {e.messages[0]["content"] for e in tagged}
    order = FineTuneOrder(JobOptions(MODEL, seed=5), "club", validation_share=share)
    started = await launch_fine_tune(services, order)
    sent: dict[str, Any] = server.jobs[started.job.id].body
    # The split is already more than the share: it is the validation file, nothing else.
    assert prompts_in(server, sent["validation_file"]) == held
    assert not held & prompts_in(server, sent["training_file"])
    assert len(prompts_in(server, sent["training_file"])) == 16


async def test_an_evaluation_after_a_launch_never_asks_a_training_prompt(
    services: Services, server: FakeOpenAI
) -> None:
    await services.datasets.add("club", [example(i) for i in range(30)])
    await hold_out(services.datasets, "club", 0.1, seed=1)
    order = FineTuneOrder(JobOptions(MODEL, suffix="club"), "club",
                          validation_share=DEFAULT_VALIDATION_SHARE)  # fmt: skip
    started = await launch_fine_tune(services, order)
    job = started.job
    while job.status != "succeeded":  # the loopback job moves a step a look
        job = await services.fine_tuner.retrieve(job.id)
    assert job.fine_tuned_model is not None
    trained = prompts_in(server, server.jobs[job.id].body["training_file"])

    plan = await plan_evaluation(services, [job.fine_tuned_model, MODEL], "club")
    await evaluate(services, plan)
    asked = {body["messages"][-1]["content"] for body in server.chat_requests}
    assert len(asked) == 3 and not asked & trained
