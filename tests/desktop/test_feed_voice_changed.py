"""The feed shows a change of voice once, in words, whichever guild or channel is selected."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from voxdesk.core.events import MessageSeen, Place, VoiceChanged
from voxdesk.desktop.feed import FeedModel, PlaceFilter

HERE, ELSEWHERE = Place(1, "Guild", 2, "bot-chat"), Place(1, "Guild", 3, "other")


def test_a_change_of_voice_reads_in_words_and_shows_in_every_channel(qtbot: QtBot) -> None:
    feed, shown = FeedModel(), PlaceFilter()
    shown.setSourceModel(feed)
    feed.add(MessageSeen(ELSEWHERE, 10, 7, "bob", "hi"))
    feed.add(VoiceChanged("piper", "gtts", "gtts: gTTS could not reach Google"))
    feed.add(VoiceChanged("gtts", "gtts"))

    shown.show_only(1, 2)  # a channel where nothing else was said

    assert [shown.index(row, 3).data() for row in range(shown.rowCount())] == ["voice", "voice"]
    assert [shown.index(row, 4).data() for row in range(shown.rowCount())] == [
        "Speaking with piper instead of gtts (gtts: gTTS could not reach Google)",
        "Speaking with gtts again",
    ]
