"""``voxdesk bridge``: the bot without a window."""

from __future__ import annotations

import typer

from voxdesk.core.cli.context import get_context, user_errors
from voxdesk.core.services import Services

UNSYNCED = (
    "discord.sync_commands is off: the bot does not register its slash commands and menus with "
    "Discord, so new or changed ones are not seen; `voxdesk config set discord.sync_commands "
    "true` has it register them when it starts."
)


def bridge(ctx: typer.Context) -> None:
    """Run the Discord bot headless (token from DISCORD_TOKEN or the keyring); Ctrl-C stops it.

    One profile runs one bot: this refuses to start while the window or another `voxdesk
    bridge` runs the bot of the same profile.
    """
    from voxdesk.bridge.runner import run_headless  # discord.py: only for this command

    cli = get_context(ctx)

    def started() -> None:
        cli.console.print("The bot has logged in; Ctrl-C or SIGTERM stops it.")
        if not cli.settings.discord.sync_commands:  # else Discord shows no slash command at all
            cli.console.print(UNSYNCED, highlight=False)

    async def run(services: Services) -> None:
        await run_headless(services, on_started=started)

    with user_errors(cli.console):
        cli.run(run)
        cli.console.print("The bot has stopped.")
