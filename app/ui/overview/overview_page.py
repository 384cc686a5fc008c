"""The Overview page's widgets: sections of figures, each a button that opens the list
behind it, and the table of registries and teams. Renders `domain.overview.Overview`;
reads nothing itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.overview import Drill, Figure, Overview
from app.ui.common.signals import emit
from app.ui.common.widgets import EmptyState, muted_label, section_title

# Figures per row in a section.
COLUMNS = 3


class FigureButton(QPushButton):
    """One figure: the number, what it counts, and a line of detail; a click opens its list."""

    opened = Signal(object)  # Drill

    def __init__(self, figure: Figure, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OverviewFigure")
        self.figure = figure
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 6, 12, 6)
        row.setSpacing(12)
        self.value = QLabel()
        self.value.setObjectName("OverviewValue")
        self.value.setMinimumWidth(44)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        words = QVBoxLayout()
        words.setSpacing(0)
        self.label = QLabel()
        self.label.setObjectName("OverviewLabel")
        words.addWidget(self.label)
        self.detail = QLabel()
        self.detail.setObjectName("OverviewDetail")
        self.detail.setWordWrap(True)
        words.addWidget(self.detail)
        row.addWidget(self.value)
        row.addLayout(words, 1)
        for child in (self.value, self.label, self.detail):
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.clicked.connect(lambda _=False: emit(self.opened, self.figure.drill))
        self.set_figure(figure)

    def set_figure(self, figure: Figure) -> None:
        """Show this figure (a refresh updates the buttons in place)."""
        self.figure = figure
        alarm = "true" if figure.alarm else "false"
        if self.property("alarm") != alarm:
            self.setProperty("alarm", alarm)
            for widget in (self, self.value, self.label, self.detail):
                widget.style().unpolish(widget)
                widget.style().polish(widget)
        self.value.setText(f"{figure.value:,}")
        self.label.setText(figure.label)
        self.detail.setText(figure.detail)
        self.detail.setVisible(bool(figure.detail))
        self.setMinimumHeight(64 if figure.detail else 44)
        self.setToolTip(f"Open the list: {figure.drill.title}. {figure.detail}".strip())
        self.setAccessibleName(f"{figure.label}: {figure.value}")


class OverviewPage(QWidget):
    """Emits the Drill of the figure (or team row) the user opened."""

    drill_requested = Signal(object)  # Drill

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: dict[str, FigureButton] = {}
        self.overview: Overview | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 8)
        head = QHBoxLayout()
        title = QLabel("Overview")
        title.setObjectName("OverviewTitle")
        self.as_of = muted_label()
        self.as_of.setWordWrap(False)
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.as_of)
        outer.addLayout(head)
        self.hint = muted_label(
            "Click any figure to open the list behind it. Highlighted figures need someone to act."
        )
        outer.addWidget(self.hint)

        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.body)
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(scroll)
        self.stack.addWidget(self.empty)
        outer.addWidget(self.stack, 1)

        # Parented now (hidden) so it is never a top-level window before the first build.
        self.teams = QTableWidget(0, 5, self.body)
        self.teams.hide()
        self.teams.setObjectName("OverviewTeams")
        self.teams.setHorizontalHeaderLabels(
            ["Registry", "Team", "Models", "In production by alias", "In production by stage"]
        )
        self.teams.verticalHeader().hide()
        self.teams.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.teams.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.teams.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.teams.cellActivated.connect(self._team_opened)
        self.teams.cellClicked.connect(self._team_opened)
        self.teams.setToolTip("Click a row to list that team's models in the portfolio")
        self._team_drills: list[Drill] = []
        self.set_loading()

    # -- states ----------------------------------------------------------------------

    def set_loading(self) -> None:
        if self.overview is None:
            self.empty.set_content("Reading the portfolio…", "")
            self.stack.setCurrentWidget(self.empty)

    def set_error(self, text: str) -> None:
        self.as_of.setText(f"Could not read: {text}")
        if self.overview is None:
            self.empty.set_content("The overview could not be read", text)
            self.stack.setCurrentWidget(self.empty)

    def show_overview(
        self, overview: Overview, empty_actions: list[tuple[str, Callable[[], None]]]
    ) -> None:
        self.overview = overview
        when = overview.as_of
        self.as_of.setText(f"As of {_local(when)}, from this computer's cache and ledger")
        if overview.models == 0:
            if [f.key for f in overview.figures] != list(self.buttons):
                # Built now, behind the empty state: a hundred styled widgets take tens of
                # milliseconds on the GUI thread, which the first sync's refresh should
                # not pay (its figures then only update in place).
                self._build(overview)
            self.empty.set_content(
                "No model in the cache yet",
                "The overview counts the models of the registries Gavel has synced. Add a "
                "registry (or start the demo) and sync it; the figures appear here.",
                empty_actions,
            )
            self.stack.setCurrentWidget(self.empty)
            return
        if [f.key for f in overview.figures] == list(self.buttons):
            for figure in overview.figures:
                self.buttons[figure.key].set_figure(figure)
            self._fill_teams(overview)
        else:
            self._build(overview)
        self.stack.setCurrentIndex(0)

    def _build(self, overview: Overview) -> None:
        while self.body_layout.count():
            item = self.body_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.teams:
                widget.hide()
                widget.deleteLater()
        self.buttons = {}
        for section, figures in overview.sections():
            self.body_layout.addWidget(section_title(section))
            grid_host = QWidget()
            grid = QGridLayout(grid_host)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setHorizontalSpacing(10)
            grid.setVerticalSpacing(8)
            for i, figure in enumerate(figures):
                button = FigureButton(figure)
                button.clicked.connect(
                    lambda _=False, d=figure.drill: emit(self.drill_requested, d)
                )
                self.buttons[figure.key] = button
                grid.addWidget(button, i // COLUMNS, i % COLUMNS)
            for c in range(COLUMNS):
                grid.setColumnStretch(c, 1)
            self.body_layout.addWidget(grid_host)
        self.body_layout.addWidget(section_title("By registry and team"))
        self._fill_teams(overview)
        self.body_layout.addWidget(self.teams)
        self.teams.show()
        self.body_layout.addStretch(1)
        # Styled now rather than when first shown (the style sheet's polish is most of
        # the cost): the refresh that shows them stays a short turn of the event loop.
        for widget in self.body.findChildren(QWidget):
            widget.ensurePolished()

    def _fill_teams(self, overview: Overview) -> None:
        self.teams.setRowCount(len(overview.teams))
        self._team_drills = [t.drill for t in overview.teams]
        for r, t in enumerate(overview.teams):
            cells = (t.registry, t.team, t.models, t.by_alias, t.by_stage)
            for c, value in enumerate(cells):
                item = QTableWidgetItem(f"{value:,}" if isinstance(value, int) else str(value))
                if isinstance(value, int):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.teams.setItem(r, c, item)
        height = self.teams.horizontalHeader().height() + 4
        height += sum(self.teams.rowHeight(r) for r in range(self.teams.rowCount()))
        self.teams.setFixedHeight(min(height, 320))

    def _team_opened(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._team_drills):
            emit(self.drill_requested, self._team_drills[row])


def _local(when: datetime | None) -> str:
    if when is None:
        return "—"
    return when.astimezone().strftime("%Y-%m-%d %H:%M")
