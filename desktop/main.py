"""The ``voxdesk`` entry point: core's command line, extended by the front ends."""

from __future__ import annotations

from bridge.cli import bridge
from core.cli import build_app


def main() -> None:
    app = build_app()
    app.command()(bridge)
    app()
