"""The console assembled: the shell's window and the features it hosts.

The one module of app/ui that knows every feature. It builds the window, installs
each feature through the host (the window) and the model focus (the portfolio),
says in which order the pages stand, and wires the two links between features:
governance's "show in audit trail" and the audit trail's view of governance
state. Features never import one another, nor the shell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.ui.common.resources import follow_palette, icon
from app.ui.common.settings import read_str
from app.ui.common.tasks import CrashCallback, TaskRunner
from app.ui.overview.first_screen import OVERVIEW_PAGE, OverviewFirstScreen, read_tiers
from app.ui.portfolio.first_screen import (
    PORTFOLIO_PAGE,
    FirstScreenTable,
    read_first_screen,
)
from app.ui.shell.main_window import MainWindow

if TYPE_CHECKING:  # the features import SQLAlchemy and the services: after the first paint
    from app.domain.overview import Drill
    from app.ui.audit.audit_ui import AuditUi
    from app.ui.common.context import ConsoleContext, ConsolePaths
    from app.ui.delivery.delivery_ui import DeliveryUi
    from app.ui.governance.audit_bundles import AuditBundles
    from app.ui.governance.findings_page import FindingsPage
    from app.ui.governance.governance_ui import GovernanceUi
    from app.ui.insights.insights_ui import InsightsUi
    from app.ui.overview.overview_ui import OverviewUi
    from app.ui.portfolio.portfolio_ui import PortfolioUi
    from app.ui.serving.serving_ui import ServingUi
    from app.ui.settings.settings_page import SettingsUi


class FirstScreenPaths(Protocol):
    """What stage one of the start needs: the console's settings and the cache file."""

    @property
    def config_dir(self) -> Path: ...

    @property
    def log_dir(self) -> Path: ...

    @property
    def log_file(self) -> Path: ...

    @property
    def cache_db(self) -> Path: ...


@dataclass(frozen=True)
class Console:
    window: MainWindow
    runner: TaskRunner
    overview: OverviewUi
    portfolio: PortfolioUi
    insights: InsightsUi
    governance: GovernanceUi
    audit: AuditUi
    serving: ServingUi
    delivery: DeliveryUi
    settings: SettingsUi
    bundles: AuditBundles
    findings: FindingsPage

    def start(self, start_demo: bool) -> None:
        """After show: endpoint polling once the window painted; the demo if wanted."""
        self.window.after_first_paint(self.serving.start_polling)
        self.portfolio.start(start_demo)


def page_order() -> tuple[str, ...]:
    from app.ui.audit.audit_ui import AUDIT_PAGE
    from app.ui.delivery.delivery_ui import DELIVERY_PAGE
    from app.ui.governance.findings_page import FINDINGS_PAGE
    from app.ui.governance.governance_ui import APPROVALS_PAGE, VIOLATIONS_PAGE
    from app.ui.serving.serving_ui import ENDPOINTS_PAGE
    from app.ui.settings.settings_page import SETTINGS_PAGE

    return (
        OVERVIEW_PAGE,
        PORTFOLIO_PAGE,
        APPROVALS_PAGE,
        AUDIT_PAGE,
        VIOLATIONS_PAGE,
        ENDPOINTS_PAGE,
        FINDINGS_PAGE,
        DELIVERY_PAGE,
        SETTINGS_PAGE,
    )


def open_window(
    paths: ConsolePaths, crash: CrashCallback | None = None
) -> tuple[MainWindow, TaskRunner]:
    """The bare shell: menus, toolbar, status bar and no page yet; styled, not shown."""
    runner = TaskRunner(crash=crash)
    window = MainWindow(paths, runner)
    runner.setParent(window)
    # Styled from the palette now and again whenever it changes (light or dark).
    follow_palette(window)
    window.setWindowIcon(icon("app"))
    return window, runner


