"""``voxdesk models``: list, download, remove and locate Whisper models and Piper voices."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Column, Table

from voxdesk.core.cli.context import get_context, user_errors
from voxdesk.core.config import SettingsStore
from voxdesk.core.models import DownloadProgress, ModelStore, suggest_model
from voxdesk.core.models.in_use import remove_model, setting_value
from voxdesk.core.models.overview import model_path, overview

models_app = typer.Typer(
    help="Download and manage Whisper models and voices.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="A name from `voxdesk models list`.")]


@models_app.command("list")
def list_models(ctx: typer.Context) -> None:
    """Show every Whisper model and voice: bundled, downloaded, or to download (no network)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        language = cli.settings.speech.language
        suggested = suggest_model(None if language == "auto" else language)
        # The name is what `download` takes: never cut, the other columns wrap first.
        name = Column("name", no_wrap=True)
        table = Table(name, "kind", "status", "size", "languages", "speed", box=None)
        for row in overview():
            mark = " (suggested)" if row.name == suggested and language != "auto" else ""
            speed = f"{row.speed:g}x" if row.speed else ""
            table.add_row(row.name + mark, row.kind, row.status, f"{row.size_mb:g} MB",
                          row.languages, speed)  # fmt: skip
        cli.out.print(table)
        cli.out.print("speed: relative to Whisper large-v3 (OpenAI's figures); "
                      "`voxdesk models download NAME` fetches one.", highlight=False)  # fmt: skip


@models_app.command()
def download(
    ctx: typer.Context,
    name: NameArgument,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before downloading.")
    ] = False,
) -> None:
    """Download a model or voice from the Hugging Face hub (HF_ENDPOINT: a mirror); Ctrl+C
    stops it and the next run resumes."""
    cli = get_context(ctx)
    store = ModelStore()
    with user_errors(cli.console):
        if store.installed_path(name) is not None:
            cli.out.print(f"{name} is downloaded already: {store.path(name)}", highlight=False)
            return
        plan = asyncio.run(store.plan(name))
        size = f"{plan.total / 1e6:.0f} MB in {len(plan.files)} files"
        if not yes and not typer.confirm(f"Download {name} ({size})?", default=True):
            raise typer.Exit(1)
        with Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=cli.console,
        ) as bar:  # fmt: skip
            task = bar.add_task(name, total=plan.total)

            def show(update: DownloadProgress) -> None:
                bar.update(task, completed=update.done, description=f"{name} {update.file}")

            folder = asyncio.run(store.download(name, progress=show, plan=plan))
        cli.out.print(f"{name} is ready: {folder}", highlight=False)


@models_app.command()
def remove(ctx: typer.Context, name: NameArgument) -> None:
    """Delete a downloaded model or voice (and what a stopped download left); the setting that
    chose it goes back to its default."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        settings = SettingsStore(cli.settings, cli.settings_path)
        folder, reset = asyncio.run(remove_model(name, settings))
        said = f"Removed {name} ({folder})"
        if reset:  # the voice setting's default is empty: the best voice installed
            said += f"; {reset} is back to {setting_value(settings, reset) or 'automatic'}"
        cli.out.print(f"{said}.", highlight=False)


@models_app.command()
def path(ctx: typer.Context, name: NameArgument) -> None:
    """Print the folder of a bundled or downloaded model or voice."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        typer.echo(model_path(name))
