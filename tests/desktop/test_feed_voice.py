"""The Discord page's feed ties the bot's answer to a voice message to that message's transcript."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from voxdesk.core.events import MessageSeen, Place, ReplySent, TranscriptReady
from voxdesk.core.services import Services
from voxdesk.desktop.feed import MAX_ROWS, FeedModel
from voxdesk.desktop.pages.discord import DiscordPage

HERE = Place(1, "Guild", 2, "bot-chat")
VOICE_MESSAGE, TYPED = 1001, 1002
HEARD = "a new home in the stars"


def test_the_answer_row_names_the_transcript_it_answers(
    qloop: asyncio.AbstractEventLoop, qtbot: QtBot, services: Services
) -> None:
    page = DiscordPage(services)
    qtbot.addWidget(page)
    page.start()
    qloop.run_until_complete(asyncio.sleep(0))  # one turn: the page's follower subscribes
    for event in (
        MessageSeen(HERE, VOICE_MESSAGE, 7, "bob", "", ("voice-message.ogg",)),
        TranscriptReady(HERE, VOICE_MESSAGE, "bob", HEARD, "en", "whisper", 3.6),
        ReplySent(HERE, 3001, "Sounds lovely.", VOICE_MESSAGE, spoken=True, question=HEARD),
        MessageSeen(HERE, TYPED, 7, "bob", "and you?"),
        ReplySent(HERE, 3002, "I'm fine.", TYPED, question="and you?"),
    ):
        services.events.publish(event)
    qloop.run_until_complete(rows(page, 5))
    transcript, answer, typed = page.feed.rows[1], page.feed.rows[2], page.feed.rows[4]
    assert answer.kind == "answer to transcript (spoken)" and answer.answers is transcript
    assert typed.kind == "reply" and typed.answers is None  # a typed question: no transcript
    tip = page.feed.data(page.feed.index(2, 4), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(f"Answers the transcript of bob's message {VOICE_MESSAGE}: «a new home")

    selection = page.table.selectionModel()
    selection.select(page.filter.index(2, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                     | QItemSelectionModel.SelectionFlag.Rows)  # fmt: skip
    assert page.status.text() == (
        f"Answers the transcript of bob's message {VOICE_MESSAGE}: «a new home in the stars»"
    )
    qloop.run_until_complete(page.shutdown())


def test_a_transcript_pushed_out_of_the_feed_is_no_longer_linked(qtbot: QtBot) -> None:
    feed = FeedModel()
    feed.add(TranscriptReady(HERE, VOICE_MESSAGE, "bob", "old words", "en", "whisper", 1.0))
    for n in range(MAX_ROWS):
        feed.add(MessageSeen(HERE, 5000 + n, 7, "bob", "chatter"))
    feed.add(ReplySent(HERE, 3001, "late answer", VOICE_MESSAGE))
    assert feed.rows[-1].kind == "reply" and feed.rows[-1].answers is None


async def rows(page: DiscordPage, count: int) -> None:
    """Wait until the feed shows ``count`` rows."""
    shown = asyncio.Event()
    page.feed.rowsInserted.connect(lambda *_: len(page.feed.rows) >= count and shown.set())
    if len(page.feed.rows) < count:
        await asyncio.wait_for(shown.wait(), 10)