def open_first_screen(
    paths: FirstScreenPaths, crash: CrashCallback | None = None
) -> tuple[MainWindow, TaskRunner]:
    """Stage one of the start: the window with the cached portfolio's first rows.

    Reads the cache with sqlite3 and imports no service, no SQLAlchemy, no connector
    and no chart library: `attach_features` (stage two) brings those, after the window
    painted, and puts the real portfolio page in the first screen's place.
    """
    window, runner = open_window(paths, crash)
    # The console opens on the Overview: its first screen is what paints first, so the
    # window never shows the portfolio and then jumps to another page.
    window.add_placeholder_page(
        OVERVIEW_PAGE, "Overview", OverviewFirstScreen(read_tiers(paths.cache_db))
    )
    registry = read_str(window.settings, "portfolio/registry") or None
    table = FirstScreenTable(read_first_screen(paths.cache_db, registry))
    window.add_placeholder_page(PORTFOLIO_PAGE, "Portfolio", table)
    window.select_page(OVERVIEW_PAGE)
    return window, runner


def attach_features(
    window: MainWindow,
    runner: TaskRunner,
    ctx: ConsoleContext,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Console:
    """Stage two: build every feature into the window through the host."""
    from app.ui.audit.audit_ui import AuditUi
    from app.ui.delivery.delivery_ui import DeliveryUi
    from app.ui.governance.audit_bundles import AuditBundles
    from app.ui.governance.findings_page import install_findings_page
    from app.ui.governance.governance_ui import GovernanceUi
    from app.ui.insights.insights_ui import InsightsUi
    from app.ui.overview.overview_ui import OverviewUi
    from app.ui.portfolio.portfolio_ui import PortfolioUi
    from app.ui.serving.serving_ui import ServingUi
    from app.ui.settings.settings_page import SettingsUi

    window.set_page_order(page_order())
    portfolio = PortfolioUi(window, ctx, runner, clock)
    # Detail tabs stand in install order: Run, Lineage, Metrics, Compare, Governance.
    focus = portfolio.focus
    insights = InsightsUi(focus, ctx, runner)
    governance = GovernanceUi(window, focus, ctx, runner)
    audit = AuditUi(window, focus, ctx, runner, governance.controller)
    governance.event_requested.connect(audit.show_event)
    serving = ServingUi(window, focus, ctx, runner, clock)
    delivery = DeliveryUi(window, focus, ctx, runner, clock)
    settings = SettingsUi(window, ctx, runner)
    bundles = AuditBundles(window, ctx, runner, window)
    findings = install_findings_page(window, focus, ctx, runner, governance.controller)
    # The managers' first page: its figures open lists on the other features' pages.
    overview = OverviewUi(
        window,
        focus,
        ctx,
        runner,
        [("Add a registry…", portfolio.add_registry), ("Start the demo", portfolio.start_demo)],
    )
    overview.drill_requested.connect(lambda d: _open_drill(d, governance, serving))
    governance.controller.ledger_written.connect(overview.refresh)
    findings.attach(governance.approvals.detail, audit.page)
    window.restore_state()
    window.select_page(OVERVIEW_PAGE)
    return Console(
        window, runner, overview, portfolio, insights, governance, audit, serving, delivery,
        settings, bundles, findings,
    )  # fmt: skip


def _open_drill(drill: Drill, governance: GovernanceUi, serving: ServingUi) -> None:
    """A figure's list on another feature's page."""
    from app.domain.overview import DrillPage  # stage two: the domain is not in stage one

    if drill.page is DrillPage.APPROVALS:
        governance.show_requests(drill.requests)
    elif drill.page is DrillPage.VIOLATIONS:
        governance.show_violations()
    elif drill.page is DrillPage.ENDPOINTS:
        serving.show_endpoints(drill.endpoints)


def build_console(
    ctx: ConsoleContext,
    crash: CrashCallback | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Console:
    """The main window over a context with every feature installed, styled; not shown
    (tests call this directly; the console starts in two stages, see app/ui/main.py)."""
    window, runner = open_window(ctx.paths, crash)
    return attach_features(window, runner, ctx, clock)
