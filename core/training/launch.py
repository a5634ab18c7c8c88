"""Starting a fine-tune, written once: the command line, ``!train`` and the window all call it.

export → validate → refuse on errors → (confirm the cost) → upload the training and validation
files → create the job → record it. The job's options are checked against OpenAI's bounds
before anything is exported or uploaded; files uploaded for a job that was never created (it
was refused, or the launch was cancelled) are deleted again. Front ends collect the order,
show the steps they hear about and answer the cost question; following the job afterwards is
``FineTuner.follow``, which publishes every change on the event bus.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from voxdesk.core.config.secrets import Secret
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.training.findings import name_places
from voxdesk.core.training.job_request import JobOptions, JobRequest
from voxdesk.core.training.jobs import JobSnapshot
from voxdesk.core.training.transfer import ExportResult, export_jsonl
from voxdesk.core.training.validator import (
    ValidationReport,
    validate_file_async,
    with_example_ids,
)

if TYPE_CHECKING:
    from voxdesk.core.services import Services
    from voxdesk.core.training.finetune import FineTuner

DEFAULT_VALIDATION_SHARE = 0.1  # of a dataset, held out to measure the job against


@dataclass(frozen=True)
class FineTuneOrder:
    """What to train on (a dataset, or a file with an optional validation file) and how."""

    options: JobOptions
    dataset: str | None = None
    training_file: Path | None = None
    validation_file: Path | None = None
    validation_share: float = 0.0  # of the dataset, held out (with ``dataset`` only)

    @property
    def source(self) -> str:
        """What the job is recorded as trained on."""
        return self.dataset or (self.training_file.name if self.training_file else "")


@dataclass(frozen=True)
class Validated:
    """The file to train on was checked: its examples, tokens and estimated cost."""

    report: ValidationReport


@dataclass(frozen=True)
class Uploading:
    role: Literal["training", "validation"]
    done: int  # bytes sent so far
    total: int


@dataclass(frozen=True)
class Started:
    """The job was created and recorded; ``report`` is what its file was found to hold."""

    job: JobSnapshot
    report: ValidationReport = field(repr=False)


LaunchStep = Validated | Uploading | Started
Progress = Callable[[LaunchStep], None]
Confirm = Callable[[ValidationReport], Awaitable[bool]]


class InvalidTrainingData(VoxdeskError):
    """The training file has errors; ``report`` lists them (by example, for a dataset)."""

    def __init__(self, report: ValidationReport, dataset: str | None = None) -> None:
        hint = (f"Fix or reject those examples of '{dataset}' (`voxdesk dataset show {dataset}`,"
                " the Dataset page), then start again." if dataset else
                "Fix those lines (`voxdesk dataset validate FILE` lists every one), then start "
                "again.")  # fmt: skip
        super().__init__("The training data has errors, so no job was started: "
                         f"{name_places(report.errors)}.", hint=hint)  # fmt: skip
        self.report = report


class NotStarted(VoxdeskError):
    """The cost was not confirmed."""


async def estimate_fine_tune(services: Services, order: FineTuneOrder) -> ValidationReport:
    """What launching ``order`` would train on and cost, without uploading anything."""
    order.options.check()
    with tempfile.TemporaryDirectory(prefix="voxdesk-estimate-") as folder:
        train, valid, export = await _files(services, order, Path(folder))
        return await _validate(order, train, valid, export)


async def launch_fine_tune(
    services: Services,
    order: FineTuneOrder,
    *,
    progress: Progress | None = None,
    confirm: Confirm | None = None,
) -> Started:
    """Start the job ``order`` describes; raises a VoxdeskError before any upload if it can't.

    ``confirm`` hears the validation report (with the cost) and may decline. Cancelling the
    awaiting task stops the launch and deletes whatever was uploaded for it.
    """
    tell = progress or (lambda step: None)
    order.options.check()
    # One export: the file whose cost is confirmed is the file uploaded.
    with tempfile.TemporaryDirectory(prefix="voxdesk-finetune-") as folder:
        train, valid, export = await _files(services, order, Path(folder))
        report = await _validate(order, train, valid, export)
        tell(Validated(report))
        if not report.ok:
            raise InvalidTrainingData(report, order.dataset)
        services.secrets.require(Secret.OPENAI_API_KEY)  # before the cost is put to the user
        if confirm is not None and not await confirm(report):
            raise NotStarted("Not started.")
        job = await _upload_and_create(services.fine_tuner, order, train, valid, report, tell)
    started = Started(job, report)
    tell(started)
    return started


async def _validate(
    order: FineTuneOrder, train: Path, valid: Path | None, export: ExportResult | None
) -> ValidationReport:
    """The training file's report; for a dataset, naming examples, not lines of files the
    user never sees."""
    report = await validate_file_async(train, model=order.options.base_model, validation_file=valid)
    if export is None:
        return report
    return with_example_ids(report, export.training_ids, export.validation_ids)


async def _files(
    services: Services, order: FineTuneOrder, folder: Path
) -> tuple[Path, Path | None, ExportResult | None]:
    """The files to validate and upload: the order's own, or the dataset exported now (with
    the example on each line of its files)."""
    if order.training_file is not None:
        for path in (order.training_file, order.validation_file):
            if path is not None and not await asyncio.to_thread(path.is_file):
                raise VoxdeskError(f"{path} is not a file.", hint="Give a JSONL file to train on.")
        return order.training_file, order.validation_file, None
    if not order.dataset:
        raise VoxdeskError("Choose a dataset or a training file.")
    result = await export_jsonl(
        services.datasets, order.dataset, folder / "training.jsonl",
        kind="preference" if order.options.method == "dpo" else "chat",
        validation_ratio=order.validation_share, seed=order.options.seed or 0,
    )  # fmt: skip
    return result.training, result.validation or order.validation_file, result


async def _upload_and_create(
    tuner: FineTuner, order: FineTuneOrder, train: Path, valid: Path | None,
    report: ValidationReport, tell: Progress,
) -> JobSnapshot:  # fmt: skip
    uploaded: list[str] = []
    try:
        uploaded.append(await tuner.upload(train, _reporting("training", tell)))
        if valid is not None:
            uploaded.append(await tuner.upload(valid, _reporting("validation", tell)))
        request = JobRequest.of(order.options, uploaded[0], uploaded[1] if valid else None)
        cost = report.cost.dollars if report.cost else None
        return await tuner.create(request, dataset=order.source, estimated_cost=cost)
    except BaseException:
        # Shielded: a launch cancelled mid-way still removes the files it left on the account.
        await asyncio.shield(asyncio.gather(*(tuner.delete_file(f) for f in uploaded)))
        raise


def _reporting(
    role: Literal["training", "validation"], tell: Progress
) -> Callable[[int, int], None]:
    return lambda done, total: tell(Uploading(role, done, total))
