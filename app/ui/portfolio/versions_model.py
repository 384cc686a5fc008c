"""The versions of one model, for the detail panel (a small in-memory list)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.domain.portfolio import VersionRow
from app.presentation.formatting import from_ms, local_text, utc_text
from app.ui.common.row_list_model import RowListModel
from app.ui.common.theme import semantic

AnyIndex = QModelIndex | QPersistentModelIndex


class VersionColumn(IntEnum):
    VERSION = 0
    STATUS = 1
    ALIASES = 2
    CREATOR = 3
    RUN = 4
    CREATED = 5


_TITLES = {
    VersionColumn.VERSION: "Version",
    VersionColumn.STATUS: "Status",
    VersionColumn.ALIASES: "Aliases",
    VersionColumn.CREATOR: "Created by",
    VersionColumn.RUN: "Source run",
    VersionColumn.CREATED: "Created",
}

# MLflow's version status: READY is the normal case, the others need a look.
_STATUS_TEXT = {
    "READY": "Ready",
    "PENDING_REGISTRATION": "Pending registration",
    "FAILED_REGISTRATION": "Failed registration",
}


class VersionsModel(RowListModel[VersionRow]):
    def __init__(self, parent: Any = None) -> None:
        super().__init__([_TITLES[c] for c in VersionColumn], parent)

    def set_versions(self, versions: Sequence[VersionRow]) -> None:
        self._reset(versions)

    def version_at(self, row: int) -> VersionRow | None:
        return self._row(row)

    def row_of_version(self, version: int) -> int | None:
        for row, v in enumerate(self._rows):
            if v.version == version:
                return row
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        version = self.version_at(index.row()) if index.isValid() else None
        if version is None:
            return None
        column = VersionColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(version, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == VersionColumn.RUN:
                return version.run_id or f"Not from a tracked run. Source: {version.source}"
            if column == VersionColumn.CREATOR and not version.user_id:
                return "The registry did not record who registered this version."
            if column == VersionColumn.CREATED:
                when = from_ms(version.creation_timestamp)
                return None if when is None else utc_text(when)
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == VersionColumn.STATUS and version.status not in ("", "READY"):
                return QColor(semantic().warn)
            if column == VersionColumn.ALIASES and version.aliases:
                return QColor(semantic().ok)
        return None

    @staticmethod
    def _display(v: VersionRow, column: VersionColumn) -> str:
        match column:
            case VersionColumn.VERSION:
                return f"v{v.version}"
            case VersionColumn.STATUS:
                status = _STATUS_TEXT.get(v.status, v.status.replace("_", " ").capitalize())
                if v.current_stage and v.current_stage != "None":
                    status = f"{status} · {v.current_stage}"
                return status
            case VersionColumn.ALIASES:
                return ", ".join(v.aliases)
            case VersionColumn.CREATOR:
                return v.user_id or "—"
            case VersionColumn.RUN:
                return v.run_id[:12] if v.run_id else "—"
            case VersionColumn.CREATED:
                when = from_ms(v.creation_timestamp)
                return "" if when is None else local_text(when)
