"""The ``voxdesk`` command line for core's services (speech, settings)."""

from voxdesk.core.cli.app import build_app

__all__ = ["build_app"]
