"""What every command shares: loaded settings, secrets, the console, and error reporting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape

from voxdesk.core.config import SecretStore, Settings, default_settings_path, load_settings
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.logs import setup_logging
from voxdesk.core.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class CliContext:
    settings_path: Path
    console: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))
    out: Console = field(default_factory=lambda: Console(soft_wrap=True))
    secrets: SecretStore = field(default_factory=SecretStore)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.settings_path)
        return self._settings

    def run(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Run ``work`` with fresh services on a new event loop, closing them afterwards."""

        async def main() -> T:
            services = Services(self.settings, self.secrets, settings_path=self.settings_path)
            try:
                return await work(services)
            finally:
                await services.close()

        return asyncio.run(main())


def init_context(ctx: typer.Context, config: Path | None, verbose: int) -> None:
    setup_logging(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    ctx.obj = CliContext(settings_path=config or default_settings_path())


def get_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj


@contextmanager
def user_errors(console: Console) -> Iterator[None]:
    """Turn an error meant for the user into one clear line, without secrets, and exit status 1
    (no traceback)."""
    try:
        yield
    except VoxdeskError as error:
        console.print(f"[bold red]error:[/] {escape(user_message(error))}", highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("[yellow]Stopped.[/]")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort):
        raise  # a status chosen on purpose (typer 0.29+ has its own, no longer click's)
    except Exception as error:
        # A bug, or an error no check foresaw: its text may quote a secret (an HTTP error
        # echoing a header), so it goes out redacted, and the traceback only through the log.
        log.debug("Unexpected error", exc_info=True)
        console.print(
            f"[bold red]error:[/] {escape(user_message(error))} "
            "(unexpected; run again with -vv for details, and please report it)",
            highlight=False,
        )
        raise typer.Exit(1) from None
