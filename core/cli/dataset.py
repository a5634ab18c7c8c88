"""``voxdesk dataset``: list, import, export, validate, show and approve training data."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from voxdesk.core.cli.context import get_context, user_errors
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.logs import redact
from voxdesk.core.services import Services
from voxdesk.core.training.findings import capped
from voxdesk.core.training.store import DatasetStore, Status
from voxdesk.core.training.transfer import (
    ImportResult,
    export_jsonl,
    held_examples,
    import_file,
    import_problems,
    list_imports,
)
from voxdesk.core.training.validator import ValidationReport, validate_file

dataset_app = typer.Typer(help="Curate training data.", no_args_is_help=True)
SHOWN_PROBLEMS = 20


@dataset_app.command("list")
def list_datasets(ctx: typer.Context) -> None:
    """Datasets with their approved, candidate and rejected examples."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        found = cli.run(lambda services: services.datasets.datasets())
        if not found:
            cli.console.print("No datasets yet: `voxdesk dataset import NAME FILE` makes one.")
            return
        columns = (Status.APPROVED, Status.CANDIDATE, Status.REJECTED)
        table = Table("dataset", *(f"{status}" for status in columns), "created")
        for item in found:
            counts = [str(item.counts.get(status, 0)) for status in columns]
            table.add_row(item.name, *counts, item.created_at[:10])
        cli.out.print(table)


@dataset_app.command("import")
def import_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name (created if new).")],
    file: Annotated[
        Path,
        typer.Argument(
            help=".jsonl (chat or preference), or .csv with prompt, completion and optional"
            " system columns (separated by commas, semicolons or tabs)."
        ),
    ],
    candidates: Annotated[
        bool, typer.Option("--as-candidates", help="Import for review instead of approved.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the outcome, every rejected line and every example to fix as JSON.",
        ),
    ] = False,
) -> None:
    """Import a JSONL or CSV file; every malformed line is reported with its number.

    The same file again goes on where an interrupted import of it stopped, and changes nothing
    once it has been imported in full. Exits 1 when no line of the file holds an example (lines
    the dataset already holds count as examples: re-importing a grown export is a success).
    """
    cli = get_context(ctx)
    with user_errors(cli.console):
        status = Status.CANDIDATE if candidates else Status.APPROVED
        with _bytes_progress(cli.console, f"Importing {file.name}") as progress:

            async def work(services: Services) -> ImportResult:
                result = await import_file(
                    services.datasets, dataset, file, status=status, progress=progress
                )
                if as_json:
                    await _write_import_json(services.datasets, result, file, cli.out.file)
                return result

            result = cli.run(work)
        if not as_json:
            _print_import(result, file, cli.out)
        if result.found_nothing:
            raise typer.Exit(1)


