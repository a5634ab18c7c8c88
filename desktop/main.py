"""The ``voxdesk`` entry point: core's command line, extended by the front ends."""

from __future__ import annotations

from core.cli import build_app


def main() -> None:
    build_app()()
