"""``voxdesk ask``: a reply from the same assistant the bot uses."""

from __future__ import annotations

from typing import Annotated

import typer

from voxdesk.core.cli.context import get_context, user_errors


def ask(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What to ask.")],
    model: Annotated[str | None, typer.Option(help="Model instead of the active one.")] = None,
) -> None:
    """Ask the assistant (the active model, with the bot's system instruction)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        if model:
            cli.settings.assistant.model = model
        reply = cli.run(lambda services: services.assistant.reply("cli", text))
        cli.out.print(reply.text, highlight=False, markup=False)
