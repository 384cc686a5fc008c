"""The portfolio pane: the filter box, the table of models and its empty states."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.common.resources import icon
from app.ui.common.signals import emit
from app.ui.common.widgets import EmptyState, row_table
from app.ui.portfolio.portfolio_model import COLUMN_OF_SORT, SORT_OF_COLUMN, Column, PortfolioModel

FILTER_PLACEHOLDER = "Filter by name, owner, team or risk tier"
# Typing pauses this long before the filter re-queries the cache.
FILTER_DELAY_MS = 200

_INITIAL_WIDTHS = {
    Column.MODEL: 200,
    Column.REGISTRY: 90,
    Column.LATEST_VERSION: 95,
    Column.ALIASES: 290,
    Column.OWNER: 190,
    Column.RISK_TIER: 85,
    Column.VERSIONS: 70,
    Column.LAST_UPDATED: 110,
}


class PortfolioView(QWidget):
    """Emits the cache key of the selected model (None when nothing is selected)."""

    model_selected = Signal(object)

    def __init__(self, model: PortfolioModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)

        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("PortfolioFilter")
        self.search.setPlaceholderText(FILTER_PLACEHOLDER)
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setToolTip(f"{FILTER_PLACEHOLDER} (Ctrl+F)")
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        top.addWidget(self.search, 1)
        top.addWidget(self.count_label)
        layout.addLayout(top)

        self.focus_filter_action = QAction("Filter models", self)
        self.focus_filter_action.setShortcut(QKeySequence.StandardKey.Find)
        self.focus_filter_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.focus_filter_action.triggered.connect(self.focus_filter)
        self.addAction(self.focus_filter_action)

        self.table = row_table(model, "PortfolioTable", widths=_INITIAL_WIDTHS.items())
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        # The indicator first: enabling sorting sorts by whatever it shows.
        sort, descending = model.sort_key
        header.setSortIndicator(
            COLUMN_OF_SORT[sort],
            Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder,
        )
        self.table.setSortingEnabled(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)

        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _: self._filter_timer.start())
        self.search.returnPressed.connect(self.apply_filter)

        self._pending_key: int | None = None
        self._last_sort = header.sortIndicatorSection(), header.sortIndicatorOrder()
        model.modelAboutToBeReset.connect(self._remember_selection)
        model.modelReset.connect(self._restore_selection)
        model.modelReset.connect(self._update_count)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

    # -- selection -------------------------------------------------------------------

    @property
    def selected_key(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.key_at(rows[0].row()) if rows else None

    def select_key(self, key: int | None) -> bool:
        row = None if key is None else self.model.row_of(key)
        selection = self.table.selectionModel()
        if row is None:
            selection.clearSelection()
            return False
        index = self.model.index(row, 0)
        selection.setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.EnsureVisible)
        return True

    def _remember_selection(self) -> None:
        self._pending_key = self.selected_key

    def _restore_selection(self) -> None:
        key, self._pending_key = self._pending_key, None
        if key is not None and not self.select_key(key):
            emit(self.model_selected, None)

    def _selection_changed(self) -> None:
        emit(self.model_selected, self.selected_key)

    # -- filter and sort ---------------------------------------------------------

    def focus_filter(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def apply_filter(self) -> None:
        self._filter_timer.stop()
        if self.search.text() != self.model.filter_text:
            self.model.set_filter(text=self.search.text())

    def _sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        if Column(column) not in SORT_OF_COLUMN:
            # Aliases have no order; put the indicator back where the data is.
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(*self._last_sort)
            header.blockSignals(False)
            return
        self._last_sort = column, order

    def sort_state(self) -> tuple[int, Qt.SortOrder]:
        return self._last_sort

    def restore_sort(self, column: int, order: Qt.SortOrder) -> None:
        if 0 <= column < len(Column) and Column(column) in SORT_OF_COLUMN:
            self.table.horizontalHeader().setSortIndicator(column, order)

    def _update_count(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n:,} model{'s' if n != 1 else ''}")

    def current_index(self) -> QModelIndex:
        return self.table.currentIndex()
