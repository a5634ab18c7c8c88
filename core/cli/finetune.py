"""``voxdesk finetune``: start, list, status, follow, cancel and use fine-tuning jobs."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from voxdesk.core.cli.context import get_context, user_errors
from voxdesk.core.cli.dataset import print_report
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.services import Services
from voxdesk.core.training.job_request import Hyperparameters, JobOptions, JobUpdate, Method
from voxdesk.core.training.launch import (
    FineTuneOrder,
    LaunchStep,
    Uploading,
    Validated,
    launch_fine_tune,
)
from voxdesk.core.training.validator import ValidationReport

finetune_app = typer.Typer(help="Start and follow OpenAI fine-tuning jobs.", no_args_is_help=True)
_AUTO = "Chosen by OpenAI when left out."


@finetune_app.command("start")
def start(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Option(help="Dataset to export and train on.")] = None,
    file: Annotated[Path | None, typer.Option(help="Or a training JSONL file.")] = None,
    validation_file: Annotated[Path | None, typer.Option(help="Validation JSONL file.")] = None,
    validation_split: Annotated[
        float, typer.Option(min=0, max=0.5, help="With --dataset: share held out to validate.")
    ] = 0.0,
    model: Annotated[str, typer.Option(help="Base model.")] = "gpt-4o-mini-2024-07-18",
    method: Annotated[str, typer.Option(help="supervised or dpo.")] = "supervised",
    suffix: Annotated[
        str | None, typer.Option(help="1 to 64 characters in the model name.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for a reproducible job.")] = None,
    epochs: Annotated[int | None, typer.Option(help=f"1 to 50. {_AUTO}")] = None,
    batch_size: Annotated[int | None, typer.Option(help=f"1 to 256. {_AUTO}")] = None,
    learning_rate_multiplier: Annotated[
        float | None, typer.Option(help=f"Above 0. {_AUTO}")
    ] = None,
    beta: Annotated[float | None, typer.Option(help="DPO only: above 0, at most 2.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask to confirm the cost.")
    ] = False,
    follow: Annotated[bool, typer.Option("--follow", help="Follow the job until it ends.")] = False,
) -> None:
    """Validate, show the cost, upload and create a fine-tuning job."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        if (dataset is None) == (file is None):
            raise VoxdeskError("Give either --dataset or --file.")
        options = JobOptions(
            model, cast(Method, method),
            Hyperparameters(epochs, batch_size, learning_rate_multiplier, beta), suffix, seed,
        )  # fmt: skip
        order = FineTuneOrder(options, dataset, file, validation_file, validation_split)
        show = partial(_show_step, out=cli.out, console=cli.console)
        confirm = None if yes else _confirm_cost
        job = cli.run(lambda s: launch_fine_tune(s, order, progress=show, confirm=confirm)).job
        cli.out.print(f"Started fine-tuning job {job.id} ({job.status}).")
        if follow:
            cli.run(lambda s: _follow(s, job.id, cli.out))


def _show_step(step: LaunchStep, out: Console, console: Console) -> None:
    if isinstance(step, Validated):
        print_report(step.report, out)
    elif isinstance(step, Uploading):
        console.print(f"Uploading the {step.role} file {step.done * 100 // max(step.total, 1)}%",
                      end="\r")  # fmt: skip


async def _confirm_cost(report: ValidationReport) -> bool:
    # typer asks on the terminal, which blocks: a worker thread keeps the loop free meanwhile.
    question = _cost_question(report.cost.dollars if report.cost else None)
    return await asyncio.to_thread(typer.confirm, question, default=False)


@finetune_app.command("list")
def list_jobs(
    ctx: typer.Context,
    remote: Annotated[
        bool, typer.Option("--remote", help="List the account's jobs on OpenAI.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    after: Annotated[str | None, typer.Option(help="Page after this job id.")] = None,
) -> None:
    """Jobs started here (or, with --remote, every job of the account, page by page)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        table = Table("job", "status", "base model", "dataset / file", "fine-tuned model")
        if remote:
            jobs, more = cli.run(lambda s: s.fine_tuner.list_jobs(limit=limit, after=after))
            for job in jobs:
                table.add_row(job.id, job.status, job.base_model, job.training_file,
                              job.fine_tuned_model or "")  # fmt: skip
            cli.out.print(table)
            if more and jobs:
                cli.out.print(f"More: voxdesk finetune list --remote --after {jobs[-1].id}")
            return
        for record in cli.run(lambda s: s.jobs.jobs()):
            table.add_row(
                record.id,
                record.status,
                record.base_model,
                record.dataset or record.training_file,
                record.fine_tuned_model or "",
            )
        cli.out.print(table)


@finetune_app.command("status")
def status(ctx: typer.Context, job_id: Annotated[str, typer.Argument()]) -> None:
    """A job's state, newest events and checkpoints (fetched now)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        update = cli.run(lambda s: s.fine_tuner.poll(job_id))
        _print_update(update, cli.out, header=True)


@finetune_app.command("follow")
def follow_command(
    ctx: typer.Context,
    job_id: Annotated[
        str | None, typer.Argument(help="Job id; all unfinished jobs if omitted.")
    ] = None,
) -> None:
    """Follow jobs until they end, printing each event once (Ctrl-C stops following only)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        ids = [job_id] if job_id else [j.id for j in cli.run(lambda s: s.jobs.unfinished())]
        if not ids:
            cli.out.print("No unfinished jobs to follow.")
        for one in ids:
            cli.run(partial(_follow, job_id=one, out=cli.out))


async def _follow(services: Services, job_id: str, out: Console) -> None:
    async for update in services.fine_tuner.follow(job_id):
        _print_update(update, out, header=False)


@finetune_app.command("cancel")
def cancel(ctx: typer.Context, job_id: Annotated[str, typer.Argument()]) -> None:
    """Cancel a job."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        job = cli.run(lambda s: s.fine_tuner.cancel(job_id))
        cli.out.print(f"Job {job.id} is {job.status}.")


@finetune_app.command("use")
def use(ctx: typer.Context, job_id: Annotated[str, typer.Argument()]) -> None:
    """Make a succeeded job's model the one every reply uses."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        job = cli.run(lambda s: s.fine_tuner.retrieve(job_id))
        if job.status != "succeeded" or not job.fine_tuned_model:
            raise VoxdeskError(f"Job {job_id} is {job.status}; only a succeeded job has a model.")
        model = job.fine_tuned_model
        cli.run(lambda services: services.settings_store.set("assistant.model", model))
        cli.out.print(f"Replies now use {job.fine_tuned_model}.")


def _print_update(update: JobUpdate, out: Console, *, header: bool) -> None:
    job = update.job
    if header or update.events or update.job.finished:
        out.print(
            f"[bold]{job.id}[/] {job.status}"
            + (f" → {job.fine_tuned_model}" if job.fine_tuned_model else "")
            + (f" ({escape(job.error)})" if job.error else "")
        )
    for event in update.events:
        out.print(f"  {event.level}: {escape(event.message)}", highlight=False)
    for checkpoint in update.checkpoints:
        out.print(f"  checkpoint at step {checkpoint.step}: {checkpoint.model} "
                  f"{_metrics(checkpoint.metrics)}", highlight=False)  # fmt: skip


def _metrics(metrics: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in metrics.items() if isinstance(v, float))


def _cost_question(cost: float | None) -> str:
    if cost is None:
        return "No price is known for this model. Start the fine-tune anyway?"
    return f"This fine-tune is estimated at ${cost:,.2f}. Start it?"