@dataset_app.command("imports")
def imports_command(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset's imports.")] = None,
) -> None:
    """Imports with their state; an interrupted one goes on when its file is imported again."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        found = cli.run(lambda services: list_imports(services.datasets, dataset))
        if not found:
            cli.console.print("No imports yet.")
            return
        table = Table("id", "dataset", "state", "file", "lines", "imported", "rejected", "started")
        for item in found:
            table.add_row(str(item.id), item.dataset, item.state, escape(item.source),
                          str(item.lines_read), str(item.imported), str(item.rejected),
                          item.started_at[:19].replace("T", " "))  # fmt: skip
        cli.out.print(table)
        if any(item.state == "interrupted" for item in found):
            cli.out.print("To finish an interrupted import, import the same file into the same "
                          "dataset again: it goes on where it stopped.")  # fmt: skip


def _print_import(result: ImportResult, file: Path, out: Console) -> None:
    out.print(result.summary(file.name), highlight=False)
    for problem in result.problems[:SHOWN_PROBLEMS]:
        out.print(f"  line {problem.line}: {escape(problem.message)}", highlight=False)
    if result.rejected > SHOWN_PROBLEMS:
        out.print(f"  ... and {result.rejected - SHOWN_PROBLEMS} more (use --json).")
    if result.held:
        out.print("To fix (kept as candidates; `voxdesk dataset show "
                  f"{escape(result.dataset)} --status candidate` lists them):")  # fmt: skip
    for held in result.held_examples[:SHOWN_PROBLEMS]:
        out.print(f"  line {held.line}, example {held.example_id}: {held.message}", highlight=False)
    if result.held > SHOWN_PROBLEMS:
        out.print(f"  ... and {result.held - SHOWN_PROBLEMS} more (use --json).")


async def _write_import_json(
    store: DatasetStore, result: ImportResult, file: Path, out: IO[str]
) -> None:
    """The outcome with every rejected line and every example held to fix, streamed: a file
    can have millions of them."""
    summary = dataclasses.asdict(result) | {"file": str(file)}
    del summary["problems"], summary["held_examples"]
    out.write(json.dumps(summary, ensure_ascii=False)[:-1])
    lists = (("problems", import_problems(store, result.import_id)),
             ("held_examples", held_examples(store, result.import_id)))  # fmt: skip
    for name, items in lists:
        out.write(f', "{name}": [')
        separator = ""
        async for item in items:
            out.write(separator + json.dumps(dataclasses.asdict(item), ensure_ascii=False))
            separator = ", "
        out.write("]")
    out.write("}\n")


@dataset_app.command("export")
def export_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    output: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    validation: Annotated[
        float, typer.Option(min=0, max=0.9, help="Share held out as NAME.validation.jsonl.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the train/validation split.")] = 0,
    preference: Annotated[
        bool, typer.Option("--preference", help="Write DPO preference pairs.")
    ] = False,
    include_candidates: Annotated[
        bool, typer.Option("--include-candidates", help="Also export examples not yet approved.")
    ] = False,
) -> None:
    """Export approved examples as fine-tuning JSONL (written atomically)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        statuses = (Status.APPROVED, Status.CANDIDATE) if include_candidates else (Status.APPROVED,)
        result = cli.run(
            lambda services: export_jsonl(
                services.datasets,
                dataset,
                output,
                kind="preference" if preference else "chat",
                statuses=statuses,
                validation_ratio=validation,
                seed=seed,
            )
        )
        cli.out.print(f"Wrote {escape(result.summary())}.", highlight=False)


