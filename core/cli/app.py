"""The ``voxdesk`` command line: core's commands, which front ends extend with their own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from voxdesk.core.cli import speech
from voxdesk.core.cli.assistant import ask
from voxdesk.core.cli.config import config_app
from voxdesk.core.cli.context import CliContext, get_context, init_context, user_errors
from voxdesk.core.cli.dataset import dataset_app
from voxdesk.core.cli.finetune import finetune_app
from voxdesk.core.cli.models import models_app

ConfigOption = Annotated[
    Path | None,
    typer.Option(envvar="VOXDESK_CONFIG", help="Settings file to use instead of the default."),
]
VerboseOption = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        metavar="",
        show_default=False,
        help="More logging: -v for info, -vv for debug.",
    ),
]


def build_app(on_no_command: Callable[[CliContext], None] | None = None) -> typer.Typer:
    """The CLI; ``on_no_command`` runs for a bare ``voxdesk`` (the window), else help prints."""
    app = typer.Typer(
        name="voxdesk",
        help="Voxdesk: speech, training data and fine-tunes for a Discord bot that learns.",
        pretty_exceptions_enable=False,
        add_completion=False,
        # Click's plain help, for every command: Typer's boxes label each flag <bool> as if it
        # took a value, cut long option names and break words at 80 columns.
        rich_markup_mode=None,
    )

    @app.callback(invoke_without_command=True)
    def global_options(
        ctx: typer.Context, config: ConfigOption = None, verbose: VerboseOption = 0
    ) -> None:
        init_context(ctx, config, verbose)
        if ctx.invoked_subcommand is not None:
            return
        if on_no_command is None:
            typer.echo(ctx.get_help())
            return
        cli = get_context(ctx)
        with user_errors(cli.console):
            on_no_command(cli)

    app.command()(speech.transcribe)
    app.command()(speech.speak)
    app.command("record")(speech.record_command)
    app.command()(speech.devices)
    app.command()(ask)
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(finetune_app, name="finetune")
    app.add_typer(config_app, name="config")
    app.add_typer(models_app, name="models")
    return app
