"""The ``voxdesk`` entry point: core's command line, extended by the front ends."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        _run()
    except KeyboardInterrupt:  # Ctrl+C while the command line is still being imported
        sys.exit(130)


def _run() -> None:
    # Imported here, not at the top: processes spawned by multiprocessing (the validator's
    # workers) import the entry script again, and must not pay for the whole command line.
    from voxdesk.bridge.cli import bridge
    from voxdesk.core.cli import build_app
    from voxdesk.desktop.launch import open_command, open_window

    app = build_app(on_no_command=open_window)
    app.command("open")(open_command)
    app.command()(bridge)
    app()
