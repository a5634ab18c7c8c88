"""``voxdesk finetune``: start, list, status, follow, pause, resume, cancel, track and use
fine-tuning jobs; hold out a split and evaluate models on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
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
from voxdesk.core.training.transfer import VALIDATION_TAG
from voxdesk.core.training.validator import ValidationReport

if TYPE_CHECKING:  # the OpenAI SDK loads when a command talks to OpenAI, not for --help
    from voxdesk.core.training.evaluate import EvalResult
    from voxdesk.core.training.finetune import FineTuner, Retrying
    from voxdesk.core.training.jobs import JobSnapshot

finetune_app = typer.Typer(help="Start and follow OpenAI fine-tuning jobs.", no_args_is_help=True)
_AUTO = "Chosen by OpenAI when left out."
JobId = Annotated[str, typer.Argument(help="The job's id (ftjob-...; see finetune list).")]


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
            cli.run(lambda s: _follow(s, job.id, cli.out, cli.console))


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
def status(ctx: typer.Context, job_id: JobId) -> None:
    """A job's state, newest events and checkpoints (fetched now)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        update = cli.run(lambda s: s.fine_tuner.poll(job_id))
        _print_update(update, cli.out, header=True)


@finetune_app.command("follow")
def follow_command(
    ctx: typer.Context,
    job_id: Annotated[
        str | None, typer.Argument(help="The job's id (ftjob-...); all unfinished if left out.")
    ] = None,
) -> None:
    """Follow jobs until they end, printing each event once (Ctrl-C stops following only)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        ids = [job_id] if job_id else [j.id for j in cli.run(lambda s: s.jobs.unfinished())]
        if not ids:
            cli.out.print("No unfinished jobs to follow.")
        for one in ids:
            cli.run(partial(_follow, job_id=one, out=cli.out, console=cli.console))


async def _follow(services: Services, job_id: str, out: Console, console: Console) -> None:
    def waiting(notice: Retrying) -> None:
        console.print(f"[yellow]{escape(notice.describe())}[/] (Ctrl+C stops following)",
                      highlight=False)  # fmt: skip

    async for update in services.fine_tuner.follow(job_id, waiting=waiting):
        _print_update(update, out, header=False)


@finetune_app.command("cancel")
def cancel(ctx: typer.Context, job_id: JobId) -> None:
    """Cancel a job."""
    _change_job(ctx, lambda tuner: tuner.cancel(job_id))


@finetune_app.command("pause")
def pause(ctx: typer.Context, job_id: JobId) -> None:
    """Pause a running job; it keeps its progress until resumed."""
    _change_job(ctx, lambda tuner: tuner.pause(job_id))


@finetune_app.command("resume")
def resume(ctx: typer.Context, job_id: JobId) -> None:
    """Resume a paused job."""
    _change_job(ctx, lambda tuner: tuner.resume(job_id))


def _change_job(ctx: typer.Context, change: Callable[[FineTuner], Awaitable[JobSnapshot]]) -> None:
    cli = get_context(ctx)
    with user_errors(cli.console):
        job = cli.run(lambda services: change(services.fine_tuner))
        cli.out.print(f"Job {job.id} is {job.status}.")


@finetune_app.command("track")
def track(ctx: typer.Context, job_id: JobId) -> None:
    """Record a job started elsewhere (see list --remote), so it can be followed here."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        job = cli.run(lambda s: s.fine_tuner.track(job_id))
        cli.out.print(f"Job {job.id} ({job.status}) is now in the local registry.")


@finetune_app.command("split")
def split_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset to hold examples out of.")],
    share: Annotated[float, typer.Option(help="Share of approved examples to hold out.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the choice.")] = 0,
    name: Annotated[str, typer.Option(help="The split's name (a tag).")] = VALIDATION_TAG,
) -> None:
    """Hold out a seeded share of a dataset as a split (a tag) to evaluate models on."""
    from voxdesk.core.training.evaluate import hold_out

    cli = get_context(ctx)
    with user_errors(cli.console):
        held = cli.run(lambda s: hold_out(s.datasets, dataset, share, seed=seed, split=name))
        cli.out.print(f"Dataset '{dataset}' holds {held} examples out as '{name}'.")


