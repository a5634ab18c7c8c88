"""Opening the window, or saying plainly why it cannot open here."""

from __future__ import annotations

import os
import sys

from voxdesk.core.cli.context import CliContext
from voxdesk.core.errors import VoxdeskError

HEADLESS_COMMANDS = (
    "voxdesk bridge, voxdesk transcribe, voxdesk dataset, voxdesk finetune, voxdesk ask"
)


def has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    if os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_window(cli: CliContext) -> None:
    if not has_display():
        raise VoxdeskError(
            "No display: the Voxdesk window needs X11 or Wayland.",
            hint=f"Without one, use the headless commands: {HEADLESS_COMMANDS}.",
        )
    from voxdesk.desktop.app import run_app  # Qt is imported only when a window will open

    run_app(cli.settings, cli.secrets, cli.settings_path)
