"""``voxdesk bridge``: the bot without a window."""

from __future__ import annotations

import typer

from voxdesk.core.cli.context import get_context, user_errors


def bridge(ctx: typer.Context) -> None:
    """Run the Discord bot headless (token from DISCORD_TOKEN or the keyring); Ctrl-C stops it."""
    from voxdesk.bridge.runner import run_headless  # discord.py: only for this command

    cli = get_context(ctx)
    with user_errors(cli.console):
        cli.console.print("Starting the Discord bot; Ctrl-C or SIGTERM stops it.")
        cli.run(run_headless)
        cli.console.print("The bot has stopped.")
