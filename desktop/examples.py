"""A dataset's examples as a table that loads page by page as it is scrolled."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from voxdesk.core.training.store import DatasetStore, Example, Status
from voxdesk.desktop.tables import RowsModel

PAGE = 200
COLUMNS = ("Id", "Status", "Origin", "Question", "Answer", "Note")
Index = QModelIndex | QPersistentModelIndex


def _last(example: Example, role: str) -> str:
    for message in reversed(example.messages):
        if message.get("role") == role:
            return " ".join(str(message.get("content") or "").split())
    if role == "assistant" and example.kind == "preference":
        preferred = example.record.get("preferred_output") or [{}]
        return " ".join(str(preferred[0].get("content") or "").split())
    return ""


class ExamplesModel(RowsModel):
    """Rows arrive in pages from the store (off the loop) when the view asks for more."""

    columns = COLUMNS

    def __init__(self, store: DatasetStore) -> None:
        super().__init__()
        self.store = store
        self.dataset: str | None = None
        self.status: Status | None = None
        self.search = ""
        self.rows: list[Example] = []  # loaded so far
        self.total = 0
        self._loading: asyncio.Task[None] | None = None
        # Each show() starts a generation; pages from an older one are dropped, and pages load
        # one at a time, so overlapping reloads and scrolls never duplicate rows.
        self._generation = 0
        self._page_lock = asyncio.Lock()

    async def show(
        self, dataset: str | None, status: Status | None = None, search: str = ""
    ) -> None:
        self._generation += 1
        generation = self._generation
        self.beginResetModel()
        self.dataset, self.status, self.search = dataset, status, search
        self.rows, self.total = [], 0
        self.endResetModel()
        if dataset is None:
            return
        total = await self.store.count(dataset, status=status, search=search or None)
        if generation == self._generation:
            self.total = total
            await self.load_more()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        example = self.rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return example
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        values = (example.id, example.status, example.origin, _last(example, "user"),
                  _last(example, "assistant"), example.note)  # fmt: skip
        return values[index.column()]

    def canFetchMore(self, parent: Index) -> bool:
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent: Index) -> None:
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self.load_more())

    async def load_more(self) -> None:
        generation = self._generation
        async with self._page_lock:
            if self.dataset is None or generation != self._generation:
                return
            last_id = self.rows[-1].id if self.rows else 0
            page = await self.store.examples(
                self.dataset, status=self.status, search=self.search or None,
                after_id=last_id, limit=PAGE,
            )  # fmt: skip
            if page and generation == self._generation:
                self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(page) - 1)
                self.rows.extend(page)
                self.endInsertRows()

    async def row_of(self, example_id: int) -> int | None:
        """The row showing ``example_id``, loading pages until it appears."""
        while True:
            for row, example in enumerate(self.rows):
                if example.id == example_id:
                    return row
            if len(self.rows) >= self.total:
                return None
            await self.load_more()

    def replace(self, example: Example) -> None:
        for row, current in enumerate(self.rows):
            if current.id == example.id:
                self.rows[row] = example
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
