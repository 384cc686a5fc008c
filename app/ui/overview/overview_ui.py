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
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QWidget

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.overview import Drill, DrillPage, Overview
from app.domain.progress import ProgressCallback
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.signals import emit
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.overview.first_screen import OVERVIEW_PAGE
from app.ui.overview.overview_page import OverviewPage
from app.ui.overview.overview_pdf import write_overview_pdf

log = logging.getLogger("gavel.ui.overview")

REFRESH_TASK = "overview-refresh"
FILE_MENU = "&File"

# (parent, title, suggested file name) -> the path chosen, or None when cancelled.
PathChooser = Callable[[QWidget, str, str], Path | None]


def choose_export_path(parent: QWidget, title: str, name: str) -> Path | None:
    kind = "PDF (*.pdf)" if name.endswith(".pdf") else "CSV for spreadsheets (*.csv)"
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path.home() / name), kind)
    return Path(path) if path else None


class OverviewUi(QObject):
    # A figure on another feature's page was opened (approvals, violations, endpoints).
    drill_requested = Signal(object)  # Drill
    # The figures on screen were re-read (tests wait on this).
    loaded = Signal()
    # A CSV export was written (its path).
    exported = Signal(str)

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
        # Stage one's first screen (the cache's figures) stays until this page has its
        # first read to show: no empty "Reading…" page between the two.
        self._installed = False
        if not host.has_placeholder(OVERVIEW_PAGE):
            self._install()
        self.page.drill_requested.connect(self.open_drill)
        # Where an export goes (tests put their own chooser here).
        self.choose_path: PathChooser = choose_export_path
        self.export_overview_action = QAction("Export overview as CSV…", self)
        self.export_overview_action.setStatusTip("Every overview figure and the list behind it")
        self.export_portfolio_action = QAction("Export portfolio as CSV…", self)
        self.export_portfolio_action.setStatusTip(
            "Every model: team, owner, risk tier, production version and review date"
        )
        self.export_pdf_action = QAction("Export overview as PDF…", self)
        self.export_pdf_action.setStatusTip("A one-page summary for a management meeting")
        host.add_action(FILE_MENU, self.export_overview_action, section="export")
        host.add_action(FILE_MENU, self.export_pdf_action, section="export")
        host.add_action(FILE_MENU, self.export_portfolio_action, section="export")
        self.export_overview_action.triggered.connect(lambda: self.export("overview"))
        self.export_portfolio_action.triggered.connect(lambda: self.export("portfolio"))
        self.export_pdf_action.triggered.connect(self.export_pdf)
        focus.on_synced(self.refresh)
        host.on_page_shown(self._page_shown)
        host.after_first_paint(self.refresh)

    def _install(self) -> None:
        if self._installed:
            return
        self._installed = True
        self.host.add_page(
            OVERVIEW_PAGE,
            "Overview",
            self.page,
            tooltip="The portfolio at a glance: what is live, waiting, due or wrong; "
            "click a figure for its list",
            position=0,
        )

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
            lane=Lane.LEDGER,
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
        self._install()
        emit(self.loaded)

    def _failed(self, exc: GavelError) -> None:
        self._stale = False
        log.warning("overview not read: %s", exc.message)
        self.page.set_error(exc.message)
        self._install()
        emit(self.loaded)

    def export(self, what: str) -> None:
        """Ask where, then write the CSV on a worker; the status bar says where it went."""
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        path = self.choose_path(self.page, f"Export {what} as CSV", f"gavel-{what}-{stamp}.csv")
        if path is None:
            return
        service = self.ctx.overview
        write = service.export_overview_csv if what == "overview" else service.export_portfolio_csv

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> Path:
            return write(path)

        self.runner.run(
            work,
            key=f"overview-export-{what}",
            label=f"Exporting the {what}",
            on_success=self._exported,
            on_failure=lambda exc: self.host.show_notice(exc.message),
        )

    def export_pdf(self) -> None:
        """The overview on screen as a one-page PDF (drawn here: it is one page of text)."""
        if self.overview is None:
            self.host.show_status("The overview is still being read; export it in a moment.")
            return
        stamp = datetime.now(UTC).strftime("%Y%m%d")
        path = self.choose_path(self.page, "Export overview as PDF", f"gavel-overview-{stamp}.pdf")
        if path is None:
            return
        try:
            write_overview_pdf(self.overview, path)
        except GavelError as exc:
            self.host.show_notice(exc.message)
            return
        self._exported(path)

    def _exported(self, path: Path) -> None:
        self.host.show_status(f"Exported to {path}.")
        emit(self.exported, str(path))

    def open_drill(self, drill: Drill) -> None:
        """Open the list behind a figure: the portfolio here, other pages via the console."""
        if drill.page is DrillPage.PORTFOLIO:
            self.focus.show_models(drill.title, drill.models)
        else:
            emit(self.drill_requested, drill)
