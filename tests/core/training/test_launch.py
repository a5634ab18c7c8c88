"""Starting a fine-tune through core's one launch, against the loopback OpenAI."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI
from voxdesk.core.openai_client import OpenAIError
from voxdesk.core.services import Services
from voxdesk.core.training.job_request import Hyperparameters, InvalidJobRequest, JobOptions
from voxdesk.core.training.launch import (
    FineTuneOrder,
    InvalidTrainingData,
    LaunchStep,
    NotStarted,
    Started,
    Uploading,
    Validated,
    estimate_fine_tune,
    launch_fine_tune,
)
from voxdesk.core.training.store import NewExample, Status

MODEL = "gpt-4o-mini-2024-07-18"


def chat_rows(count: int) -> list[dict[str, Any]]:
    return [{"messages": [{"role": "user", "content": f"Вопрос {i}?"},
                          {"role": "assistant", "content": f"Ответ {i}."}]}
            for i in range(count)]  # fmt: skip


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


async def test_a_dataset_is_exported_validated_and_both_files_uploaded(
    services: Services, server: FakeOpenAI
) -> None:
    examples = [NewExample(row, status=Status.APPROVED) for row in chat_rows(20)]
    await services.datasets.add("bot", examples)
    steps: list[LaunchStep] = []
    order = FineTuneOrder(JobOptions(MODEL, suffix="voxbot"), "bot", validation_share=0.2)
    started = await launch_fine_tune(services, order, progress=steps.append)
    sent = server.jobs[started.job.id].body
    sizes = [len(server.file_contents[sent[key]].splitlines())
             for key in ("training_file", "validation_file")]  # fmt: skip
    assert sizes == [16, 4] and sent["suffix"] == "voxbot"
    kinds = [type(step) for step in steps]
    assert kinds[0] is Validated and kinds[-1] is Started and steps[-1] == started
    roles = [step.role for step in steps if isinstance(step, Uploading)]
    assert roles[0] == "training" and roles[-1] == "validation"
    record = await services.jobs.job(started.job.id)
    assert record is not None and record.dataset == "bot" and record.validation_file


async def test_findings_about_two_lines_name_both_examples(services: Services) -> None:
    rows = chat_rows(12)
    again, near, held = rows[0], chat_rows(2)[1], chat_rows(3)[2]
    near["messages"][0]["content"] = "вопрос 1"  # the same words as row 1's "Вопрос 1?"
    ids = await services.datasets.add("bot", [NewExample(row, status=Status.APPROVED)
                                              for row in [*rows, again, near]])  # fmt: skip
    (held_id,) = await services.datasets.add(
        "bot", [NewExample(held, status=Status.APPROVED, tags=["validation"])]
    )
    report = await estimate_fine_tune(services, FineTuneOrder(JobOptions(MODEL), "bot"))
    found = {(f.code, f.example, f.other_example, f.message) for f in report.findings
             if f.other_line}  # fmt: skip
    assert found == {
        ("duplicate", ids[12], ids[0], f"same as example {ids[0]}"),
        ("near_duplicate", ids[13], ids[1], f"same words as example {ids[1]}"),
        ("train_validation_overlap", ids[2], held_id,
         f"also in the validation file: example {held_id}"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("method", "hyper", "values"),
    [
        ("dpo", Hyperparameters(beta=0), {}),
        ("dpo", Hyperparameters(beta=5), {}),
        ("supervised", Hyperparameters(beta=0.5), {}),
        ("supervised", Hyperparameters(learning_rate_multiplier=0), {}),
        ("supervised", Hyperparameters(batch_size=300), {}),
        ("supervised", Hyperparameters(), {"suffix": ""}),
        ("supervised", Hyperparameters(), {"suffix": "x" * 65}),
        ("supervised", Hyperparameters(), {"seed": -1}),
    ],
)
async def test_out_of_range_options_are_refused_before_any_upload(
    services: Services, server: FakeOpenAI, tmp_path: Path, method: Any,
    hyper: Hyperparameters, values: dict[str, Any],
) -> None:  # fmt: skip
    train = jsonl(tmp_path / "train.jsonl", chat_rows(12))
    order = FineTuneOrder(JobOptions(MODEL, method, hyper, **values), training_file=train)
    with pytest.raises(InvalidJobRequest):
        await launch_fine_tune(services, order)
    assert server.exchanges == [] and server.files == {}


async def test_files_are_deleted_when_the_job_is_refused(
    services: Services, server: FakeOpenAI, tmp_path: Path
) -> None:
    train = jsonl(tmp_path / "train.jsonl", chat_rows(12))
    valid = jsonl(tmp_path / "valid.jsonl", chat_rows(3))
    server.refuse_jobs = "Model gpt-4o-mini-2024-07-18 is not available for fine-tuning"
    order = FineTuneOrder(JobOptions(MODEL), training_file=train, validation_file=valid)
    with pytest.raises(OpenAIError, match="not available for fine-tuning"):
        await launch_fine_tune(services, order)
    assert len(server.requests_to("POST", "/v1/files")) == 2
    assert len(server.requests_to("DELETE", "/v1/files/")) == 2 and server.files == {}
    assert await services.jobs.jobs() == []


async def test_a_cancelled_launch_deletes_what_it_uploaded(
    services: Services, server: FakeOpenAI, tmp_path: Path
) -> None:
    train = jsonl(tmp_path / "train.jsonl", chat_rows(12))
    valid = jsonl(tmp_path / "valid.jsonl", chat_rows(3))
    validating = asyncio.Event()

    def progress(step: LaunchStep) -> None:
        if isinstance(step, Uploading) and step.role == "validation":
            server.stall_uploads = True  # the second upload never finishes
            validating.set()

    order = FineTuneOrder(JobOptions(MODEL), training_file=train, validation_file=valid)
    launch = asyncio.ensure_future(launch_fine_tune(services, order, progress=progress))
    await validating.wait()
    launch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await launch
    training_id = server.requests_to("POST", "/v1/files")[0].response["id"]
    deleted = server.requests_to("DELETE", "/v1/files/")
    assert [e.path for e in deleted] == [f"/v1/files/{training_id}"]
    assert server.jobs == {}


async def test_bad_data_or_no_confirmation_uploads_nothing(
    services: Services, server: FakeOpenAI, tmp_path: Path
) -> None:
    few = FineTuneOrder(JobOptions(MODEL), training_file=jsonl(tmp_path / "few.jsonl",
                                                                chat_rows(3)))  # fmt: skip
    with pytest.raises(InvalidTrainingData) as invalid:
        await launch_fine_tune(services, few)
    assert "too_few_examples" in invalid.value.report.format_errors
    asked = []

    async def decline(report: Any) -> bool:
        asked.append(report.examples)
        return False

    enough = FineTuneOrder(JobOptions(MODEL), training_file=jsonl(tmp_path / "ok.jsonl",
                                                                   chat_rows(12)))  # fmt: skip
    with pytest.raises(NotStarted):
        await launch_fine_tune(services, enough, confirm=decline)
    assert asked == [12] and server.exchanges == []
