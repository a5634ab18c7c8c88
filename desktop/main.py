"""The ``voxdesk`` entry point: core's command line, extended by the front ends."""

from __future__ import annotations

from bridge.cli import bridge
from core.cli import build_app
from desktop.launch import open_window


def main() -> None:
    app = build_app(on_no_command=open_window)
    app.command()(bridge)
    app()
