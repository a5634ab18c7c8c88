"""The live transcript of the voice channel the bot listens to: who said what, and when.

Each row is one utterance; its caption is replaced as the words firm up (the words that may
still change drawn lighter) until it is final. Saving writes the final captions with their
speakers' names, as the bot's ``!transcript`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    Qt,
)
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.events import Event, EventBus, ListeningChanged, Place, VoiceCaption
from voxdesk.core.stt.base import Segment
from voxdesk.core.stt.formats import OutputFormat, render, spoken_by
from voxdesk.desktop.tables import fit_new_rows

ROLE_PARTIAL = Qt.ItemDataRole.UserRole  # the end of a caption's text that may still change
MAX_ROWS = 5000  # a listening session longer than this keeps its latest utterances
FORMATS: dict[str, OutputFormat] = {"Text (*.txt)": "txt", "SubRip subtitles (*.srt)": "srt",
                                    "WebVTT subtitles (*.vtt)": "vtt",
                                    "JSON, with speakers (*.json)": "json"}  # fmt: skip
TIME, SPEAKER, TEXT = range(3)
Index = QModelIndex | QPersistentModelIndex


class CaptionModel(QAbstractTableModel):
    """One listening session's utterances, in the order they began."""

    def __init__(self) -> None:
        super().__init__()
        self.captions: list[VoiceCaption] = []

    def show(self, caption: VoiceCaption) -> None:
        """A new utterance becomes a row; a later caption of the same one replaces it."""
        row = self._row_of(caption)
        if row is None:
            if len(self.captions) >= MAX_ROWS:
                self.beginRemoveRows(QModelIndex(), 0, 0)
                del self.captions[0]
                self.endRemoveRows()
            self.beginInsertRows(QModelIndex(), len(self.captions), len(self.captions))
            self.captions.append(caption)
            self.endInsertRows()
            return
        self.captions[row] = caption
        self.dataChanged.emit(self.index(row, 0), self.index(row, TEXT))

    def clear(self) -> None:
        self.beginResetModel()
        self.captions.clear()
        self.endResetModel()

    def finals(self) -> list[Segment]:
        return [Segment(c.start, c.end, c.text, speaker=c.speaker_name)
                for c in self.captions if c.final]  # fmt: skip

    def _row_of(self, caption: VoiceCaption) -> int | None:
        # Captions being edited are the last few rows: look from the end.
        for row in range(len(self.captions) - 1, -1, -1):
            shown = self.captions[row]
            if shown.utterance == caption.utterance and shown.place == caption.place:
                return row
        return None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.captions)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 3

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> str | None:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Time", "Speaker", "Said")[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        caption = self.captions[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (_clock(caption.start), caption.speaker_name, caption.text)[index.column()]
        if role == ROLE_PARTIAL and index.column() == TEXT:
            return "" if caption.final else caption.partial
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == TEXT:
            return caption.text
        return None


class _LighterTail(QStyledItemDelegate):
    """A caption's firm words in the text colour, the words that may change in a lighter one."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        partial = index.data(ROLE_PARTIAL)
        if not partial:
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        text = option.text
        option.text = ""
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        firm = text[: len(text) - len(partial)]
        area = option.rect.adjusted(4, 0, -4, 0)
        metrics = option.fontMetrics
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        colours = option.palette
        painter.save()
        painter.setPen(colours.color(QPalette.ColorRole.HighlightedText if selected
                                     else QPalette.ColorRole.Text))  # fmt: skip
        painter.drawText(area, Qt.AlignmentFlag.AlignVCenter, firm)
        rest = QRect(area.left() + metrics.horizontalAdvance(firm), area.top(),
                     area.width() - metrics.horizontalAdvance(firm), area.height())  # fmt: skip
        painter.setPen(colours.color(QPalette.ColorRole.PlaceholderText))
        tail = metrics.elidedText(partial, Qt.TextElideMode.ElideRight, rest.width())
        painter.drawText(rest, Qt.AlignmentFlag.AlignVCenter, tail)
        painter.restore()


class CaptionsPanel(QWidget):
    """The live transcript of the listened channel, fed from the bus."""

    def __init__(self, events: EventBus, engine: Callable[[], str]) -> None:
        super().__init__()
        self.events = events
        self.engine = engine  # the speech engine's name, asked when saving
        self.model = CaptionModel()
        self.listening: set[Place] = set()
        self._follower: asyncio.Task[None] | None = None
        self.state = QLabel("Not listening. Start with !listen in a voice channel.")
        self.state.setWordWrap(True)
        self.save_button = QPushButton("Save transcript…")
        self.save_button.setToolTip("The final captions with speakers' names: txt, srt, vtt, json")
        self.save_button.clicked.connect(lambda: self.save())
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(TEXT, _LighterTail(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        fit_new_rows(self.view)  # a speaker's name whole as they first speak
        self.model.rowsInserted.connect(lambda *_: self._follow_the_end())
        top = QHBoxLayout()
        top.addWidget(self.state, 1)
        top.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def start(self) -> None:
        self._follower = asyncio.ensure_future(self._follow())

    async def shutdown(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower

    async def _follow(self) -> None:
        subscription = self.events.subscribe(Event, size=2000)
        try:
            async for event in subscription:
                if isinstance(event, VoiceCaption | ListeningChanged):
                    self.take(event)
        finally:
            subscription.close()

    def take(self, event: VoiceCaption | ListeningChanged) -> None:
        if isinstance(event, VoiceCaption):
            self.model.show(event)
        elif event.listening:
            if event.place not in self.listening:  # a new session: its own transcript
                self.listening.add(event.place)
                if len(self.listening) == 1:
                    self.model.clear()
            detail = f": {event.detail}" if event.detail else ""
            self.state.setText(f"Listening in {_where(event.place)}{detail}")
        else:
            self.listening.discard(event.place)
            self.state.setText(f"Stopped listening in {_where(event.place)}.")

    def save(self, path: Path | None = None) -> Path | None:
        """Write the final captions to ``path`` (asked for when None), the format by its suffix."""
        finals = self.model.finals()
        if not finals:
            self.state.setText("Nothing to save yet: no one has finished an utterance.")
            return None
        if path is None:
            name, chosen = QFileDialog.getSaveFileName(
                self, "Save the transcript", "voice-transcript.txt", ";;".join(FORMATS)
            )
            if not name:
                return None
            path = Path(name)
            path = path if path.suffix else path.with_suffix("." + FORMATS[chosen])
        suffix = path.suffix.lstrip(".")
        file_format = cast(OutputFormat, suffix if suffix in FORMATS.values() else "txt")
        audio_seconds = max(caption.end for caption in finals)
        transcript = spoken_by(finals, self.engine(), audio_seconds)
        path.write_text(render(transcript, file_format), encoding="utf-8")
        self.state.setText(f"Saved {len(finals)} captions to {path}.")
        return path

    def _follow_the_end(self) -> None:
        """New utterances scroll into view unless the reader scrolled up to read."""
        bar = self.view.verticalScrollBar()
        if bar.value() >= bar.maximum() - 2 * self.view.verticalHeader().defaultSectionSize():
            self.view.scrollToBottom()


def _where(place: Place) -> str:
    guild = f" ({place.guild_name})" if place.guild_name else ""
    return place.channel_name + guild


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
