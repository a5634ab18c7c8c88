"""``voxdesk config``: show, locate and change settings; store secrets in the keyring."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Annotated, Any, get_origin

import tomli_w
import typer

from voxdesk.core.cli.context import get_context, user_errors
from voxdesk.core.config import Secret, SettingsError, SettingsFile, SettingsStore
from voxdesk.core.config.lines import list_from_line, mapping_from_line
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.logs import redact

config_app = typer.Typer(help="Show and change settings and secrets.", no_args_is_help=True)

SecretArgument = Annotated[Secret, typer.Argument(help="DISCORD_TOKEN or OPENAI_API_KEY.")]


@config_app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the settings in force (file + environment), secrets masked."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        settings = cli.settings.model_dump(mode="json", exclude_none=True)
        cli.out.print(f"# {cli.settings_path}", highlight=False)
        # A base URL's user:password@ is a credential too; the file keeps it, the screen not.
        cli.out.print(redact(tomli_w.dumps(settings)), highlight=False, markup=False)
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


# A value may start with '-' (audio.max_seconds -5, discord.prefix -): a value, not an option.
@config_app.command("set", context_settings={"ignore_unknown_options": True})
def set_value(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="section.name, e.g. speech.language")],
    value: Annotated[
        str, typer.Argument(help="The new value (JSON for lists and mappings); 'none': default.")
    ],
) -> None:
    """Change one setting in the settings file (validated before it is saved)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        store = SettingsStore(cli.settings, cli.settings_path)
        asyncio.run(store.set(key, _parse(key, value)))
        section, _, name = key.partition(".")
        shown = getattr(getattr(cli.settings, section), name)
        cli.console.print(
            f"Saved {key} = {redact(repr(shown))} in {store.path}.", highlight=False, markup=False
        )
        variable = f"VOXDESK_{section}__{name}".upper()
        if variable in os.environ:  # the file has the new value; the environment still wins
            cli.console.print(f"[yellow]note:[/] {variable} is set and overrides it.")


@config_app.command("set-secret")
def set_secret(
    ctx: typer.Context,
    secret: SecretArgument,
    value: Annotated[
        str | None,
        typer.Option(
            help="The secret (it stays in the shell's history). Without it the secret is asked "
            "for, hidden, or read from the first line of piped input.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Store a secret in the OS keyring (never in the settings file)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        cli.secrets.check_keyring()  # before the user types or pastes anything
        value = (value if value is not None else _read_secret(secret)).strip()
        if not value:
            raise VoxdeskError("An empty secret was not stored.")
        store = SettingsStore(cli.settings, cli.settings_path, secrets=cli.secrets)
        asyncio.run(store.store_secret(secret, value))  # an open window learns of it
        cli.console.print(f"Stored the {secret.label} in the OS keyring.")


def _read_secret(secret: Secret) -> str:
    """Asked for, hidden, at a terminal; piped in (`pass show x | voxdesk config set-secret`),
    read plainly: getpass would warn that it cannot hide what nobody types."""
    if sys.stdin.isatty():
        return str(typer.prompt(secret.label, hide_input=True))
    return sys.stdin.readline()


@config_app.command("forget-secret")
def forget_secret(ctx: typer.Context, secret: SecretArgument) -> None:
    """Remove a secret from the OS keyring."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        cli.secrets.forget(secret)
        cli.console.print(f"Removed the {secret.label} from the OS keyring.")


def _parse(key: str, value: str) -> Any:
    """Command-line text to what pydantic validates: text stays text (a role id is a name);
    a list is ``a, b`` and a mapping ``key: value, key: value``, as on the Settings page (or
    JSON); numbers and booleans are read as JSON; 'none' means the default."""
    if value.lower() in ("none", "null", ""):
        return None
    kind = _annotation(key)
    if kind in (str, str | None):
        return value
    if value.lstrip()[:1] not in ("[", "{"):
        if get_origin(kind) is list:
            return list_from_line(value)
        if get_origin(kind) is dict:
            try:
                return mapping_from_line(value)
            except ValueError as error:
                raise SettingsError(f"Not saved: {key}: {error}.") from None
    try:
        return json.loads(value.lower() if value.lower() in ("true", "false") else value)
    except ValueError:
        return value  # pydantic names what is wrong with it


def _annotation(key: str) -> Any:
    section, _, name = key.partition(".")
    group = SettingsFile.model_fields.get(section)
    fields = getattr(group.annotation, "model_fields", {}) if group else {}
    return fields[name].annotation if name in fields else None
