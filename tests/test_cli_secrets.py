"""A server that quotes the key back never gets the key printed by the ``voxdesk`` command."""

from __future__ import annotations

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.test_cli import assert_one_line_error, voxdesk


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