@dataset_app.command("validate")
def validate_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Training JSONL file.")],
    validation_file: Annotated[
        Path | None, typer.Option(help="Validation JSONL, checked for overlap.")
    ] = None,
    model: Annotated[str, typer.Option(help="Base model (token encoding, price).")] = (
        "gpt-4o-mini-2024-07-18"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a fine-tuning file: format, tokens, duplicates, secrets, epochs and cost."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        if not file.is_file():
            raise VoxdeskError(f"{file} is not a file.")
        with _bytes_progress(cli.console, f"Validating {file.name}") as progress:
            report = validate_file(
                file, model=model, validation_file=validation_file, progress=progress
            )
        if as_json:
            cli.out.print_json(json.dumps(report_as_dict(report)))
        else:
            print_report(report, cli.out)
        if not report.ok:
            raise typer.Exit(1)


@dataset_app.command("show")
def show_command(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    status: Annotated[Status | None, typer.Option(help="Only this review state.")] = None,
    limit: Annotated[int, typer.Option(help="How many examples.")] = 20,
    offset: Annotated[int, typer.Option(help="Skip this many first.")] = 0,
) -> None:
    """List examples with their ids, to review and approve."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        found = cli.run(
            lambda s: s.datasets.examples(dataset, status=status, offset=offset, limit=limit)
        )
        table = Table("id", "status", "origin", "last user message", "reply", "note")
        for example in found:
            messages = example.messages
            user = _last(messages, "user")
            reply = _last(messages, "assistant")
            table.add_row(
                str(example.id), example.status, example.origin, _short(user.get("content")),
                _short(reply.get("content")), _short(example.note),
            )  # fmt: skip
        cli.out.print(table)


@dataset_app.command("approve")
def approve_command(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="Example ids (see `dataset show`).")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead.")] = False,
) -> None:
    """Approve (or reject) candidate examples, so export includes (or leaves out) them."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        status = Status.REJECTED if reject else Status.APPROVED
        change = cli.run(lambda services: services.datasets.set_status(ids, status))
        cli.out.print(escape(change.summary()), highlight=False)
        if change.unknown:
            raise typer.Exit(1)


def report_as_dict(report: ValidationReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data.pop("counts")
    data["findings"] = [{**dataclasses.asdict(f), "severity": f.severity} for f in report.findings]
    data |= {"ok": report.ok, "format_errors": report.format_errors,
             "warnings": report.warnings, "charged_tokens": report.charged_tokens}  # fmt: skip
    return data


def print_report(report: ValidationReport, out: Console) -> None:
    verdict = "[green]ready to upload[/]" if report.ok else "[red]has errors[/]"
    out.print(f"{report.examples} examples ({report.chat_examples} chat, "
              f"{report.preference_examples} preference): {verdict}")  # fmt: skip
    for title, counts in (("Format errors", report.format_errors), ("Warnings", report.warnings)):
        if counts:
            out.print(f"\n[bold]{title}[/]")
            for code, count in counts.items():
                out.print(f"  {code}: {count}", highlight=False)
    _print_distributions(report, out)
    out.print(f"\n{report.too_long} examples over the 16,385-token limit (they would be cut).")
    out.print(f"~{report.billing_tokens:,} billed tokens; {report.epochs} epochs by default; "
              f"~{report.charged_tokens:,} tokens charged.")  # fmt: skip
    if report.cost:
        out.print(f"Estimated cost on {report.cost.price_model}: ${report.cost.dollars:,.2f} "
                  f"(prices as of {report.cost.prices_as_of}).")  # fmt: skip
    if report.findings:
        out.print("\n[bold]Findings[/]")
        shown = capped(report.findings, SHOWN_PROBLEMS)  # every kind counted above, at least once
        for finding in shown:
            out.print(f"  {finding.where}: {finding.severity} {finding.code}: "
                      f"{escape(finding.message)}", highlight=False)  # fmt: skip
        if len(report.findings) > len(shown):
            out.print(f"  ... {len(report.findings) - len(shown)} more (use --json).")


def _print_distributions(report: ValidationReport, out: Console) -> None:
    table = Table("distribution", "min", "max", "mean", "median", "p5", "p95")
    for name, dist in (
        ("messages per example", report.messages_per_example),
        ("tokens per example", report.total_tokens_per_example),
        ("assistant tokens per example", report.assistant_tokens_per_example),
    ):
        if dist:
            table.add_row(
                name,
                *(
                    f"{v:,.1f}".rstrip("0").rstrip(".")
                    for v in (dist.minimum, dist.maximum, dist.mean, dist.median, dist.p5, dist.p95)
                ),
            )
    out.print(table)


def _last(messages: list[dict[str, Any]], role: str) -> dict[str, Any]:
    return next((m for m in reversed(messages) if m.get("role") == role), {})


def _short(content: Any, width: int = 48) -> str:
    """A table cell: one line, cut to ``width``, no secret (an example may quote a key)."""
    text = redact(" ".join(str(content or "").split()))
    return escape(text if len(text) <= width else text[: width - 1] + "…")


class _bytes_progress:
    """A transient progress bar in bytes; entering it gives the (done, total) callback."""

    def __init__(self, console: Console, description: str) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
        self.progress = Progress(*columns, console=console, transient=True,
                                 disable=not console.is_terminal)  # fmt: skip
        self.description = description

    def __enter__(self) -> Callable[[int, int], None]:
        self.progress.__enter__()
        task = self.progress.add_task(self.description, total=None)
        return lambda done, total: self.progress.update(task, completed=done, total=total)

    def __exit__(self, *details: object) -> None:
        self.progress.__exit__(None, None, None)
