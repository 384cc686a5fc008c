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

from app.ui.audit.audit_ui import AUDIT_PAGE, AuditUi
from app.ui.common.context import ConsoleContext
from app.ui.common.resources import follow_palette, icon
from app.ui.common.tasks import CrashCallback, TaskRunner
from app.ui.governance.governance_ui import APPROVALS_PAGE, VIOLATIONS_PAGE, GovernanceUi
from app.ui.insights.insights_ui import InsightsUi
from app.ui.portfolio.focus import PORTFOLIO_PAGE
from app.ui.portfolio.portfolio_ui import PortfolioUi
from app.ui.serving.serving_ui import ENDPOINTS_PAGE, ServingUi
from app.ui.settings.settings_page import SETTINGS_PAGE, SettingsUi
from app.ui.shell.main_window import MainWindow

PAGE_ORDER = (
    PORTFOLIO_PAGE,
    APPROVALS_PAGE,
    AUDIT_PAGE,
    VIOLATIONS_PAGE,
    ENDPOINTS_PAGE,
    SETTINGS_PAGE,
)


@dataclass(frozen=True)
class Console:
    window: MainWindow
    runner: TaskRunner
    portfolio: PortfolioUi
    insights: InsightsUi
    governance: GovernanceUi
    audit: AuditUi
    serving: ServingUi
    settings: SettingsUi

    def start(self, start_demo: bool) -> None:
        """After show: endpoint polling once the window painted; the demo if wanted."""
        self.window.after_first_paint(self.serving.start_polling)
        self.portfolio.start(start_demo)


def build_console(
    ctx: ConsoleContext,
    crash: CrashCallback | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Console:
    """The main window over a context with every feature installed, styled; not shown
    (tests call this directly)."""
    runner = TaskRunner(crash=crash)
    window = MainWindow(ctx.paths, runner)
    runner.setParent(window)
    window.set_page_order(PAGE_ORDER)
    portfolio = PortfolioUi(window, ctx, runner, clock)
    # Detail tabs stand in install order: Run, Lineage, Metrics, Compare, Governance.
    focus = portfolio.focus
    insights = InsightsUi(focus, ctx, runner)
    governance = GovernanceUi(window, focus, ctx, runner)
    audit = AuditUi(window, focus, ctx, runner, governance.controller)
    governance.event_requested.connect(audit.show_event)
    serving = ServingUi(window, focus, ctx, runner, clock)
    settings = SettingsUi(window, ctx, runner)
    window.restore_state()
    follow_palette(window)
    window.setWindowIcon(icon("app"))
    return Console(window, runner, portfolio, insights, governance, audit, serving, settings)
