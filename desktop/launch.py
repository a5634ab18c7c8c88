"""Opening the window (or bringing forward the one open on this profile), or saying plainly why
it cannot open here."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from voxdesk.core.cli.context import CliContext, get_context, user_errors
from voxdesk.core.errors import VoxdeskError
from voxdesk.core.instance import check_data_folder
from voxdesk.core.training.database import default_database_path

HEADLESS_COMMANDS = (
    "voxdesk bridge, voxdesk transcribe, voxdesk dataset, voxdesk finetune, voxdesk ask"
)


def has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_window(cli: CliContext, files: list[Path] | None = None) -> None:
    """Open the window with ``files`` to transcribe; if this profile has one open already, hand
    them to it and bring it to the front instead of opening a second."""
    if not has_display():
        raise VoxdeskError(
            "No display: the Voxdesk window needs X11 or Wayland.",
            hint=f"Without one, use the headless commands: {HEADLESS_COMMANDS}.",
        )
    files = files or []
    for path in files:
        if not path.is_file():
            raise VoxdeskError(f"No such file: {path}.", hint="Check the path and try again.")
    folder = default_database_path().parent  # the profile: its data, its bot, its window
    check_data_folder(folder)
    # Qt is imported only when a window will open
    from voxdesk.desktop.app import create_application, run_app
    from voxdesk.desktop.instance import WindowInstance

    create_application()  # Qt's local sockets want an application
    instance = WindowInstance(folder)
    if not instance.claim_or_hand_over(files):
        given = f", with {len(files)} file(s) to transcribe" if files else ""
        cli.console.print(
            f"Voxdesk is open already on this profile: its window came forward{given}."
        )
        return
    try:
        run_app(cli.settings, cli.secrets, cli.settings_path, instance=instance, files=files)
    finally:
        instance.close()


def open_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None, typer.Argument(metavar="FILES", help="Audio files to transcribe.")
    ] = None,
) -> None:
    """Open the window and transcribe FILES in it (or hand them to the window already open)."""
    cli = get_context(ctx)
    with user_errors(cli.console):
        open_window(cli, files)
