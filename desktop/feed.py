"""The bot's traffic as a table: one row per event seen on the bus, newest last."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from voxdesk.core.events import (
    BridgeError,
    CommandRun,
    Event,
    MessageSeen,
    Place,
    ReplySent,
    TranscriptReady,
    VoiceChanged,
)
from voxdesk.desktop.tables import RowsModel

MAX_ROWS = 5000
Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Time", "Where", "Who", "What", "Text")


@dataclass(frozen=True)
class FeedRow:
    event: Event
    place: Place | None
    who: str
    kind: str
    text: str
    answers: FeedRow | None = None  # the transcript a reply answers, when it answers one

    @property
    def link(self) -> str:
        """What the row answers, in words; "" when it answers no transcript."""
        if self.answers is None:
            return ""
        heard = self.answers.event
        assert isinstance(heard, TranscriptReady)
        return f"Answers the transcript of {self.answers.who}'s message {heard.message_id}"


def row_for(event: Event) -> FeedRow | None:
    """How an event reads in the feed; None for events the feed does not show."""
    if isinstance(event, MessageSeen):
        attached = f" [{', '.join(event.attachments)}]" if event.attachments else ""
        return FeedRow(event, event.place, event.author_name, "message", event.content + attached)
    if isinstance(event, TranscriptReady):
        return FeedRow(event, event.place, event.author_name, "transcript", event.text)
    if isinstance(event, ReplySent):
        kind = "reply (spoken)" if event.spoken else "reply"
        return FeedRow(event, event.place, "bot", kind, event.text)
    if isinstance(event, CommandRun):
        outcome = "" if event.ok else f" — {event.detail}"
        return FeedRow(event, event.place, event.author_name, "command", event.command + outcome)
    if isinstance(event, BridgeError):
        return FeedRow(event, event.place, "bot", "error", event.message)
    if isinstance(event, VoiceChanged):  # published once per change, not on every reply
        if event.engine == event.preferred:
            return FeedRow(event, None, "bot", "voice", f"Speaking with {event.engine} again")
        why = f" ({event.reason})" if event.reason else ""
        text = f"Speaking with {event.engine} instead of {event.preferred}{why}"
        return FeedRow(event, None, "bot", "voice", text)
    return None


class FeedModel(RowsModel):
    columns = COLUMNS

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[FeedRow] = []
        self._transcripts: dict[int, FeedRow] = {}  # by the id of the message transcribed

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return row
        if role == Qt.ItemDataRole.ToolTipRole and row.answers is not None:
            return f"{row.link}: «{row.answers.text}»\n\n{row.text}"
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        place = row.place
        where = f"{place.guild_name or 'DM'} #{place.channel_name}" if place else ""
        values = (row.event.at.astimezone().strftime("%H:%M:%S"), where, row.who, row.kind,
                  " ".join(row.text.split()))  # fmt: skip
        return values[index.column()]

    def add(self, event: Event) -> None:
        row = self._linked(row_for(event))
        if row is None:
            return
        if len(self.rows) >= MAX_ROWS:  # keep memory bounded on a busy bot
            self.beginRemoveRows(QModelIndex(), 0, 0)
            gone = self.rows.pop(0).event
            self.endRemoveRows()
            if isinstance(gone, TranscriptReady):
                self._transcripts.pop(gone.message_id, None)
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows))
        self.rows.append(row)
        self.endInsertRows()

    def _linked(self, row: FeedRow | None) -> FeedRow | None:
        """``row``, tied to the transcript it answers: a reply to a transcribed message answers
        that message's transcript."""
        if row is None:
            return None
        event = row.event
        if isinstance(event, TranscriptReady):
            self._transcripts[event.message_id] = row
        elif isinstance(event, ReplySent) and event.in_reply_to in self._transcripts:
            heard = self._transcripts[event.in_reply_to]
            kind = "answer to transcript" + (" (spoken)" if event.spoken else "")
            return replace(row, kind=kind, answers=heard)
        return row


class PlaceFilter(QSortFilterProxyModel):
    """Shows rows from one guild or one channel (or everything)."""

    def __init__(self) -> None:
        super().__init__()
        self.guild_id: int | None = None
        self.channel_id: int | None = None

    def show_only(self, guild_id: int | None, channel_id: int | None) -> None:
        self.beginFilterChange()
        self.guild_id, self.channel_id = guild_id, channel_id
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, FeedModel)
        place = model.rows[source_row].place
        if place is None:
            return True  # the bot as a whole (its voice changed, an error): news everywhere
        if self.channel_id is not None:
            return place.channel_id == self.channel_id
        if self.guild_id is not None:
            return place.guild_id == self.guild_id
        return True
