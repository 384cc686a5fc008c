"""Serving in the console: the Endpoints page, the endpoint poller's life cycle and
the drift marker in the portfolio.

`ServingUi` registers all of it through the shell's host and the portfolio's model
focus; polling starts when the console does (`start_polling`), not when built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QObject

from app.domain.errors import GavelError
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.tasks import TaskRunner
from app.ui.serving.endpoint_monitor import EndpointMonitor
from app.ui.serving.endpoints_view import EndpointsPage

log = logging.getLogger("gavel.ui.serving")

ENDPOINTS_PAGE = "endpoints"


class ServingUi(QObject):
    def __init__(
        self,
        host: Host,
        focus: ModelFocus,
        ctx: ConsoleContext,
        runner: TaskRunner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.host = host
        self.monitor = EndpointMonitor(ctx.endpoint_poller, self)

        def registry_names() -> list[str]:
            try:
                return [c.name for c in ctx.registries.configs()]
            except GavelError as exc:
                log.warning("registries unreadable: %s", exc.message)
                return []

        self.page = EndpointsPage(
            ctx.endpoints, self.monitor, ctx.portfolio, registry_names, runner, clock=clock
        )
        self.setParent(self.page)
        host.add_page(
            ENDPOINTS_PAGE,
            "Endpoints",
            self.page,
            badge=self.problem_count,
            tooltip="Serving endpoints: health, and whether each serves the approved version "
            "(the count: endpoints that drift or are down)",
        )
        self.page.drift_changed.connect(focus.mark_serving_drift)
        self.page.model.modelReset.connect(host.refresh_badges)
        self.page.model.dataChanged.connect(lambda *_: host.refresh_badges())
        focus.on_synced(self.page.reload)
        host.on_shutdown(self.stop)
        # An audit session reaches no endpoint: its observations are the bundle's.
        self.session = ctx.session is not None
        if self.session:
            self.page.set_read_only(
                "Audit session (read-only): the endpoints as the bundle recorded them; "
                "nothing is probed or changed."
            )
        self.page.reload()

    def show_endpoints(self, names: tuple[str, ...]) -> None:
        """The Endpoints page with the first of these endpoints selected."""
        self.host.select_page(ENDPOINTS_PAGE)
        for name in names:
            if self.page.select(name):
                break

    def problem_count(self) -> int | None:
        """Endpoints serving another version than approved, or down at their last probe."""
        count = 0
        for st in self.page.model.statuses():
            rec = st.record
            down = rec.health is not None and rec.health.value != "up"
            if down or rec.serving_state == "drift":
                count += 1
        return count or None

    def start_polling(self) -> None:
        """Probe endpoints in the background from now on (the console started); never
        in an audit session."""
        if not self.session:
            self.monitor.start()

    def stop(self) -> None:
        """At shutdown, before the runner stops: no probe may report after this."""
        self.page.shutdown()
        self.monitor.stop()
