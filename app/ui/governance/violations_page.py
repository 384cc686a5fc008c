"""The Violations page: alias moves no approved promotion explains, as the ledger
recorded them when a sync saw them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.presentation.formatting import utc_text
from app.presentation.ledger_text import version_text
from app.services.governance_inbox import GovernanceData
from app.services.observations import Violation
from app.ui.common.resources import icon
from app.ui.common.row_list_model import RowListModel
from app.ui.common.signals import emit
from app.ui.common.theme import semantic
from app.ui.common.widgets import EmptyState, row_table
from app.ui.governance.governance_controller import GovernanceController

AnyIndex = QModelIndex | QPersistentModelIndex

VIOLATION_TIP = "Alias moved without an approved request"


class ViolationColumn(IntEnum):
    MODEL = 0
    REGISTRY = 1
    ALIAS = 2
    CHANGE = 3
    WHEN = 4
    OBSERVED_BY = 5
    EVENT = 6


_TITLES = ("Model", "Registry", "Alias", "Before → after", "Seen (UTC)", "Observed by", "Event")


class ViolationsModel(RowListModel[Violation]):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(_TITLES, parent)

    def set_violations(self, violations: Sequence[Violation]) -> None:
        self._reset(violations)

    def violation_at(self, row: int) -> Violation | None:
        return self._row(row)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        v = self.violation_at(index.row()) if index.isValid() else None
        if v is None:
            return None
        column = ViolationColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            match column:
                case ViolationColumn.MODEL:
                    return v.model
                case ViolationColumn.REGISTRY:
                    return v.registry
                case ViolationColumn.ALIAS:
                    return f"stage of {version_text(v.after)}" if v.is_stage else v.alias
                case ViolationColumn.CHANGE:
                    if v.is_stage:
                        return f"{v.stage_before or 'no stage'} → {v.stage_after or 'no stage'}"
                    return f"{version_text(v.before)} → {version_text(v.after)}"
                case ViolationColumn.WHEN:
                    return utc_text(v.at).removesuffix(" UTC")
                case ViolationColumn.OBSERVED_BY:
                    return v.observed_by
                case ViolationColumn.EVENT:
                    return str(v.seq)
        if role == Qt.ItemDataRole.ToolTipRole:
            return v.describe()
        if role == Qt.ItemDataRole.DecorationRole and column == ViolationColumn.MODEL:
            return icon("warning")
        if role == Qt.ItemDataRole.ForegroundRole and column == ViolationColumn.CHANGE:
            return QColor(semantic().error)
        return None


class ViolationsPage(QWidget):
    show_event_requested = Signal(int)  # ledger seq
    show_model_requested = Signal(str, str)  # registry, model

    def __init__(self, controller: GovernanceController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        intro = QLabel(
            "Each row is an alias change a sync saw in a registry that no approved "
            "promotion request explains: someone moved it directly, around the approval "
            "workflow. They stay on record in the audit ledger."
        )
        intro.setObjectName("Muted")
        intro.setWordWrap(True)
        self.model = ViolationsModel(self)
        self.table = row_table(
            self.model,
            "ViolationsTable",
            widths=((0, 220), (1, 110), (2, 120), (3, 120), (4, 160), (5, 120)),
        )
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.show_event_button = QPushButton("Show in audit trail")
        self.show_event_button.clicked.connect(self._show_event)
        self.show_model_button = QPushButton("Show model")
        self.show_model_button.clicked.connect(self._show_model)
        actions = QHBoxLayout()
        actions.addWidget(self.description, 1)
        actions.addWidget(self.show_event_button)
        actions.addWidget(self.show_model_button)
        listing = QWidget()
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.addWidget(intro)
        listing_layout.addWidget(self.table, 1)
        listing_layout.addLayout(actions)
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(listing)
        self.stack.addWidget(self.empty)
        self.listing = listing
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self._show_event())
        controller.changed.connect(self._data_changed)
        self._data_changed(controller.data)

    def badge(self) -> int | None:
        data = self.controller.data
        return len(data.violations) if data.loaded else None

    @property
    def selected(self) -> Violation | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.violation_at(rows[0].row()) if rows else None

    def _data_changed(self, data: GovernanceData) -> None:
        keep = self.selected.seq if self.selected else None
        self.model.set_violations(data.violations)
        if self.model.rowCount():
            self.stack.setCurrentWidget(self.listing)
            rows = [i for i, v in enumerate(data.violations) if v.seq == keep]
            self.table.selectRow(rows[0] if rows else 0)
        else:
            self.stack.setCurrentWidget(self.empty)
            if not data.loaded:
                self.empty.set_content("Reading the audit ledger…", "")
            else:
                self.empty.set_content(
                    "No violations observed",
                    "Every alias change Gavel has seen was made by an approved promotion "
                    "request. A change made directly in a registry shows here after the "
                    "next sync.",
                )
        self._selection_changed()

    def _selection_changed(self) -> None:
        v = self.selected
        self.description.setText(v.describe() if v else "")
        self.show_event_button.setEnabled(v is not None)
        self.show_model_button.setEnabled(v is not None)
        if v is not None:
            self.show_event_button.setText(f"Show event {v.seq} in audit trail")

    def _show_event(self) -> None:
        if self.selected is not None:
            emit(self.show_event_requested, self.selected.seq)

    def _show_model(self) -> None:
        if self.selected is not None:
            emit(self.show_model_requested, self.selected.registry, self.selected.model)
