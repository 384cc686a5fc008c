"""A small in-memory list of rows shown as a table: the shape every little table in
the console shares (timeline, violations, alias moves, versions).

Subclasses pass their column titles and say what each cell shows in `data`; big
tables (portfolio, audit trail) hold ids and fetch rows lazily instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

AnyIndex = QModelIndex | QPersistentModelIndex
R = TypeVar("R")


class TitledTableModel(QAbstractTableModel):
    """Column titles (with optional header tooltips) and read-only, selectable rows.

    Subclasses provide rowCount and data.
    """

    def __init__(
        self, titles: Sequence[str], parent: Any = None, tips: Sequence[str | None] = ()
    ) -> None:
        super().__init__(parent)
        self._titles = tuple(titles)
        self._tips = tuple(tips)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._titles)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._titles):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._titles[section]
        if role == Qt.ItemDataRole.ToolTipRole and section < len(self._tips):
            return self._tips[section]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )


class RowListModel(TitledTableModel, Generic[R]):
    """A TitledTableModel over a plain list of rows of one type (R)."""

    def __init__(self, titles: Sequence[str], parent: Any = None) -> None:
        super().__init__(titles, parent)
        self._rows: list[R] = []

    def _reset(self, rows: Sequence[R]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def _row(self, row: int) -> R | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)
