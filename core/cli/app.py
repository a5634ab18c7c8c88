"""The ``voxdesk`` command line: core's commands, which front ends extend with their own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.cli import speech
from core.cli.assistant import ask
from core.cli.config import config_app
from core.cli.context import init_context
from core.cli.dataset import dataset_app
from core.cli.finetune import finetune_app


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="voxdesk",
        help="Voxdesk: speech, training data and fine-tunes for a Discord bot that learns.",
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.callback(invoke_without_command=True)(_global_options)
    app.command()(speech.transcribe)
    app.command()(speech.speak)
    app.command("record")(speech.record_command)
    app.command()(speech.devices)
    app.command()(ask)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(finetune_app, name="finetune")
    app.add_typer(config_app, name="config")
    return app


def _global_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(envvar="VOXDESK_CONFIG", help="Settings file to use instead of the default."),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging.")] = 0,
) -> None:
    init_context(ctx, config, verbose)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
