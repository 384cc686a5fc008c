"""The Endpoints page: every serving endpoint's health and whether it serves the
approved version, with charts of its recent serving figures.

Probe outcomes arrive from the poller through EndpointMonitor (queued signals) and
update their row at once; the charts of the selected endpoint are re-read from the
cache (downsampled in SQL) at most every few seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.endpoint_timeline import health_bands, outages
from app.domain.endpoints import MIN_INTERVAL_S, EndpointConfig, EndpointSample
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.domain.serving import ServingState
from app.services.endpoint_poller import ProbeFailure
from app.services.endpoints import EndpointService, EndpointStatus, ProbeOutcome
from app.services.portfolio import PortfolioService
from app.ui.common.formatting import local_text
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import EmptyState, LazySlot, muted_label, row_table, section_title
from app.ui.serving.endpoint_dialog import EndpointDialog
from app.ui.serving.endpoint_monitor import EndpointMonitor
from app.ui.serving.endpoints_model import (
    EndpointColumn,
    EndpointsModel,
    drift_by_model,
    serving_state,
)

if TYPE_CHECKING:
    from app.ui.serving.endpoint_charts import EndpointCharts

log = logging.getLogger("gavel.ui.endpoints")

WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("last hour", timedelta(hours=1)),
    ("last 24 hours", timedelta(hours=24)),
    ("last 7 days", timedelta(days=7)),
)
# Points per chart: about two per horizontal pixel of a wide chart is all that shows.
CHART_POINTS = 600
# A busy poller must not redraw the charts after every probe.
CHART_REFRESH_S = 5.0

ConfirmHook = Callable[[QWidget, str, str], bool]
SeriesResult = tuple[str, list[EndpointSample], datetime, datetime, str]


def _confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


class EndpointsPage(QWidget):
    """Lists endpoints, edits them, probes on demand and charts the selected one."""

    # (registry, model) -> drift sentences, whenever the set of drifting models changes.
    drift_changed = Signal(object)

    def __init__(
        self,
        endpoints: EndpointService,
        monitor: EndpointMonitor,
        portfolio: PortfolioService,
        registry_names: Callable[[], list[str]],
        runner: TaskRunner,
        parent: QWidget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("EndpointsPage")
        self._endpoints = endpoints
        self._monitor = monitor
        self._portfolio = portfolio
        self._registry_names = registry_names
        self._runner = runner
        self._clock = clock
        self.confirm: ConfirmHook = _confirm
        self._drift: dict[tuple[str, str], str] = {}
        self._charted_at = 0.0
        self.loaded = False

        self.model = EndpointsModel(self, clock=clock)
        self.table = row_table(
            self.model,
            "EndpointsTable",
            widths=(
                (EndpointColumn.NAME, 150),
                (EndpointColumn.MODEL, 220),
                (EndpointColumn.HEALTH, 110),
                (EndpointColumn.SERVING, 100),
                (EndpointColumn.SERVED, 70),
                (EndpointColumn.APPROVED, 140),
                (EndpointColumn.LAST_PROBE, 120),
            ),
        )

        # Toolbar.
        self.add_button = QPushButton("Add endpoint…")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove…")
        self.probe_button = QPushButton("Probe now")
        self.probe_button.setToolTip("Probe the selected endpoint now (all of them when none is)")
        self.interval = QDoubleSpinBox()
        self.interval.setObjectName("PollInterval")
        self.interval.setRange(MIN_INTERVAL_S, 86_400.0)
        self.interval.setDecimals(0)
        self.interval.setSuffix(" s")
        self.interval.setToolTip("How often endpoints without their own interval are probed")
        self.interval.setKeyboardTracking(False)
        self.poll_state = muted_label()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for button in (self.add_button, self.edit_button, self.remove_button, self.probe_button):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(QLabel("Probe every"))
        bar.addWidget(self.interval)
        bar.addWidget(self.poll_state)

        # Detail of the selected endpoint.
        self.title = section_title("")
        self.reason = QLabel()
        self.reason.setObjectName("ServingReason")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason.setTextFormat(Qt.TextFormat.RichText)
        self.window_picker = QComboBox()
        self.window_picker.setObjectName("ChartWindow")
        for label, _ in WINDOWS:
            self.window_picker.addItem(label.capitalize())
        self.window_picker.setCurrentIndex(1)
        self.export_button = QPushButton("Export chart…")
        # Built when the page is first shown: matplotlib is not a start-up cost.
        self.chart_slot = LazySlot(self._build_charts)
        self.outages = QListWidget()
        self.outages.setObjectName("Outages")
        self.outages.setMaximumWidth(360)
        self.outages.setMinimumWidth(220)
        self.outages.setWordWrap(True)
        self.outages_title = section_title("Outages")
        window_row = QHBoxLayout()
        window_row.setContentsMargins(0, 0, 0, 0)
        window_row.addWidget(self.title)
        window_row.addStretch(1)
        window_row.addWidget(QLabel("Show"))
        window_row.addWidget(self.window_picker)
        window_row.addWidget(self.export_button)
        side = QWidget()
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.addWidget(self.outages_title)
        side_lay.addWidget(self.outages, 1)
        chart_row = QSplitter(Qt.Orientation.Horizontal)
        chart_row.addWidget(self.chart_slot)
        chart_row.addWidget(side)
        chart_row.setStretchFactor(0, 4)
        chart_row.setStretchFactor(1, 1)
        detail = QWidget()
        detail_lay = QVBoxLayout(detail)
        detail_lay.setContentsMargins(0, 4, 0, 0)
        detail_lay.addLayout(window_row)
        detail_lay.addWidget(self.reason)
        detail_lay.addWidget(chart_row, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("EndpointsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.empty = EmptyState()
        self.empty.set_content(
            "No serving endpoints yet",
            "Add the model servers that serve your registry's models. Gavel probes them, "
            "checks they serve the version their alias points to, and charts latency, "
            "traffic and errors.",
            [("Add endpoint…", self.add_endpoint)],
        )
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.splitter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)

        self._chart_timer = QTimer(self)
        self._chart_timer.setSingleShot(True)
        self._chart_timer.timeout.connect(self.refresh_charts)
        self._tick = QTimer(self)
        self._tick.setInterval(30_000)
        self._tick.timeout.connect(self.model.touch_times)
        self._tick.start()

        self.add_button.clicked.connect(self.add_endpoint)
        self.edit_button.clicked.connect(self.edit_endpoint)
        self.remove_button.clicked.connect(self.remove_endpoint)
        self.probe_button.clicked.connect(self.probe_now)
        self.interval.valueChanged.connect(self._interval_changed)
        self.window_picker.currentIndexChanged.connect(lambda _i: self.refresh_charts())
        self.export_button.clicked.connect(self._export)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self.edit_endpoint())
        monitor.outcome.connect(self.apply_outcome)
        monitor.failure.connect(self._probe_failed)
        monitor.running_changed.connect(lambda _r: self._show_poll_state())
        self._update_buttons()

    # -- loading -------------------------------------------------------------------------

    def reload(self, select: str | None = None) -> None:
        """Re-read endpoints and their last observed state (worker), keep the selection."""
        keep = select or self.selected_name
        svc = self._endpoints

        def load(_c: CancelToken, _p: ProgressCallback) -> tuple[list[EndpointStatus], float]:
            return svc.statuses(), svc.poll_interval_s()

        def ready(result: tuple[list[EndpointStatus], float]) -> None:
            statuses, interval = result
            self.loaded = True
            self.model.set_statuses(statuses)
            self.interval.blockSignals(True)
            self.interval.setValue(interval)
            self.interval.blockSignals(False)
            self.stack.setCurrentWidget(self.splitter if statuses else self.empty)
            self._update_drift()
            self._show_poll_state()
            if not self.select(keep) and statuses:
                self.select(statuses[0].config.name)
            self._update_buttons()

        self._runner.run(
            load,
            key="endpoints-statuses",
            label="Reading endpoints",
            on_success=ready,
            on_failure=lambda e: self._show_reason(
                f"<b>Endpoints unavailable.</b> {escape(e.message)}"
            ),
        )

    @property
    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        st = self.model.status_at(rows[0].row()) if rows else None
        return st.config.name if st else None

    @property
    def selected(self) -> EndpointStatus | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.status_at(rows[0].row()) if rows else None

    def select(self, name: str | None) -> bool:
        row = self.model.row_of(name) if name else None
        if row is None:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        return True

    # -- probe outcomes ------------------------------------------------------------------

    def apply_outcome(self, outcome: ProbeOutcome) -> None:
        """A probe finished (poller or 'Probe now'): update its row, maybe the charts."""
        if not self.model.apply_outcome(outcome):
            return
        self._update_drift()
        if outcome.config.name == self.selected_name:
            self._show_selected()
            wait = CHART_REFRESH_S - (time.monotonic() - self._charted_at)
            if wait <= 0:
                self.refresh_charts()
            elif not self._chart_timer.isActive():
                self._chart_timer.start(int(wait * 1000))

    def _probe_failed(self, failure: ProbeFailure) -> None:
        if failure.endpoint == self.selected_name:
            self._show_reason(f"<b>The last probe could not run.</b> {escape(failure.message)}")

    def probe_now(self) -> None:
        name = self.selected_name
        if name is None:
            self._monitor.poll_now()
            return
        svc = self._endpoints

        def probe(_c: CancelToken, _p: ProgressCallback) -> ProbeOutcome:
            return svc.probe(name)

        self.probe_button.setEnabled(False)
        self._runner.run(
            probe,
            key=f"endpoint-probe-{name}",
            label=f"Probing {name}",
            on_success=self._probed,
            on_failure=self._probe_error,
        )

    def _probed(self, outcome: ProbeOutcome) -> None:
        self.probe_button.setEnabled(True)
        self.apply_outcome(outcome)
        self.refresh_charts()

    def _probe_error(self, error: GavelError) -> None:
        self.probe_button.setEnabled(True)
        self._show_reason(f"<b>Probe failed.</b> {escape(error.message)}")

    # -- drift for the portfolio ---------------------------------------------------------

    def _update_drift(self) -> None:
        drift = drift_by_model(self.model.statuses())
        if drift != self._drift:
            self._drift = drift
            emit(self.drift_changed, dict(drift))

    @property
    def drift(self) -> dict[tuple[str, str], str]:
        return dict(self._drift)

    # -- selection and charts ------------------------------------------------------------

    def _selection_changed(self) -> None:
        self._update_buttons()
        self._show_selected()
        self.refresh_charts()

    def _update_buttons(self) -> None:
        has = self.selected is not None
        self.edit_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        self.export_button.setEnabled(has)
        self.probe_button.setText("Probe now" if has else "Probe all now")

    def _show_selected(self) -> None:
        st = self.selected
        if st is None:
            self.title.setText("")
            self.reason.hide()
            return
        cfg, rec = st.config, st.record
        self.title.setText(f"{cfg.name} — {cfg.registry}/{cfg.model} @ {cfg.alias}")
        state = serving_state(rec)
        bits = []
        if state is ServingState.DRIFT:
            bits.append(f"<b style='color:#b91c1c'>DRIFT.</b> {escape(rec.serving_reason)}")
        elif rec.serving_reason:
            bits.append(escape(rec.serving_reason))
        else:
            bits.append("Not probed yet: press “Probe now”.")
        if rec.health is not None and rec.health.value != "up":
            bits.append(f"<b style='color:#b91c1c'>Down:</b> {escape(rec.health_reason)}")
        if rec.last_probe_at is not None:
            bits.append(
                f"<span style='color:#64748b'>Last probe {local_text(rec.last_probe_at)}"
                f"{' · ' + escape(rec.server) if rec.server else ''}</span>"
            )
        self._show_reason("<br>".join(bits), drift=state is ServingState.DRIFT)

    def _show_reason(self, html: str, drift: bool = False) -> None:
        self.reason.setText(html)
        self.reason.setProperty("kind", "drift" if drift else "")
        self.reason.setStyleSheet(
            "QLabel#ServingReason { background: #fee2e2; border: 1px solid #ef4444; "
            "border-radius: 4px; padding: 6px; color: #7f1d1d; }"
            if drift
            else "QLabel#ServingReason { padding: 2px 0; }"
        )
        self.reason.show()

    @property
    def chart_window(self) -> tuple[str, timedelta]:
        return WINDOWS[max(0, self.window_picker.currentIndex())]

    def _build_charts(self) -> EndpointCharts:
        from app.ui.serving.endpoint_charts import EndpointCharts

        charts = EndpointCharts()
        charts.show_message("Select an endpoint to see its serving figures")
        QTimer.singleShot(0, self, self.refresh_charts)
        return charts

    @property
    def charts(self) -> EndpointCharts:
        return self.chart_slot.widget  # type: ignore[return-value]

    def refresh_charts(self) -> None:
        if not self.chart_slot.is_built:
            return  # nothing on screen to refresh; building the charts refreshes them
        name = self.selected_name
        if name is None:
            self.charts.show_message("Select an endpoint to see its serving figures")
            self.outages.clear()
            return
        label, span = self.chart_window
        until = self._clock()
        since = until - span
        svc = self._endpoints
        self._charted_at = time.monotonic()

        def load(_c: CancelToken, _p: ProgressCallback) -> SeriesResult:
            return name, svc.series(name, since, until, CHART_POINTS), since, until, label

        self._runner.run(
            load,
            key="endpoint-series",
            label="Reading endpoint history",
            on_success=self._series_ready,
            on_failure=lambda e: self.charts.show_message("History unavailable", e.message),
        )

    def _series_ready(self, result: SeriesResult) -> None:
        from app.ui.serving.endpoint_charts import BAND_TEXT

        name, samples, since, until, label = result
        if name != self.selected_name:
            return
        self.charts.set_data(name, samples, since, until, label)
        self.outages.clear()
        since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        found = outages(health_bands(samples, since_ms, until_ms))
        self.outages_title.setText(f"Outages ({len(found)})")
        self.outages_title.setToolTip(f"Periods the endpoint was down in the {label}")
        for band in found[:200]:
            start = datetime.fromtimestamp(band.start_ms / 1000, tz=UTC)
            minutes = max(1, round(band.duration_ms / 60_000))
            text = (
                f"{local_text(start)} · {minutes} min {BAND_TEXT[band.state]}\n"
                f"{band.reason or 'no reason recorded'}"
            )
            self.outages.addItem(text)
            item = self.outages.item(self.outages.count() - 1)
            if item is not None:
                item.setToolTip(text)
        if not found:
            self.outages.addItem("None: every probe in this window found it up.")

    # -- add, edit, remove, interval -----------------------------------------------------

    def _dialog(self, cfg: EndpointConfig | None) -> EndpointDialog:
        return EndpointDialog(
            self._endpoints, self._portfolio, self._registry_names(), self._runner, cfg, self
        )

    def add_endpoint(self) -> None:
        dialog = self._dialog(None)
        dialog.exec()
        self._after_dialog(dialog)

    def edit_endpoint(self) -> None:
        st = self.selected
        if st is None:
            return
        dialog = self._dialog(st.config)
        dialog.exec()
        self._after_dialog(dialog)

    def _after_dialog(self, dialog: EndpointDialog) -> None:
        saved = dialog.saved
        dialog.deleteLater()
        if saved is not None:
            self.reload(select=saved.name)
            self._monitor.poll_now(saved.name)

    def remove_endpoint(self) -> None:
        name = self.selected_name
        if name is None:
            return
        text = (
            f"Gavel will stop probing “{name}” and delete its sampled history from this "
            "computer. Drift events already in the audit trail stay there."
        )
        if not self.confirm(self, f"Remove endpoint “{name}”?", text):
            return
        try:
            self._endpoints.remove(name)
        except GavelError as exc:
            self._show_reason(escape(exc.message))
            return
        self.reload()

    def _interval_changed(self, seconds: float) -> None:
        try:
            self._monitor.set_interval(seconds)
        except GavelError as exc:
            self._show_reason(escape(exc.message))
            return
        self._show_poll_state()

    def _show_poll_state(self) -> None:
        self.poll_state.setText("polling" if self._monitor.running else "polling stopped")

    def _export(self) -> None:
        name = self.selected_name or "endpoint"
        label = self.chart_window[0].replace(" ", "-")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chart as PNG", f"{name}-{label}.png", "PNG (*.png)"
        )
        if path:
            self.charts.export_png(Path(path))

    def shutdown(self) -> None:
        self._tick.stop()
        self._chart_timer.stop()
