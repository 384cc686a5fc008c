"""The Overview page in the console, the first page: read on a worker from the cache
and the ledger (so offline too), re-read after every sync and ledger write and when
the page is shown, and every figure a link to the filtered list behind it.

`OverviewUi` registers through the host and the model focus; lists on other features'
pages (approvals, violations, endpoints) are opened through `drill_requested`, which
the console wires (features never import one another).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.overview import Drill, DrillPage, Overview
from app.domain.progress import ProgressCallback
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.overview.overview_page import OverviewPage

log = logging.getLogger("gavel.ui.overview")

OVERVIEW_PAGE = "overview"
REFRESH_TASK = "overview-refresh"


class OverviewUi(QObject):
    # A figure on another feature's page was opened (approvals, violations, endpoints).
    drill_requested = Signal(object)  # Drill
    # The figures on screen were re-read (tests wait on this).
    loaded = Signal()

    def __init__(
        self,
        host: Host,
        focus: ModelFocus,
        ctx: ConsoleContext,
        runner: TaskRunner,
        empty_actions: list[tuple[str, Callable[[], None]]] | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        self.focus = focus
        self.ctx = ctx
        self.runner = runner
        self.empty_actions = empty_actions or []
        self.page = OverviewPage()
        self.setParent(self.page)
        self.overview: Overview | None = None
        self._stale = True
        host.add_page(
            OVERVIEW_PAGE,
            "Overview",
            self.page,
            tooltip="The portfolio at a glance: what is live, waiting, due or wrong; "
            "click a figure for its list",
            position=0,
        )
        self.page.drill_requested.connect(self.open_drill)
        focus.on_synced(self.refresh)
        host.on_page_shown(self._page_shown)
        host.after_first_paint(self.refresh)

    @property
    def settled(self) -> bool:
        """No read running and what the last one found is on screen."""
        return not self.runner.is_running(REFRESH_TASK) and not self._stale

    def refresh(self) -> None:
        """Re-read every figure off the GUI thread (a newer read supersedes an older)."""
        self._stale = True
        service = self.ctx.overview

        def read(_cancel: CancelToken, _progress: ProgressCallback) -> Overview:
            return service.overview()

        self.page.set_loading()
        self.runner.run(
            read,
            key=REFRESH_TASK,
            label="Reading the overview",
            on_success=self._loaded,
            on_failure=self._failed,
        )

    def _page_shown(self, key: str) -> None:
        if key == OVERVIEW_PAGE:
            self.refresh()

    def _loaded(self, overview: Overview) -> None:
        self.overview = overview
        self._stale = False
        self.page.show_overview(overview, self.empty_actions)
        emit(self.loaded)

    def _failed(self, exc: GavelError) -> None:
        self._stale = False
        log.warning("overview not read: %s", exc.message)
        self.page.set_error(exc.message)
        emit(self.loaded)

    def open_drill(self, drill: Drill) -> None:
        """Open the list behind a figure: the portfolio here, other pages via the console."""
        if drill.page is DrillPage.PORTFOLIO:
            self.focus.show_models(drill.title, drill.models)
        else:
            emit(self.drill_requested, drill)
