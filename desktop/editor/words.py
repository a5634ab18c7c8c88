"""One segment's words: the one being played highlighted, doubtful ones underlined, each a link
that seeks to it."""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser

from voxdesk.core.stt import Segment
from voxdesk.core.stt.base import word_gap
from voxdesk.core.stt.words import aligned_words
from voxdesk.desktop.editor.model import LOW_CONFIDENCE

# Qt's rich text knows no palette() or wavy underline: plain colours, a straight underline.
_PLAIN = "text-decoration: none;"
_UNSURE = "color: #b35c00; text-decoration: underline;"
_PLAYING = "background-color: #3574d4; color: white;"


class WordView(QTextBrowser):
    """Shows a segment's words; a click on one emits ``wordClicked`` with its start."""

    wordClicked = Signal(float)

    def __init__(self) -> None:
        super().__init__()
        self.setOpenLinks(False)
        self.setMaximumHeight(90)
        self.setPlaceholderText("The words of the selected segment, as they are played.")
        self.anchorClicked.connect(self._clicked)
        self._starts: list[float] = []
        self._shown: tuple[Segment | None, int] = (None, -1)

    def show_segment(self, segment: Segment | None, playing: int = -1) -> None:
        """Show ``segment`` with the word at index ``playing`` highlighted."""
        if self._shown == (segment, playing):
            return  # the timer asks many times a second; most of the time nothing moved
        self._shown = (segment, playing)
        words = aligned_words(segment) if segment else ()
        self._starts = [word.start for word in words]
        shown = ""
        for number, word in enumerate(words):
            style = _UNSURE if word.probability < LOW_CONFIDENCE else _PLAIN
            if number == playing:
                style += _PLAYING
            title = f"{word.start:.2f} s · {word.probability:.0%} sure"
            gap = word_gap(words[number - 1].text, word.text) if number else ""
            shown += (f'{gap}<a href="#{number}" style="{style}" title="{title}">'
                      f"{html.escape(word.text)}</a>")  # fmt: skip
        self.setHtml(shown)

    def _clicked(self, url: QUrl) -> None:
        self.wordClicked.emit(self._starts[int(url.fragment())])
