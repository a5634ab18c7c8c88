"""Transcripts made in the window, newest first, kept across restarts (a Qt list model).

A history file that cannot be read (edited by hand into nonsense, cut off) is never written
over: the entries that can be read are kept, the file as it was is set aside, and ``problem``
says so in one line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import platformdirs
import pydantic
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from voxdesk.core.stt import Transcript

log = logging.getLogger(__name__)
MAX_ENTRIES = 500
Index = QModelIndex | QPersistentModelIndex


@dataclasses.dataclass(frozen=True)
class Entry:
    source: str
    at: str
    transcript: Transcript
    audio: str = ""  # the file it was made from, for playback in the editor ("" if none)

    @property
    def title(self) -> str:
        preview = " ".join(self.transcript.text.split())[:60] or "(no speech)"
        return f"{self.source} — {preview}"


def default_history_path() -> Path:
    return platformdirs.user_data_path("voxdesk") / "transcripts.json"


class TranscriptHistory(QAbstractListModel):
    TranscriptRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path or default_history_path()
        self.problem: str | None = None  # why the file could not be read, in one line
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="history")  # in order
        self._written: Future[None] | None = None
        self.entries: list[Entry] = self._load()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{entry.at[:19]} · {entry.transcript.engine} · {entry.transcript.language}"
        if role == self.TranscriptRole:
            return entry
        return None

    def add(self, source: str, transcript: Transcript, audio: Path | None = None) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        at = datetime.now(UTC).isoformat()
        self.entries.insert(0, Entry(source, at, transcript, str(audio or "")))
        del self.entries[MAX_ENTRIES:]
        self.endInsertRows()
        self.flush()
        _write(self.path, list(self.entries))

    def replace(self, entry: Entry, transcript: Transcript) -> Entry:
        """The entry with an edited transcript, saved (in a worker thread: a long transcript
        takes a while to write). Returns the new entry."""
        edited = dataclasses.replace(entry, transcript=transcript)
        row = next((row for row, kept in enumerate(self.entries) if kept.at == entry.at), None)
        if row is None:  # pushed out of the history while it was edited: back in at the top
            self.beginInsertRows(QModelIndex(), 0, 0)
            self.entries.insert(0, edited)
            self.endInsertRows()
        else:
            self.entries[row] = edited
            self.dataChanged.emit(self.index(row), self.index(row))
        # a plain function, not a bound method: the writer must hold no reference to this model,
        # or the model's last one could be dropped there and Qt would destroy it off its thread
        self._written = self._writer.submit(_write, self.path, list(self.entries))
        return edited

    def flush(self) -> None:
        """Wait for the last save to be written."""
        if self._written is not None:
            self._written.result()

    def _load(self) -> list[Entry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            return self._unreadable(f"it is not JSON ({error})", [])
        if not isinstance(raw, list):
            return self._unreadable("it holds no list of transcripts", [])
        entries: list[Entry] = []
        problems: list[str] = []
        for number, item in enumerate(raw, start=1):
            try:
                entries.append(_ENTRY.validate_python(item))
            except pydantic.ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                problems.append(f"entry {number}: {where}: {first['msg']}")
        if not problems:
            return entries
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        return self._unreadable(problems[0] + more, entries)

    def _unreadable(self, why: str, entries: list[Entry]) -> list[Entry]:
        """Keep what was read, set the file aside untouched and say so in one line."""
        kept = self.path.with_name(
            f"{self.path.stem}.unreadable-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
        )
        shutil.copy2(self.path, kept)
        self.problem = (
            f"The transcript history could not all be read ({why}): {len(entries)} transcripts "
            f"kept; the file as it was is saved as {kept} (mend it there to recover the rest)."
        )
        log.warning("%s", self.problem)
        return entries


_ENTRY = pydantic.TypeAdapter(Entry)


def _write(path: Path, entries: list[Entry]) -> None:
    # orjson writes dataclasses itself, many times faster than asdict and json: a long
    # transcript's words would otherwise hold the GIL, and stall the window, for a while.
    # Times and probabilities from faster-whisper are numpy scalars.
    data = orjson.dumps(entries, option=orjson.OPT_SERIALIZE_NUMPY)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".transcripts-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    Path(temp).replace(path)
