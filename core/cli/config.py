"""``voxdesk config``: show, locate and change settings; store secrets in the keyring."""

from __future__ import annotations

from typing import Annotated, Any

import tomli_w
import typer
from pydantic import ValidationError

from voxdesk.core.cli.context import get_context, user_errors
from voxdesk.core.config import Secret, SettingsError, load_settings, save_settings
from voxdesk.core.config.settings import summarize_validation
from voxdesk.core.errors import VoxdeskError

config_app = typer.Typer(help="Show and change settings and secrets.", no_args_is_help=True)

SecretArgument = Annotated[Secret, typer.Argument(help="DISCORD_TOKEN or OPENAI_API_KEY.")]


@config_app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the settings in force (file + environment), secrets masked."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        settings = cli.settings.model_dump(mode="json", exclude_none=True)
        cli.out.print(f"# {cli.settings_path}", highlight=False)
        cli.out.print(tomli_w.dumps(settings), highlight=False, markup=False)
        cli.out.print("[secrets]", highlight=False, markup=False)
        for secret in Secret:
            found = cli.secrets.get(secret)
            shown = found.masked() if found else "not set"
            cli.out.print(f"{secret.value} = {shown}", highlight=False, markup=False)
        problem = cli.secrets.keyring_problem()
        if problem:
            cli.console.print(f"[yellow]note:[/] {problem}", highlight=False)


@config_app.command("path")
def path(ctx: typer.Context) -> None:
    """Print where the settings file lives."""
    typer.echo(get_context(ctx).settings_path)


@config_app.command("set")
def set_value(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="section.name, e.g. speech.language")],
    value: Annotated[str, typer.Argument(help="The new value; 'none' clears an optional one.")],
) -> None:
    """Change one setting in the settings file (validated before it is saved)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        section, _, name = key.partition(".")
        settings = load_settings(cli.settings_path)
        group = getattr(settings, section, None)
        if group is None or not name or name not in type(group).model_fields:
            raise SettingsError(
                f"There is no setting '{key}'.", hint="`voxdesk config show` lists them all."
            )
        try:
            setattr(group, name, _parse(value))
        except ValidationError as error:
            raise SettingsError(
                f"Invalid value for {key}: {summarize_validation(error)}."
            ) from None
        saved = save_settings(settings, cli.settings_path)
        cli.console.print(f"Saved {key} = {getattr(group, name)!r} in {saved}.")


@config_app.command("set-secret")
def set_secret(
    ctx: typer.Context,
    secret: SecretArgument,
    value: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="Asked for when not given.")
    ],
) -> None:
    """Store a secret in the OS keyring (never in the settings file)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        if not value.strip():
            raise VoxdeskError("An empty secret was not stored.")
        cli.secrets.store(secret, value.strip())
        cli.console.print(f"Stored the {secret.label} in the OS keyring.")


@config_app.command("forget-secret")
def forget_secret(ctx: typer.Context, secret: SecretArgument) -> None:
    """Remove a secret from the OS keyring."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        cli.secrets.forget(secret)
        cli.console.print(f"Removed the {secret.label} from the OS keyring.")


def _parse(value: str) -> Any:
    """Command-line text to the type pydantic will validate: none, booleans, numbers, text."""
    lowered = value.lower()
    if lowered in ("none", "null", ""):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
