"""A server that quotes the key back never gets the key printed by the ``voxdesk`` command."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.test_cli import assert_one_line_error, voxdesk
from voxdesk.core.cli.context import CliContext


async def test_an_echoed_key_is_not_printed() -> None:
    server = await FakeOpenAI().start()
    server.echo_key_next()
    try:
        run = await voxdesk(
            "ask", "hello?",
            env={"OPENAI_API_KEY": API_KEY, "VOXDESK_OPENAI__BASE_URL": server.base_url},
        )  # fmt: skip
    finally:
        await server.stop()
    assert_one_line_error(run, "OpenAI answered 400", "Invalid request for key Bearer [redacted]")
    assert API_KEY not in run.out + run.err
    assert "sk-" not in run.out + run.err


def test_an_unexpected_error_is_one_redacted_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error no check foresaw (a bug, a library's surprise) may quote a key too."""
    from typer.testing import CliRunner

    from voxdesk.core.cli import build_app

    def surprise(*_: object, **__: object) -> None:
        raise RuntimeError(f"upstream said: Authorization: Bearer {API_KEY}")

    monkeypatch.setattr(CliContext, "run", surprise)
    result = CliRunner().invoke(build_app(), ["ask", "hello?"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and API_KEY not in result.output
    assert "upstream said: Authorization: Bearer [redacted] (unexpected;" in result.output
