"""The transcript editor: segments in a table, the words of the one being played, playback.

Every change is a command on one undo stack; a moment after the last one, the edited transcript
is saved in the history, so the Record page's export and copy use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import cast

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from voxdesk.core.audio import Pcm
from voxdesk.core.audio.playback import PlaybackStream
from voxdesk.core.errors import VoxdeskError, user_message
from voxdesk.core.services import Services
from voxdesk.core.stt import Transcript
from voxdesk.core.stt.formats import CueLimits, OutputFormat, render
from voxdesk.core.stt.words import merge, shifted, split, with_segments
from voxdesk.desktop.actions import StatusLine
from voxdesk.desktop.editor.model import Column, SegmentTable
from voxdesk.desktop.editor.player import AudioOutput, Player
from voxdesk.desktop.editor.words import WordView
from voxdesk.desktop.history import Entry, TranscriptHistory

SAVE_AFTER_MS = 500  # typing several edits in a row saves once
EXPORT_FILTERS = ("SubRip subtitles (*.srt);;WebVTT subtitles (*.vtt);;JSON, with each word's "
                  "time and probability (*.json);;Text (*.txt)")  # fmt: skip


class TranscriptEditor(QWidget):
    """A window editing one history entry; ``output`` plays its audio (a sound card, or a fake)."""

    def __init__(
        self,
        history: TranscriptHistory,
        entry: Entry,
        output: Callable[[Pcm], AudioOutput] = PlaybackStream,
    ) -> None:
        super().__init__()
        self.history, self.entry = history, entry
        self._output = output
        self.setWindowTitle(f"Edit transcript — {entry.source}")
        self.undo_stack = QUndoStack(self)
        self.table = SegmentTable(entry.transcript.segments, self.undo_stack)
        self.player = Player()
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_AFTER_MS)
        self._save_timer.timeout.connect(self.save)
        self._build()
        self._connect()
        self.resize(900, 640)

    # --- building -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.status = StatusLine(
            "Double-click a text to edit it; click a row or a word to play from there."
        )
        self.view = QTableView()
        self.view.setModel(self.table)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)  # rows of one line keep a 2-hour transcript fast to scroll
        rows = self.view.verticalHeader()
        rows.setDefaultSectionSize(24)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.hide()  # sizing 1,500 row numbers costs more than the numbers are worth
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(Column.TEXT, QHeaderView.ResizeMode.Stretch)
        for column, width in ((Column.START, 90), (Column.END, 90), (Column.SPEAKER, 90)):
            self.view.setColumnWidth(column, width)
        self.words = WordView()
        layout = QVBoxLayout(self)
        layout.addLayout(self._toolbar())
        layout.addWidget(self.view, 1)
        layout.addWidget(self.words)
        layout.addLayout(self._export_row())
        layout.addWidget(self.status)

    def _toolbar(self) -> QHBoxLayout:
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Play or pause (Ctrl+Space)")
        self.play_button.setEnabled(False)  # until the audio is loaded
        self.undo_button, self.redo_button = QPushButton("Undo"), QPushButton("Redo")
        self.split_button = QPushButton("Split")
        self.split_button.setToolTip("Cut the selected segment before the word being played")
        self.merge_button = QPushButton("Merge")
        self.merge_button.setToolTip("Join the selected segments (or one with the next)")
        self.shift_seconds = QDoubleSpinBox(minimum=-3600, maximum=3600, decimals=2, suffix=" s")
        self.shift_seconds.setSingleStep(0.1)
        self.shift_button = QPushButton("Shift")
        self.shift_button.setToolTip("Move the selected segments (all, if none) by this much")
        self.search = QLineEdit(placeholderText="Search… (Enter for the next)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(220)  # its placeholder whole, not "Search… (Enter f…"
        self.matches = QLabel()
        bar = QHBoxLayout()
        for widget in (self.play_button, self.undo_button, self.redo_button, self.split_button,
                       self.merge_button, self.shift_seconds, self.shift_button):  # fmt: skip
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.search)
        bar.addWidget(self.matches)
        return bar

    def _export_row(self) -> QHBoxLayout:
        """Subtitle limits and the export of the transcript as it is now."""
        self.line_length = QSpinBox(minimum=0, maximum=200, value=42, suffix=" characters")
        self.line_length.setSpecialValueText("any length")
        self.cue_seconds = QDoubleSpinBox(minimum=0, maximum=60, value=7, decimals=1, suffix=" s")
        self.cue_seconds.setSpecialValueText("any time")
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(lambda: self.export())
        row = QHBoxLayout()
        row.addWidget(QLabel("Subtitles: lines of at most"))
        row.addWidget(self.line_length)
        row.addWidget(QLabel("two a cue, cues of at most"))
        row.addWidget(self.cue_seconds)
        row.addStretch(1)
        row.addWidget(self.export_button)
        return row

    def _connect(self) -> None:
        self.play_button.clicked.connect(self.player.toggle)
        QShortcut(QKeySequence("Ctrl+Space"), self, self.player.toggle)
        self.undo_button.clicked.connect(self.undo_stack.undo)
        self.redo_button.clicked.connect(self.undo_stack.redo)
        QShortcut(QKeySequence.StandardKey.Undo, self, self.undo_stack.undo)
        QShortcut(QKeySequence.StandardKey.Redo, self, self.undo_stack.redo)
        self.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        self.undo_stack.indexChanged.connect(self._edited)
        self.split_button.clicked.connect(self.split_current)
        self.merge_button.clicked.connect(self.merge_selected)
        self.shift_button.clicked.connect(lambda: self.shift_selected(self.shift_seconds.value()))
        self.search.returnPressed.connect(self.find_next)
        self.search.textChanged.connect(self._count_matches)
        self.view.clicked.connect(self._row_clicked)
        self.view.selectionModel().currentRowChanged.connect(self._show_words)
        self.words.wordClicked.connect(self.player.seek)
        self.player.positionChanged.connect(self._follow)
        self.player.playingChanged.connect(
            lambda playing: self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
        )
        self.player.failed.connect(lambda why: self.status.say(why, error=True))

    # --- audio ----------------------------------------------------------------------------------

    async def load_audio(self, services: Services) -> None:
        """Decode the file the transcript was made from, so that it can be played."""
        if not self.entry.audio:
            self.status.say("No audio to play: this transcript was not made from a file.")
            return
        try:
            audio = await services.speech.decode(Path(self.entry.audio), name=self.entry.source)
        except VoxdeskError as error:
            self.status.say(f"The audio cannot be played: {user_message(error)}", error=True)
            return
        self.use_audio(audio)

    def use_audio(self, audio: Pcm) -> None:
        self.player.set_output(self._output(audio))
        self.play_button.setEnabled(True)

    # --- following playback ---------------------------------------------------------------------

    def _row_clicked(self, index: QModelIndex) -> None:
        self.player.seek(self.table.segments[index.row()].start)

    def _follow(self, seconds: float) -> None:
        """Select the row being played and highlight its word."""
        if not self.table.segments:
            return
        row = self.table.row_at(seconds)
        editing = self.view.state() == QAbstractItemView.State.EditingState
        if self.view.currentIndex().row() != row and not editing:  # typing is not cut short
            self.view.setCurrentIndex(self.table.index(row, Column.TEXT))
            self.view.scrollTo(self.table.index(row, Column.TEXT))
        self.words.show_segment(self.table.segments[row], self.table.word_at(row, seconds))

    def _show_words(self, current: QModelIndex) -> None:
        if not current.isValid():
            self.words.show_segment(None)
            return
        row, position = current.row(), self.player.position
        playing = self.table.word_at(row, position) if self.table.row_at(position) == row else -1
        self.words.show_segment(self.table.segments[row], playing)

    # --- editing --------------------------------------------------------------------------------

    def split_current(self) -> None:
        """Cut the current segment before the word being played (or in the middle)."""
        row = self.view.currentIndex().row()
        if row < 0:
            self.status.say("Select a segment to split.", error=True)
            return
        segment, position = self.table.segments[row], self.player.position
        word = self.table.word_at(row, position) if self.table.row_at(position) == row else 0
        count = len(segment.text.split())
        try:
            parts = split(segment, word if 0 < word < count else count // 2)
        except ValueError:
            self.status.say("A segment of one word cannot be split.", error=True)
            return
        self.table.change(row, [segment], list(parts), "Split")

    def merge_selected(self) -> None:
        """Join the selected rows into one; a single selected row joins the next."""
        rows = self._selected_rows()
        if len(rows) == 1 and rows[0] + 1 < len(self.table.segments):
            rows.append(rows[0] + 1)
        if len(rows) < 2 or rows != list(range(rows[0], rows[-1] + 1)):
            self.status.say("Select neighbouring segments to merge.", error=True)
            return
        old = self.table.segments[rows[0] : rows[-1] + 1]
        merged = old[0]
        for segment in old[1:]:
            merged = merge(merged, segment)
        self.table.change(rows[0], old, [merged], "Merge")
        self.view.setCurrentIndex(self.table.index(rows[0], Column.TEXT))

    def shift_selected(self, seconds: float) -> None:
        """Move the selected rows (every row when none is) later, or earlier if negative."""
        rows = self._selected_rows() or list(range(len(self.table.segments)))
        if not rows or not seconds:
            return
        first, last = rows[0], rows[-1]
        old = self.table.segments[first : last + 1]
        new = [shifted(s, seconds) if first + n in rows else s for n, s in enumerate(old)]
        self.table.change(first, old, new, f"Shift {seconds:+.2f} s")

    def _selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.view.selectionModel().selectedRows())

    # --- search ---------------------------------------------------------------------------------

    def find_next(self) -> None:
        """Select the next segment after the current one holding the search text."""
        rows = self._matching_rows()
        if not rows:
            self.status.say(f"'{self.search.text()}' is not in the transcript.", error=True)
            return
        current = self.view.currentIndex().row()
        row = next((row for row in rows if row > current), rows[0])  # wraps around
        index = self.table.index(row, Column.TEXT)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )  # fmt: skip
        self.view.scrollTo(index)
        self.matches.setText(f"{rows.index(row) + 1} of {len(rows)}")

    def _matching_rows(self) -> list[int]:
        wanted = self.search.text().strip().casefold()
        if not wanted:
            return []
        return [row for row, s in enumerate(self.table.segments) if wanted in s.text.casefold()]

    def _count_matches(self) -> None:
        found = len(self._matching_rows())
        self.matches.setText(f"{found} found" if self.search.text().strip() else "")

    # --- saving ---------------------------------------------------------------------------------

    def _edited(self) -> None:
        current = self.view.currentIndex()
        self._show_words(current)
        self._save_timer.start()

    def save(self) -> None:
        """Keep the edits in the history (the Record page exports and copies them)."""
        self._save_timer.stop()
        if self.undo_stack.isClean():
            return
        self.entry = self.history.replace(self.entry, self.transcript())
        self.undo_stack.setClean()

    def transcript(self) -> Transcript:
        """The transcript as edited so far."""
        return with_segments(self.entry.transcript, tuple(self.table.segments))

    def export(self, path: Path | None = None) -> None:
        """Write the edited transcript; subtitles are cut between words to the limits."""
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self, "Export transcript", Path(self.entry.source).stem, EXPORT_FILTERS
            )
            if not name:
                return
            path = Path(name)
        suffix = path.suffix.lstrip(".").lower()
        fmt = cast(OutputFormat, suffix if suffix in ("txt", "srt", "vtt", "json") else "txt")
        limits = CueLimits(self.line_length.value() or None, self.cue_seconds.value() or None)
        try:
            path.write_text(render(self.transcript(), fmt, limits), encoding="utf-8")
        except OSError as error:
            self.status.say(f"Not exported: {error.strerror or error} ({path}).", error=True)
            return
        self.status.say(f"Exported to {path}.")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.pause()
        self.save()
        super().closeEvent(event)


def open_editor(services: Services, history: TranscriptHistory, entry: Entry) -> TranscriptEditor:
    """A window editing ``entry``, its audio loading in the background."""
    editor = TranscriptEditor(history, entry)
    editor.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    # Shown on the loop's next turn: making and laying out a long transcript's window in one
    # turn would stall the loop (and the bot on it) longer than a frame.
    asyncio.get_running_loop().call_soon(editor.show)
    task = asyncio.ensure_future(editor.load_audio(services))
    editor.destroyed.connect(lambda: task.cancel())
    return editor