@finetune_app.command("eval")
def eval_command(
    ctx: typer.Context,
    models: Annotated[
        list[str], typer.Argument(help="Models to compare: base, fine-tuned, checkpoints.")
    ],
    dataset: Annotated[str, typer.Option(help="Dataset whose split holds the prompts.")],
    split: Annotated[str, typer.Option(help="Split (tag) to ask.")] = VALIDATION_TAG,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many prompts.")] = None,
    judge: Annotated[str | None, typer.Option(help="Model that grades each answer.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 8,
    rpm: Annotated[float, typer.Option(min=1, help="Requests per minute at most.")] = 500,
    export: Annotated[Path | None, typer.Option(help="Write the answers (.jsonl, .csv).")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask to confirm the cost.")
    ] = False,
) -> None:
    """Ask each model the split's prompts; compare their answers with the references."""
    from voxdesk.core.training.evaluate import Limits, evaluate, export_results, plan_evaluation

    cli = get_context(ctx)
    with user_errors(cli.console):
        if export is not None and export.suffix.lower() not in (".jsonl", ".csv"):
            raise VoxdeskError(f"Cannot export to '{export.name}'.", hint="Name a .jsonl or .csv.")
        plan = cli.run(
            lambda s: plan_evaluation(s, models, dataset, split=split, limit=limit, judge=judge)
        )
        cli.out.print(f"{len(plan.cases)} prompts x {len(plan.models)} models: "
                      f"{plan.estimate.describe()}", highlight=False)  # fmt: skip
        if not yes and not typer.confirm("Start the evaluation?", default=False):
            raise VoxdeskError("Not started.")
        columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=cli.console, transient=True) as bar:
            task = bar.add_task("Evaluating", total=len(plan.cases) * len(plan.models))
            result = cli.run(lambda s: evaluate(
                s, plan, limits=Limits(concurrency, rpm),
                progress=lambda step: bar.update(task, completed=step.done),
            ))  # fmt: skip
        print_summary(result, cli.out)
        if export is not None:
            cli.run(lambda s: export_results(result, export))
            cli.out.print(f"Wrote {len(result.answers)} answers to {export}.")


def print_summary(result: EvalResult, out: Console) -> None:
    from voxdesk.core.training.evaluate import dollars

    judged = result.plan.judge is not None
    table = Table(title=f"Evaluation {result.id}")
    table.add_column("model", overflow="fold")  # an ft: name in full, over lines if need be
    for name in ("answered", "failed", "similarity", "wins", "cost", "latency"):
        table.add_column(name)
    if judged:
        table.add_column("verdicts")
    for row in result.summaries():
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(row.verdicts.items()))
        table.add_row(
            escape(row.model), str(row.answered), str(row.failed),
            "-" if row.mean_similarity is None else f"{row.mean_similarity:.1f}",
            str(row.wins), "?" if row.cost is None else dollars(row.cost),
            "-" if row.mean_latency is None else f"{row.mean_latency:.2f} s",
            *([verdicts] if judged else []),
        )  # fmt: skip
    out.print(table)
    if learnt := result.corrections_learnt():
        counts = ", ".join(f"{model} {done}/{total}" for model, (done, total) in learnt.items())
        out.print(f"Corrections from Discord now answered like the trainer: {counts}",
                  highlight=False)  # fmt: skip


@finetune_app.command("checkpoints")
def checkpoints_command(ctx: typer.Context, job_id: JobId) -> None:
    """A job's checkpoints: each step's model and metrics (any can answer: use JOB --step)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        # A line each, the model name whole: it is what gets copied into eval or use.
        for checkpoint in cli.run(lambda s: s.fine_tuner.checkpoints(job_id)):
            cli.out.print(f"step {checkpoint.step}: {checkpoint.model} "
                          f"{_metrics(checkpoint.metrics)}", highlight=False)  # fmt: skip


@finetune_app.command("use")
def use(
    ctx: typer.Context,
    job_id: JobId,
    step: Annotated[
        int | None, typer.Option(help="Use the checkpoint at this step instead.")
    ] = None,
) -> None:
    """Make a succeeded job's model (or one of its checkpoints) the one every reply uses."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        if step is not None:
            found = cli.run(lambda s: s.fine_tuner.checkpoints(job_id))
            steps = {checkpoint.step: checkpoint.model for checkpoint in found}
            if step not in steps:
                raise VoxdeskError(f"Job {job_id} has no checkpoint at step {step}; it has "
                                   f"steps {', '.join(map(str, steps))}.")  # fmt: skip
            model = steps[step]
        else:
            job = cli.run(lambda s: s.fine_tuner.retrieve(job_id))
            if job.status != "succeeded" or not job.fine_tuned_model:
                raise VoxdeskError(
                    f"Job {job_id} is {job.status}; only a succeeded job has a model.",
                    hint="A running job's checkpoints can answer: use JOB --step N.",
                )
            model = job.fine_tuned_model
        cli.run(lambda services: services.settings_store.set("assistant.model", model))
        cli.out.print(f"Replies now use {model}.")


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
