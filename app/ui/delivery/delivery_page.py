"""The Delivery page: headline figures, two charts and a table per measure, for a team
and a period, computed on a worker; each table exports to CSV."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.delivery import DeliveryFilter, DeliveryReport
from app.domain.delivery_tables import Table, hours, tables
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.services.delivery import DeliveryService, export_csv
from app.ui.common.row_list_model import TitledTableModel
from app.ui.common.tasks import Lane, TaskHandle, TaskRunner
from app.ui.common.widgets import muted_label, row_table, show_outcome
from app.ui.delivery.delivery_charts import DeliveryCharts

log = logging.getLogger("gavel.ui.delivery")

AnyIndex = QModelIndex | QPersistentModelIndex
# Where to save a table: (parent, suggested file name) -> a path, or None (cancelled).
AskPath = Callable[[QWidget, str], Path | None]
# A report, its tables (formatted on the worker: a long history has many rows) and the
# teams the cache knows (for the filter).
Loaded = tuple[DeliveryReport, list[Table], list[str]]

ALL_TEAMS = "All teams"
PERIODS: tuple[tuple[str, int | None], ...] = (
    ("Last 12 months", 365),
    ("Last 90 days", 90),
    ("Last 30 days", 30),
    ("All time", None),
    ("Custom…", -1),
)


def _ask_path(parent: QWidget, suggested: str) -> Path | None:
    path, _ = QFileDialog.getSaveFileName(
        parent, "Export table as CSV", suggested, "CSV files (*.csv)"
    )
    return Path(path) if path else None


class ReportTableModel(TitledTableModel):
    """One table of the report, as text."""

    def __init__(self, table: Table, parent: Any = None) -> None:
        super().__init__(table.header, parent)
        self.table = table

    def set_table(self, table: Table) -> None:
        self.beginResetModel()
        self.table = table
        self.endResetModel()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.table.rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        row = self.table.rows[index.row()]
        return row[index.column()] if index.column() < len(row) else None


class Headline(QFrame):
    """One figure, big, with what it measures under it."""

    def __init__(self, title: str, tip: str) -> None:
        super().__init__()
        self.setObjectName("DeliveryHeadline")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setToolTip(tip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.caption = muted_label(title)
        self.value = QLabel("—")
        self.value.setObjectName("DeliveryFigure")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.value.setFont(font)
        self.detail = muted_label("")
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)

    def set(self, value: str, detail: str) -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class DeliveryPage(QWidget):
    """Delivery metrics for a team and a period (see the README's "Delivery metrics")."""

    # Emitted on the GUI thread once a report is on screen (or its failure said).
    settled = Signal()

    def __init__(
        self,
        service: DeliveryService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        ask_path: AskPath = _ask_path,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        track: Callable[[TaskHandle], None] = lambda _handle: None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("DeliveryPage")
        self._service = service
        self._runner = runner
        self._ask_path = ask_path
        self._today = today
        # Shows a long computation's progress, with Cancel (the host's status bar).
        self._track = track
        self._handle: TaskHandle | None = None
        self.report: DeliveryReport | None = None
        self._loaded_once = False

        # -- filters ---------------------------------------------------------------------
        self.team = QComboBox()
        self.team.setObjectName("DeliveryTeam")
        self.team.addItem(ALL_TEAMS)
        self.team.setMinimumContentsLength(16)
        self.period = QComboBox()
        self.period.setObjectName("DeliveryPeriod")
        for label, _days in PERIODS:
            self.period.addItem(label)
        self.start = QDateEdit()
        self.end = QDateEdit()
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read what the ledger recorded since and compute again")
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Team"))
        filters.addWidget(self.team)
        filters.addSpacing(12)
        filters.addWidget(QLabel("Period"))
        filters.addWidget(self.period)
        filters.addWidget(QLabel("from"))
        filters.addWidget(self.start)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.end)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)
        self.status = muted_label("")
        self.status.setObjectName("DeliveryStatus")

        # -- headline figures ------------------------------------------------------------
        self.headlines = {
            "promotions": Headline(
                "Promotions", "Versions that reached production for the first time."
            ),
            "lead": Headline(
                "Lead time (median)",
                "From the version's registration in the registry to its promotion.",
            ),
            "approval": Headline(
                "Approval: request → decision (median)",
                "From a promotion request to its decision (the approval that completed it, "
                "or the rejection).",
            ),
            "rollback": Headline(
                "Rollback rate",
                "Promotions moved back to an earlier version within 30 days.",
            ),
            "failure": Headline(
                "Change-failure rate",
                "Promotions followed within 30 days by a rollback, a serving drift or an outage.",
            ),
            "restore": Headline(
                "Time to restore (median)",
                "From a serving drift or an outage to the endpoint serving the approved "
                "version again.",
            ),
        }
        figures = QGridLayout()
        for i, headline in enumerate(self.headlines.values()):
            figures.addWidget(headline, 0, i)

        # -- charts and tables -----------------------------------------------------------
        self.charts = DeliveryCharts()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("DeliveryTables")
        self.models: dict[str, ReportTableModel] = {}
        self.captions: dict[str, QLabel] = {}
        for t in tables(_empty_report()):
            model = ReportTableModel(t, self)
            self.models[t.key] = model
            view = row_table(model, f"DeliveryTable-{t.key}", stretch=None)
            caption = muted_label(t.caption)
            self.captions[t.key] = caption
            holder = QWidget()
            box = QVBoxLayout(holder)
            box.setContentsMargins(0, 4, 0, 0)
            box.addWidget(caption)
            box.addWidget(view)
            view.resizeColumnsToContents()
            self.tabs.addTab(holder, t.title)
        self.export_button = QPushButton("Export this table as CSV…")
        self.export_button.setToolTip("Save the table on screen as a CSV file")
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.outcome.setVisible(False)
        export_row = QHBoxLayout()
        export_row.addWidget(self.outcome, 1)
        export_row.addStretch(0)
        export_row.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignRight)
        lower = QWidget()
        lower_box = QVBoxLayout(lower)
        lower_box.setContentsMargins(0, 0, 0, 0)
        lower_box.addWidget(self.tabs)
        lower_box.addLayout(export_row)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.charts)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        # Filters, figures, charts and tables need more height than a 1024x640 window
        # leaves a page: they scroll inside the page rather than force the window taller.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(filters)
        layout.addWidget(self.status)
        layout.addLayout(figures)
        layout.addWidget(split, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self._set_period(0)
        self.period.currentIndexChanged.connect(self._set_period)
        self.team.currentIndexChanged.connect(lambda _i: self.reload())
        self.start.dateChanged.connect(lambda _d: self._custom_changed())
        self.end.dateChanged.connect(lambda _d: self._custom_changed())
        self.refresh_button.clicked.connect(self.reload)
        self.export_button.clicked.connect(self._export_current)

    # -- filters -----------------------------------------------------------------------

    def _set_period(self, index: int) -> None:
        days = PERIODS[index][1]
        custom = days == -1
        for edit in (self.start, self.end):
            edit.setEnabled(custom)
        if not custom:
            today = self._today()
            for edit, day in (
                (self.start, today - timedelta(days=days or 0) if days else None),
                (self.end, today),
            ):
                edit.blockSignals(True)
                if day is None:
                    edit.setDate(QDate(2000, 1, 1))
                else:
                    edit.setDate(QDate(day.year, day.month, day.day))
                edit.blockSignals(False)
        if self._loaded_once:
            self.reload()

    def _custom_changed(self) -> None:
        if PERIODS[self.period.currentIndex()][1] == -1 and self._loaded_once:
            self.reload()

    def current_filter(self) -> DeliveryFilter:
        """The team and period the page shows: whole UTC days, the end day included."""
        team = self.team.currentText()
        days = PERIODS[self.period.currentIndex()][1]

        def day(edit: QDateEdit) -> datetime:
            d = edit.date()
            return datetime.combine(date(d.year(), d.month(), d.day()), time(), UTC)

        start = None if days is None else day(self.start)
        end = day(self.end) + timedelta(days=1)
        if start is not None and end <= start:
            start = end - timedelta(days=1)
        return DeliveryFilter(start, end, None if team == ALL_TEAMS else team)

    def set_teams(self, teams: Sequence[str]) -> None:
        current = self.team.currentText()
        self.team.blockSignals(True)
        self.team.clear()
        self.team.addItems([ALL_TEAMS, *teams])
        found = self.team.findText(current)
        self.team.setCurrentIndex(max(0, found))
        self.team.blockSignals(False)

    # -- computing ---------------------------------------------------------------------

    def reload(self) -> None:
        """Compute the report for the filters on a worker; the page stays usable."""
        self._loaded_once = True
        try:
            flt = self.current_filter()
        except GavelError as exc:
            self.status.setText(exc.message)
            return
        service = self._service

        def work(token: CancelToken, progress: ProgressCallback) -> Loaded:
            report = service.report(flt, progress, token)
            return report, tables(report), service.teams()

        self.status.setText("Computing delivery metrics from the ledger…")
        self._handle = self._runner.run(
            work,
            key="delivery.report",
            lane=Lane.LEDGER,
            label="Computing delivery metrics",
            on_success=self._show,
            on_failure=self._failed,
        )
        self._track(self._handle)

    def _show(self, result: Loaded) -> None:
        report, shown, teams = result
        self.report = report
        self.set_teams(teams)
        for t in shown:
            self.models[t.key].set_table(t)
        for i, model in enumerate(self.models.values()):
            t = model.table
            self.tabs.setTabText(i, t.title if t.key == "summary" else f"{t.title} ({len(t.rows)})")
        o = report.overall
        h = self.headlines
        via = sum(m.with_request for m in report.months)
        h["promotions"].set(
            str(o.promotions), f"{via} through a request, {o.promotions - via} without"
        )
        h["lead"].set(hours(o.lead_time.median), f"90th percentile {hours(o.lead_time.p90)}")
        h["approval"].set(
            hours(o.request_to_decision.median),
            f"then {hours(o.decision_to_applied.median)} to apply"
            if o.request_to_decision.count
            else "no request decided in this period",
        )
        moves_back = len(report.rollbacks)
        h["rollback"].set(
            _pct(o.rollback_rate.value),
            _of(o.rollback_rate.numerator, o.rollback_rate.denominator, "promotions")
            + (f", {moves_back} rollbacks" if moves_back != o.rollback_rate.numerator else ""),
        )
        h["failure"].set(
            _pct(o.change_failure_rate.value),
            _of(o.change_failure_rate.numerator, o.change_failure_rate.denominator, "promotions"),
        )
        h["restore"].set(
            hours(o.time_to_restore.median),
            f"{o.time_to_restore.count} restored, {o.open_incidents} still open",
        )
        self.charts.set_report(report)
        self.status.setText(_describe(report))
        self.settled.emit()

    def _failed(self, error: GavelError) -> None:
        self.status.setText(f"The delivery report could not be computed: {error.message}")
        self.charts.show_message("Delivery metrics unavailable", error.message)
        self.settled.emit()

    # -- export ------------------------------------------------------------------------

    def current_table(self) -> Table:
        return list(self.models.values())[self.tabs.currentIndex()].table

    def _export_current(self) -> None:
        t = self.current_table()
        path = self._ask_path(self, f"delivery-{t.key}.csv")
        if path is not None:
            self.export_table(t.key, path)

    def export_table(self, key: str, path: Path) -> None:
        """Write one table to ``path`` on a worker; the outcome line says where."""
        table = self.models[key].table

        def work(_token: CancelToken, _progress: ProgressCallback) -> Path:
            return export_csv(table, path)

        def done(written: Path) -> None:
            show_outcome(
                self.outcome, f"{table.title}: {len(table.rows)} rows written to {written}.", False
            )
            self.settled.emit()

        def failed(error: GavelError) -> None:
            show_outcome(self.outcome, error.message, True)
            self.settled.emit()

        self._runner.run(work, key=f"delivery.export.{key}", on_success=done, on_failure=failed)

    def shutdown(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _of(n: int, d: int, what: str) -> str:
    return f"no {what} yet" if d == 0 else f"{n} of {d} {what}"


def _describe(report: DeliveryReport) -> str:
    f = report.filter
    start = "the beginning" if f.start is None else f"{f.start:%Y-%m-%d}"
    end = "now" if f.end is None else f"{f.end - timedelta(days=1):%Y-%m-%d}"
    who = f"team {f.team}" if f.team else "all teams"
    text = (
        f"From {start} to {end} (UTC), {who}: measured from the audit ledger and the "
        "registry's timestamps."
    )
    if report.unknown_lead_time:
        text += (
            f" {report.unknown_lead_time} promotion(s) have no lead time (the version's "
            "registration time is unknown; a sync fills it in)."
        )
    return text


def _empty_report() -> DeliveryReport:
    from app.domain.delivery import DeliveryInputs, delivery_report

    return delivery_report(DeliveryInputs())
