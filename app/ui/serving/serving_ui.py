"""Serving and insight in the main window: the Endpoints page, the endpoint poller's
life cycle, the drift marker in the portfolio, and the Lineage / Metrics / Compare
tabs of the model detail.

`install_serving(window)` wires it all through the window's public pieces (its
context, runner, portfolio model and view, detail view and `add_page`), so the main
window itself makes three calls: install, start polling, stop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.domain.errors import GavelError
from app.ui.insights.model_insights import ModelInsights, attach_insights
from app.ui.serving.endpoint_monitor import EndpointMonitor
from app.ui.serving.endpoints_view import EndpointsPage

if TYPE_CHECKING:
    from app.ui.shell.main_window import MainWindow

log = logging.getLogger("gavel.ui.serving")

ENDPOINTS_PAGE = "endpoints"


class ServingUi(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        ctx = window.ctx
        self.monitor = EndpointMonitor(ctx.endpoint_poller, self)

        def registry_names() -> list[str]:
            try:
                return [c.name for c in ctx.registries.configs()]
            except GavelError as exc:
                log.warning("registries unreadable: %s", exc.message)
                return []

        self.page = EndpointsPage(
            ctx.endpoints,
            self.monitor,
            ctx.portfolio,
            registry_names,
            window.runner,
            clock=window.clock,
        )
        window.add_page(
            ENDPOINTS_PAGE,
            "Endpoints",
            self.page,
            badge=self.problem_count,
            tooltip="Serving endpoints: health, and whether each serves the approved version "
            "(the count: endpoints that drift or are down)",
        )
        self.insights = ModelInsights(ctx.lineage, ctx.performance, window.runner)
        attach_insights(
            window.detail_view, self.insights, ctx.portfolio, window.portfolio_view.select_key
        )
        self.page.drift_changed.connect(self._drift_changed)
        self.page.model.modelReset.connect(window.pages.refresh_badges)
        self.page.model.dataChanged.connect(lambda *_: window.pages.refresh_badges())
        window.syncer.sync_finished.connect(lambda _outcomes: self.page.reload())
        self.page.reload()

    def problem_count(self) -> int | None:
        """Endpoints serving another version than approved, or down at their last probe."""
        count = 0
        for st in self.page.model.statuses():
            rec = st.record
            down = rec.health is not None and rec.health.value != "up"
            if down or rec.serving_state == "drift":
                count += 1
        return count or None

    def _drift_changed(self, drift: dict[tuple[str, str], str]) -> None:
        self.window.portfolio_model.set_serving_drift(drift)

    def start_polling(self) -> None:
        """Probe endpoints in the background from now on (the console started)."""
        self.monitor.start()

    def stop(self) -> None:
        """At shutdown, before the runner stops: no probe may report after this."""
        self.page.shutdown()
        self.monitor.stop()


def install_serving(window: MainWindow) -> ServingUi:
    return ServingUi(window)
