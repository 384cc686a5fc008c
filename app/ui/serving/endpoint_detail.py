"""The selected endpoint on the Endpoints page: whether it serves the approved
version, and charts of its recent serving figures with its outages.

The charts are re-read from the cache (downsampled in SQL) in a worker, at most
every few seconds while probes keep arriving; they are built (with matplotlib) the
first time the page shows them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.endpoint_timeline import health_bands, outages
from app.domain.endpoints import EndpointSample
from app.domain.progress import ProgressCallback
from app.domain.serving import ServingState
from app.presentation.formatting import local_text
from app.services.endpoints import EndpointService, EndpointStatus
from app.ui.common.tasks import TaskRunner
from app.ui.common.theme import semantic
from app.ui.common.widgets import LazySlot, section_title
from app.ui.serving.endpoints_model import serving_state

if TYPE_CHECKING:
    from app.ui.serving.endpoint_charts import EndpointCharts

WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("last hour", timedelta(hours=1)),
    ("last 24 hours", timedelta(hours=24)),
    ("last 7 days", timedelta(days=7)),
)
# Points per chart: about two per horizontal pixel of a wide chart is all that shows.
CHART_POINTS = 600
# A busy poller must not redraw the charts after every probe.
CHART_REFRESH_S = 5.0

SeriesResult = tuple[str, list[EndpointSample], datetime, datetime, str]


class EndpointDetail(QWidget):
    def __init__(
        self,
        endpoints: EndpointService,
        runner: TaskRunner,
        parent: QWidget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(parent)
        self._endpoints = endpoints
        self._runner = runner
        self._clock = clock
        self._name: str | None = None
        self._reasons_shown: list[str] = []  # sentences the reason label already says
        self._charted_at = 0.0

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
        detail_lay = QVBoxLayout(self)
        detail_lay.setContentsMargins(0, 4, 0, 0)
        detail_lay.addLayout(window_row)
        detail_lay.addWidget(self.reason)
        detail_lay.addWidget(chart_row, 1)

        self._chart_timer = QTimer(self)
        self._chart_timer.setSingleShot(True)
        self._chart_timer.timeout.connect(self.refresh_charts)
        self.window_picker.currentIndexChanged.connect(lambda _i: self.refresh_charts())
        self.export_button.clicked.connect(self.export)

    def show_status(self, st: EndpointStatus | None) -> None:
        """The endpoint to show (None: nothing selected)."""
        self._name = st.config.name if st else None
        if st is None:
            self.title.setText("")
            self.reason.hide()
            return
        cfg, rec = st.config, st.record
        self.title.setText(f"{cfg.name} — {cfg.registry}/{cfg.model} @ {cfg.alias}")
        state = serving_state(rec)
        sem = semantic(self.palette())
        # A server that answers HTML fails the health and the serving check with the same
        # sentence, and each failed probe repeats it in the outages: say it once a page.
        shown: list[str] = []

        def once(text: str) -> str:
            text = text.strip()
            if not text or any(text in seen for seen in shown):
                return ""
            shown.append(text)
            return escape(text)

        bits = []
        if state is ServingState.DRIFT:
            bits.append(f"<b style='color:{sem.error}'>DRIFT.</b> {once(rec.serving_reason)}")
        elif rec.serving_reason:
            bits.append(once(rec.serving_reason))
        else:
            bits.append("Not probed yet: press “Probe now”.")
        if rec.health is not None and rec.health.value != "up":
            reason = once(rec.health_reason)
            bits.append(
                f"<b style='color:{sem.error}'>Down:</b> {reason}"
                if reason
                else f"<b style='color:{sem.error}'>Down</b> for the reason above."
            )
        self._reasons_shown = shown
        if rec.last_probe_at is not None:
            bits.append(
                f"<span style='color:{sem.muted}'>Last probe {local_text(rec.last_probe_at)}"
                f"{' · ' + escape(rec.server) if rec.server else ''}</span>"
            )
        self.show_reason("<br>".join(bits), drift=state is ServingState.DRIFT)

    def show_reason(self, html: str, drift: bool = False) -> None:
        self.reason.setText(html)
        self.reason.setProperty("kind", "drift" if drift else "")
        # The box's colours are in the themed stylesheet (light or dark variant);
        # a dynamic property only restyles after a re-polish.
        self.reason.style().unpolish(self.reason)
        self.reason.style().polish(self.reason)
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

    def refresh_soon(self) -> None:
        """New figures arrived: redraw, but not more often than every few seconds."""
        wait = CHART_REFRESH_S - (time.monotonic() - self._charted_at)
        if wait <= 0:
            self.refresh_charts()
        elif not self._chart_timer.isActive():
            self._chart_timer.start(int(wait * 1000))

    def refresh_charts(self) -> None:
        if not self.chart_slot.is_built:
            return  # nothing on screen to refresh; building the charts refreshes them
        name = self._name
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
        if name != self._name:
            return
        self.charts.set_data(name, samples, since, until, label)
        self.outages.clear()
        since_ms, until_ms = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        found = outages(health_bands(samples, since_ms, until_ms))
        self.outages_title.setText(f"Outages ({len(found)})")
        self.outages_title.setToolTip(f"Periods the endpoint was down in the {label}")
        seen = list(self._reasons_shown)
        for band in found[:200]:
            start = datetime.fromtimestamp(band.start_ms / 1000, tz=UTC)
            minutes = max(1, round(band.duration_ms / 60_000))
            reason = band.reason.strip() or "no reason recorded"
            if band.reason and any(reason in shown for shown in seen):
                reason = "the same reason as above"
            else:
                seen.append(reason)
            text = f"{local_text(start)} · {minutes} min {BAND_TEXT[band.state]}\n{reason}"
            self.outages.addItem(text)
            item = self.outages.item(self.outages.count() - 1)
            if item is not None:
                item.setToolTip(f"{text.rsplit(chr(10), 1)[0]}\n{band.reason or reason}")
        if not found:
            self.outages.addItem("None: every probe in this window found it up.")

    def export(self) -> None:
        name = self._name or "endpoint"
        label = self.chart_window[0].replace(" ", "-")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chart as PNG", f"{name}-{label}.png", "PNG (*.png)"
        )
        if path:
            self.charts.export_png(Path(path))

    def shutdown(self) -> None:
        self._chart_timer.stop()
