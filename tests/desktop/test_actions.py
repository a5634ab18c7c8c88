"""A page's background work: an error lands on the status line, without secrets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.services import Services
from voxdesk.desktop.actions import Actions, StatusLine


def test_an_echoed_key_never_reaches_the_status_line(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path
) -> None:
    server = qloop.run_until_complete(FakeOpenAI().start())
    settings = Settings()
    settings.openai.base_url = server.base_url
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}),
                        settings_path=tmp_path / "settings.toml")  # fmt: skip
    status = StatusLine()
    qtbot.addWidget(status)
    actions = Actions(status)
    server.echo_key_next()
    actions.run(services.assistant.reply("window", "hello?"))
    qloop.run_until_complete(actions.settle())
    qloop.run_until_complete(services.close())
    qloop.run_until_complete(server.stop())
    assert "OpenAI answered 400: Invalid request for key Bearer [redacted]" in status.text()
    assert API_KEY not in status.text() and "sk-" not in status.text()
