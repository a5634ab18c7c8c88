"""When gTTS cannot reach Google, the bot speaks with Piper, and says so once (feed and log)."""

from __future__ import annotations

import logging

import pytest

from tests.bridge.conftest import RecordingVoiceClient, Running, next_event
from tests.bridge.test_voice import voice_played
from voxdesk.core.events import Event, ReplySent, VoiceChanged
from voxdesk.desktop.feed import FeedModel


@pytest.fixture
def no_google(monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int) -> None:
    """gTTS's HTTPS goes to a closed loopback port: it fails at once, no internet touched."""
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{unused_tcp_port}")


async def spoken_reply(running: Running, text: str, seen: list[Event]) -> None:
    """Ask the bot in the chat, and wait until its spoken reply has played."""
    voice = RecordingVoiceClient.instances[-1]
    voice.spoke.clear()
    await running.discord.post(running.discord.member, text, channel=running.discord.chat)
    while not (isinstance(event := await next_event(running, Event), ReplySent) and event.spoken):
        seen.append(event)
    seen.append(event)
    await voice_played(voice)


async def test_the_bot_speaks_with_piper_when_gtts_fails_and_says_so_once(
    running: Running, no_google: None, caplog: pytest.LogCaptureFixture
) -> None:
    fake, tts = running.discord, running.services.settings.tts
    tts.engine, tts.fallbacks, tts.language = "gtts", ["piper", "espeak"], "en"
    await fake.join_voice(fake.member, fake.voice)
    await fake.post(fake.member, "!join")
    await fake.wait_for(lambda m: m["content"].startswith("Joined Voice"))
    seen: list[Event] = []

    with caplog.at_level(logging.INFO, logger="voxdesk.core.tts.chain"):
        for question in ("Say something.", "And again."):
            await spoken_reply(running, question, seen)

    assert running.services.voice.name == "piper"
    assert all(frames > 25 for frames in RecordingVoiceClient.instances[-1].played)
    changes = [event for event in seen if isinstance(event, VoiceChanged)]
    assert len(changes) == 1 and (changes[0].engine, changes[0].preferred) == ("piper", "gtts")
    assert "could not reach Google" in changes[0].reason
    # The chain's own lines: a client another test left open can be collected meanwhile, and
    # asyncio then logs its failed close here too.
    said = [r.getMessage() for r in caplog.records if r.name == "voxdesk.core.tts.chain"]
    assert len(said) == 1 and said[0].startswith("Speaking with piper instead of gtts")

    feed = FeedModel()
    for event in seen:
        feed.add(event)
    voice_rows = [row for row in feed.rows if row.kind == "voice"]
    assert len(voice_rows) == 1
    assert voice_rows[0].text.startswith(
        "Speaking with piper instead of gtts (gtts: gTTS could not reach Google"
    )
