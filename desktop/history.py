"""Transcripts made in the window, newest first, kept across restarts (a Qt list model)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from voxdesk.core.stt import Transcript
from voxdesk.core.stt.formats import from_dict

log = logging.getLogger(__name__)
MAX_ENTRIES = 500
Index = QModelIndex | QPersistentModelIndex


@dataclasses.dataclass(frozen=True)
class Entry:
    source: str
    at: str
    transcript: Transcript

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

    def add(self, source: str, transcript: Transcript) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self.entries.insert(0, Entry(source, datetime.now(UTC).isoformat(), transcript))
        del self.entries[MAX_ENTRIES:]
        self.endInsertRows()
        self._save()

    def _load(self) -> list[Entry]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [Entry(e["source"], e["at"], from_dict(e["transcript"])) for e in raw]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("Transcript history %s could not be read (%s); starting afresh",
                        self.path, error)  # fmt: skip
            return []

    def _save(self) -> None:
        data = [dataclasses.asdict(entry) for entry in self.entries]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".transcripts-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        Path(temp).replace(self.path)
