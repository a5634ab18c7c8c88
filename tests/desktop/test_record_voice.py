"""The Record page speaks the assistant's reply with the next voice when gTTS cannot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.fakes.openai_server import API_KEY, FakeOpenAI
from voxdesk.core.config import SecretStore, Settings
from voxdesk.core.events import VoiceChanged
from voxdesk.core.services import Services
from voxdesk.desktop.history import TranscriptHistory
from voxdesk.desktop.pages.record import RecordPage


def test_a_reply_is_spoken_by_piper_when_google_is_out_of_reach(
    qloop: asyncio.AbstractEventLoop,
    qtbot: QtBot,
    tmp_path: Path,
    fake_sounddevice: object,
    monkeypatch: pytest.MonkeyPatch,
    unused_tcp_port: int,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy"):  # gTTS fails at once, no internet touched
        monkeypatch.setenv(name, f"http://127.0.0.1:{unused_tcp_port}")
    openai = qloop.run_until_complete(FakeOpenAI().start())
    settings = Settings()
    settings.openai.base_url = openai.base_url
    settings.tts.engine, settings.tts.language = "gtts", "en"
    services = Services(settings, SecretStore({"OPENAI_API_KEY": API_KEY}))
    changes = services.events.subscribe(VoiceChanged)
    page = RecordPage(services, TranscriptHistory(tmp_path / "h.json"))
    qtbot.addWidget(page)

    page.question.setText("Say hello.")
    qloop.run_until_complete(page.ask())

    assert "Not spoken" not in page.status.text()
    ((samples, rate),) = fake_sounddevice.played  # type: ignore[attr-defined]
    assert len(samples) > rate // 2  # the reply, spoken
    change = changes.get_nowait()
    assert change is not None and (change.engine, change.preferred) == ("piper", "gtts")
    qloop.run_until_complete(services.close())
    qloop.run_until_complete(openai.stop())
