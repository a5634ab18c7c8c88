"""What every table here shares: a model of rows under named columns, and its view."""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

Index = QModelIndex | QPersistentModelIndex


class RowsModel(QAbstractTableModel):
    """Subclasses set ``columns`` and keep ``rows``; they only say how a cell reads."""

    columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # fmt: skip
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None


def row_table(model: QAbstractItemModel, selection: QAbstractItemView.SelectionMode) -> QTableView:
    """A view that selects whole rows of ``model`` and numbers none of them."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(selection)
    table.verticalHeader().hide()
    fit_new_rows(table)
    return table


def fit_new_rows(table: QTableView) -> None:
    """Columns sized to their contents are sized again as rows arrive: Qt sizes them when a
    model is reset, not when rows are added to it, so a dataset's first page read 'appr…'
    under 'Status' (a proxy model's relayout hid this from the feed)."""
    header = table.horizontalHeader()

    def fit() -> None:
        for column in range(header.count()):
            if header.sectionResizeMode(column) == QHeaderView.ResizeMode.ResizeToContents:
                table.resizeColumnToContents(column)

    table.model().rowsInserted.connect(lambda *_: fit())


def fit_columns(table: QTableView, stretch: int) -> None:
    """Every column as wide as its contents, but column ``stretch`` takes what is left and
    shortens its long names (ids, model names) in the middle, where they differ least."""
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.setWordWrap(False)
