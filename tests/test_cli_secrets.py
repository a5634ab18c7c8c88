"""A server that quotes the key back never gets the key printed by the ``voxdesk`` command."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.test_cli import VOXDESK, Run, assert_one_line_error, voxdesk
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


async def piped(text: str, *args: str, keyring: str) -> Run:
    """``voxdesk ARGS`` with ``text`` piped in, and the keyring backend named."""
    process = await asyncio.create_subprocess_exec(
        VOXDESK, *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHON_KEYRING_BACKEND": f"keyring.backends.{keyring}.Keyring"},
    )  # fmt: skip
    out, err = await process.communicate(text.encode())
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def test_a_piped_secret_is_read_plainly_once_the_keyring_is_known_to_work() -> None:
    key = "sk-proj-pipedsecretabcdefghijklmnop"
    run = await piped(f"{key}\n", "config", "set-secret", "OPENAI_API_KEY", keyring="fail")
    # said before anything is asked for, and nothing about the terminal's echo
    assert_one_line_error(run, "No OS keyring backend is available")
    assert run.out == ""
    run = await piped(f"{key}\n", "config", "set-secret", "OPENAI_API_KEY", keyring="null")
    assert run.code == 0, run.err
    assert run.err == "Stored the OpenAI API key in the OS keyring.\n" and run.out == ""


async def test_set_secret_help_says_how_the_value_arrives() -> None:
    run = await voxdesk("config", "set-secret", "--help")
    options = " ".join(run.out.partition("Options:")[2].split())
    assert options.startswith("--value <str> The secret (it stays in the shell's history). "
                              "Without it the secret is asked for, hidden, or read from the "
                              "first line of piped input. --help")  # fmt: skip
