"""The Endpoints page: every serving endpoint's health and whether it serves the
approved version, with the selected one's detail and charts (endpoint_detail).

Probe outcomes arrive from the poller through EndpointMonitor (queued signals) and
update their row at once, and the detail's charts at most every few seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.endpoints import MIN_INTERVAL_S, EndpointConfig
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.services.endpoint_poller import ProbeFailure
from app.services.endpoints import EndpointService, EndpointStatus, ProbeOutcome
from app.services.portfolio import PortfolioService
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import EmptyState, muted_label, row_table
from app.ui.serving.endpoint_detail import EndpointDetail
from app.ui.serving.endpoint_dialog import EndpointDialog
from app.ui.serving.endpoint_monitor import EndpointMonitor
from app.ui.serving.endpoints_model import (
    EndpointColumn,
    EndpointsModel,
    drift_by_model,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger("gavel.ui.endpoints")

ConfirmHook = Callable[[QWidget, str, str], bool]


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
        self.loaded = False
        # Set in an audit session: the endpoints as the bundle recorded them, never probed.
        self.read_only: str | None = None

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

        self.detail = EndpointDetail(endpoints, runner, clock=clock)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("EndpointsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
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

        self._tick = QTimer(self)
        self._tick.setInterval(30_000)
        self._tick.timeout.connect(self.model.touch_times)
        self._tick.start()

        self.add_button.clicked.connect(self.add_endpoint)
        self.edit_button.clicked.connect(self.edit_endpoint)
        self.remove_button.clicked.connect(self.remove_endpoint)
        self.probe_button.clicked.connect(self.probe_now)
        self.interval.valueChanged.connect(self._interval_changed)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(
            lambda _i: self.edit_endpoint() if self.read_only is None else None
        )
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
            on_failure=lambda e: self.detail.show_reason(
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
            self.detail.show_status(self.selected)
            self.detail.refresh_soon()

    def _probe_failed(self, failure: ProbeFailure) -> None:
        if failure.endpoint == self.selected_name:
            self.detail.show_reason(
                f"<b>The last probe could not run.</b> {escape(failure.message)}"
            )

    def probe_now(self) -> None:
        if self.read_only is not None:
            return
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
        self.detail.refresh_charts()

    def _probe_error(self, error: GavelError) -> None:
        self.probe_button.setEnabled(True)
        self.detail.show_reason(f"<b>Probe failed.</b> {escape(error.message)}")

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
        self.detail.show_status(self.selected)
        self.detail.refresh_charts()

    def _update_buttons(self) -> None:
        has = self.selected is not None
        writable = self.read_only is None
        self.edit_button.setEnabled(has and writable)
        self.remove_button.setEnabled(has and writable)
        self.detail.export_button.setEnabled(has)
        self.probe_button.setText("Probe now" if has else "Probe all now")

    def set_read_only(self, reason: str) -> None:
        """An audit session: show what the bundle recorded; add, edit, remove and probe
        are disabled (they would write the configuration or reach the network)."""
        self.read_only = reason
        for widget in (self.add_button, self.probe_button, self.interval):
            widget.setEnabled(False)
            widget.setToolTip(reason)
        for button in (self.edit_button, self.remove_button):
            button.setToolTip(reason)
        self.empty.set_content(
            "No serving endpoints in this bundle",
            "The profile this bundle was made from watched no serving endpoint in its "
            "scope, so there is nothing to show here.",
            [],
        )
        self._update_buttons()
        self._show_poll_state()

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
            self.detail.show_reason(escape(exc.message))
            return
        self.reload()

    def _interval_changed(self, seconds: float) -> None:
        try:
            self._monitor.set_interval(seconds)
        except GavelError as exc:
            self.detail.show_reason(escape(exc.message))
            return
        self._show_poll_state()

    def _show_poll_state(self) -> None:
        if self.read_only is not None:
            self.poll_state.setText("not probed (audit session)")
            return
        self.poll_state.setText("polling" if self._monitor.running else "polling stopped")

    def shutdown(self) -> None:
        self._tick.stop()
        self.detail.shutdown()
