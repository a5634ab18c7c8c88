"""A transcript's segments as table rows, every change an undoable command."""

from __future__ import annotations

import bisect
import dataclasses
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QUndoCommand, QUndoStack

from voxdesk.core.stt import Segment
from voxdesk.core.stt.words import aligned_words, with_text

Index = QModelIndex | QPersistentModelIndex
LOW_CONFIDENCE = 0.5  # a word Whisper gave less than this probability is marked for checking
_UNSURE = QColor(255, 196, 0, 70)
# Qt asks data() for every cell and role at each repaint: plain ints compare fastest.
_DISPLAY, _EDIT = int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.EditRole)
_TOOLTIP, _BACKGROUND = int(Qt.ItemDataRole.ToolTipRole), int(Qt.ItemDataRole.BackgroundRole)
_START, _END, _SPEAKER, _TEXT = range(4)
_FIXED = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
_EDITABLE = _FIXED | Qt.ItemFlag.ItemIsEditable


class Column(IntEnum):
    START = 0
    END = 1
    SPEAKER = 2
    TEXT = 3


_HEADERS = {Column.START: "Start", Column.END: "End", Column.SPEAKER: "Speaker",
            Column.TEXT: "Text"}  # fmt: skip


def clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:05.2f}"


def unsure_words(segment: Segment, threshold: float = LOW_CONFIDENCE) -> list[str]:
    return [word.text for word in segment.words if word.probability < threshold]


class SegmentTable(QAbstractTableModel):
    """Rows of start, end, speaker and text. Text and speaker are edited in place; every change
    (an edit, a split, a merge, a shift) goes through ``undo_stack``."""

    def __init__(self, segments: tuple[Segment, ...], undo_stack: QUndoStack) -> None:
        super().__init__()
        self.segments = list(segments)
        self.undo_stack = undo_stack
        self._index_rows()

    # --- Qt's model API ---------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self.segments)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else 4

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        # Rows have no header (it is hidden): only the columns are named.
        if orientation != Qt.Orientation.Horizontal or int(role) != _DISPLAY:
            return None
        return _HEADERS[Column(section)]

    def flags(self, index: Index) -> Qt.ItemFlag:
        return _EDITABLE if index.column() >= _SPEAKER else _FIXED

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        role = int(role)
        if role in (_DISPLAY, _EDIT):
            segment = self.segments[index.row()]
            column = index.column()
            if column == _TEXT:
                return segment.text
            if column == _SPEAKER:
                return segment.speaker
            return clock(segment.start if column == _START else segment.end)
        if role == _BACKGROUND:
            return _UNSURE if index.column() == _TEXT and self._unsure[index.row()] else None
        if role == _TOOLTIP and index.column() == _TEXT and self._unsure[index.row()]:
            return f"Check: {', '.join(unsure_words(self.segments[index.row()]))}"
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        row, segment = index.row(), self.segments[index.row()]
        if index.column() == Column.TEXT:
            if not str(value).split() or " ".join(str(value).split()) == segment.text:
                return False  # an emptied segment is deleted by merging, not by typing
            self.change(row, [segment], [with_text(segment, str(value))], "Edit text")
            return True
        if index.column() == Column.SPEAKER and str(value).strip() != segment.speaker:
            edited = dataclasses.replace(segment, speaker=str(value).strip())
            self.change(row, [segment], [edited], "Name speaker")
            return True
        return False

    # --- what the editor does ---------------------------------------------------------------

    def change(self, row: int, old: list[Segment], new: list[Segment], label: str) -> None:
        """Replace ``old`` (the rows from ``row``) with ``new``, as one undoable step."""
        self.undo_stack.push(ReplaceSegments(self, row, old, new, label))

    def row_at(self, seconds: float) -> int:
        """The row being spoken at ``seconds``: the last one that started by then."""
        return max(0, bisect.bisect_right(self._starts, seconds) - 1)

    def word_at(self, row: int, seconds: float) -> int:
        """The index of the word being spoken at ``seconds`` in ``row`` (-1 before the first)."""
        starts = [word.start for word in aligned_words(self.segments[row])]
        return bisect.bisect_right(starts, seconds) - 1

    def replace_rows(self, row: int, count: int, new: list[Segment]) -> None:
        """Swap ``count`` rows from ``row`` for ``new`` (the commands' one primitive)."""
        if count == len(new):
            self.segments[row : row + count] = new
            self.dataChanged.emit(self.index(row, 0), self.index(row + count - 1, len(Column) - 1))
        else:
            self.beginRemoveRows(QModelIndex(), row, row + count - 1)
            del self.segments[row : row + count]
            self.endRemoveRows()
            self.beginInsertRows(QModelIndex(), row, row + len(new) - 1)
            self.segments[row:row] = new
            self.endInsertRows()
        self._index_rows()

    def _index_rows(self) -> None:
        """What lookups and repaints need of every row, found once per change."""
        self._starts = [segment.start for segment in self.segments]
        self._unsure = [
            any(word.probability < LOW_CONFIDENCE for word in segment.words)
            for segment in self.segments
        ]


class ReplaceSegments(QUndoCommand):
    """Some consecutive rows become others: an edit (1 for 1), a split (1 for 2), a merge
    (n for 1), a shift (n for n)."""

    def __init__(
        self, table: SegmentTable, row: int, old: list[Segment], new: list[Segment], label: str
    ) -> None:
        super().__init__(label)
        self.table, self.row, self.old, self.new = table, row, old, new

    def redo(self) -> None:
        self.table.replace_rows(self.row, len(self.old), self.new)

    def undo(self) -> None:
        self.table.replace_rows(self.row, len(self.new), self.old)
