"""The Discord page's live transcript: captions from the bus become rows, and save with names."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import srt
from pytestqt.qtbot import QtBot

from tests.bridge.test_listen import HEARD, members, speak, start_listening
from tests.bridge.voice_loopback import voice_bot
from voxdesk.core.events import EventBus, ListeningChanged, Place, VoiceCaption
from voxdesk.desktop.captions import ROLE_PARTIAL, TEXT, CaptionsPanel

VOICE = Place(1, "Guild", 2, "Voice")


def caption(number: int, name: str, text: str, *, final: bool, partial: str = "",
            start: float = 0.0, end: float = 0.0) -> VoiceCaption:  # fmt: skip
    return VoiceCaption(VOICE, number, number * 10, name, text, final, start, end, partial=partial)


@pytest.fixture
def panel(qloop: asyncio.AbstractEventLoop, qtbot: QtBot) -> CaptionsPanel:
    panel = CaptionsPanel(EventBus(), lambda: "whisper")
    qtbot.addWidget(panel)
    return panel


def publish(qloop: asyncio.AbstractEventLoop, panel: CaptionsPanel, *events: object) -> None:
    """Publish on the bus and let the panel's follower take them all."""

    async def run() -> None:
        panel.start()
        await asyncio.sleep(0)  # the follower subscribes
        for event in events:
            panel.events.publish(event)  # type: ignore[arg-type]
        # The follower takes every queued event in one go once it runs.
        while panel.events._subscriptions[-1]._queue.qsize():  # type: ignore[attr-defined]  # noqa: ASYNC110
            await asyncio.sleep(0)
        await panel.shutdown()

    qloop.run_until_complete(run())


def shown(panel: CaptionsPanel) -> list[tuple[str, str, str, str]]:
    model = panel.model
    return [
        (*(model.index(row, column).data() for column in range(3)),
         model.index(row, TEXT).data(ROLE_PARTIAL))
        for row in range(model.rowCount())
    ]  # fmt: skip


def test_captions_become_rows_replaced_until_final(
    qloop: asyncio.AbstractEventLoop, panel: CaptionsPanel
) -> None:
    publish(
        qloop, panel, ListeningChanged(VOICE, True, "captions in #chat"),
        caption(1, "alice", "one two", final=False, partial="two", start=3.2),
        caption(2, "bob", "hello", final=False, partial="hello", start=65),
        caption(1, "alice", "one two three", final=True, start=3.2, end=5),
    )  # fmt: skip

    assert shown(panel) == [("00:03", "alice", "one two three", ""),
                            ("01:05", "bob", "hello", "hello")]  # fmt: skip
    assert panel.state.text() == "Listening in Voice (Guild): captions in #chat"
    panel.resize(600, 300)
    panel.view.grab()  # bob's partial words are painted lighter, alice's in the text colour


def test_a_new_session_starts_a_new_transcript(
    qloop: asyncio.AbstractEventLoop, panel: CaptionsPanel
) -> None:
    publish(
        qloop, panel, ListeningChanged(VOICE, True),
        caption(1, "alice", "before", final=True),
        ListeningChanged(VOICE, True, "bob waits: all transcription slots are busy"),
        ListeningChanged(VOICE, False),
    )  # fmt: skip
    assert [row[2] for row in shown(panel)] == ["before"]  # news and stopping keep the rows
    assert panel.state.text() == "Stopped listening in Voice (Guild)."

    publish(qloop, panel, ListeningChanged(VOICE, True), caption(1, "bob", "after", final=True))
    assert [row[2] for row in shown(panel)] == ["after"]  # utterance 1 again: a new row


def test_save_writes_the_finals_with_speakers_in_each_format(
    qloop: asyncio.AbstractEventLoop, panel: CaptionsPanel, tmp_path: Path
) -> None:
    assert panel.save(tmp_path / "none.txt") is None  # nothing final yet: says so, writes nothing
    assert not (tmp_path / "none.txt").exists()
    publish(
        qloop, panel,
        caption(2, "bob", "second", final=True, start=4, end=6),
        caption(1, "alice", "first", final=True, start=1, end=3.5),
        caption(3, "carol", "still talk", final=False, partial="talk", start=7),
    )  # fmt: skip

    for suffix in ("txt", "srt", "vtt", "json"):
        panel.save(tmp_path / f"t.{suffix}")
    assert (tmp_path / "t.txt").read_text() == "alice: first\nbob: second\n"
    cues = list(srt.parse((tmp_path / "t.srt").read_text()))
    starts = [(cue.start.total_seconds(), cue.content) for cue in cues]
    assert starts == [(1, "alice: first"), (4, "bob: second")]
    assert (
        (tmp_path / "t.vtt")
        .read_text()
        .startswith("WEBVTT\n\n00:00:01.000 --> 00:00:03.500\nalice: first\n")
    )
    segments = json.loads((tmp_path / "t.json").read_text())["segments"]
    assert [(s["speaker"], s["start"]) for s in segments] == [("alice", 1), ("bob", 4)]
    assert panel.state.text() == f"Saved 2 captions to {tmp_path / 't.json'}."


@pytest.mark.slow  # Whisper transcribes three members on the loopback voice server
async def test_three_members_end_to_end(
    qapp: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with voice_bot(monkeypatch, dave=True) as running:
        panel = CaptionsPanel(running.services.events, lambda: "whisper")
        panel.start()
        await start_listening(running)
        await speak(running, list(members(running)))
        everyone = asyncio.Event()

        def said(name: str) -> str:  # "one, two, three" pauses: it may take two captions
            finals = (c.text for c in panel.model.captions if c.final and c.speaker_name == name)
            return " ".join(finals).lower()

        def check(*_: object) -> None:
            if all(any(w in said(name) for w in words) for name, words in HEARD.items()):
                everyone.set()

        panel.model.dataChanged.connect(check)
        panel.model.rowsInserted.connect(check)
        await asyncio.wait_for(everyone.wait(), 120)
        await panel.shutdown()

    assert panel.state.text().startswith("Listening in Voice (")
    text = panel.save(tmp_path / "voice.txt").read_text().lower()  # type: ignore[union-attr]
    for name, words in HEARD.items():
        theirs = " ".join(line for line in text.splitlines() if line.startswith(f"{name}: "))
        assert any(word in theirs for word in words), text
