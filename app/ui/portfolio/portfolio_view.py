"""The portfolio pane: the filter box, the table of models and its empty states."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.ui.common.resources import icon
from app.ui.common.signals import emit
from app.ui.common.widgets import EmptyState, row_table
from app.ui.portfolio.portfolio_model import COLUMN_OF_SORT, SORT_OF_COLUMN, Column, PortfolioModel

FILTER_PLACEHOLDER = "Filter by name, owner, team or risk tier"
ALL_TEAMS = "All teams"
NO_TEAM = "No team"
# Typing pauses this long before the filter re-queries the cache.
FILTER_DELAY_MS = 200

_INITIAL_WIDTHS = {
    Column.MODEL: 200,
    Column.REGISTRY: 90,
    Column.LATEST_VERSION: 95,
    Column.ALIASES: 290,
    Column.OWNER: 150,
    Column.TEAM: 110,
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
        self.team_box = QComboBox()
        self.team_box.setObjectName("PortfolioTeam")
        self.team_box.setToolTip("Show one team's models (the 'team' tag in the registry)")
        self.team_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.team_box.addItem(ALL_TEAMS, None)
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        top.addWidget(self.search, 1)
        top.addWidget(self.team_box)
        top.addWidget(self.count_label)
        layout.addLayout(top)

        # The list behind an overview figure: says what is shown, and how to see all.
        self.scope_bar = QWidget()
        self.scope_bar.setObjectName("PortfolioScope")
        scope = QHBoxLayout(self.scope_bar)
        scope.setContentsMargins(0, 0, 0, 0)
        self.scope_label = QLabel()
        self.scope_label.setObjectName("ScopeLabel")
        self.scope_label.setWordWrap(True)
        self.scope_clear = QPushButton("Show all models")
        self.scope_clear.setObjectName("ScopeClear")
        scope.addWidget(self.scope_label, 1)
        scope.addWidget(self.scope_clear)
        self.scope_bar.hide()
        layout.addWidget(self.scope_bar)
        self.scope_clear.clicked.connect(self.clear_scope)
        self.team_box.currentIndexChanged.connect(self._team_chosen)

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

    # -- team and scope ------------------------------------------------------------

    def set_teams(self, teams: list[str]) -> None:
        """The teams to choose from (keeps the chosen one while it still exists)."""
        chosen = self.team_box.currentData()
        self.team_box.blockSignals(True)
        self.team_box.clear()
        self.team_box.addItem(ALL_TEAMS, None)
        for team in teams:
            self.team_box.addItem(team or NO_TEAM, team)
        index = self.team_box.findData(chosen) if chosen is not None else 0
        self.team_box.setCurrentIndex(max(0, index))
        self.team_box.blockSignals(False)
        if self.team_box.currentData() != self.model.team:
            self.model.set_team(self.team_box.currentData())

    def choose_team(self, team: str | None) -> None:
        index = self.team_box.findData(team) if team is not None else 0
        self.team_box.setCurrentIndex(max(0, index))

    def _team_chosen(self, _index: int) -> None:
        team = self.team_box.currentData()
        if team != self.model.team:
            self.model.set_team(team)

    def show_scope(self, title: str, models: tuple[tuple[str, str], ...]) -> None:
        """Only these models, with a bar saying which list this is."""
        self.model.set_only(models)
        n = len(models)
        self.scope_label.setText(
            f"<b>{title}</b> — {n} model{'s' if n != 1 else ''}, from the overview."
        )
        self.scope_bar.show()

    def clear_scope(self) -> None:
        self.scope_bar.hide()
        if self.model.only is not None:
            self.model.set_only(None)

    def _update_count(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(f"{n:,} model{'s' if n != 1 else ''}")

    def current_index(self) -> QModelIndex:
        return self.table.currentIndex()
