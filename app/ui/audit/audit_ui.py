"""The audit trail in the console: its page, filled after the first paint and after
every sync, and a way for other features to point at one event."""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.ui.audit.audit_page import AuditTrailPage
from app.ui.audit.governance_feed import GovernanceFeed
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.tasks import TaskRunner

AUDIT_PAGE = "audit"


class AuditUi(QObject):
    def __init__(
        self,
        host: Host,
        focus: ModelFocus,
        ctx: ConsoleContext,
        runner: TaskRunner,
        governance: GovernanceFeed,
    ) -> None:
        super().__init__()
        self.host = host
        self.page = AuditTrailPage(ctx, runner, governance)
        self.setParent(self.page)
        host.add_page(
            AUDIT_PAGE,
            "Audit trail",
            self.page,
            tooltip="Every recorded decision and observed change; verify and export",
        )
        self.page.message.connect(host.show_status)
        host.after_first_paint(self.page.load_subjects)
        focus.on_synced(self.page.load_subjects)
        host.on_shutdown(self.page.stop)

    def show_event(self, seq: int) -> None:
        """Open the audit trail on the event with this sequence number."""
        self.host.select_page(AUDIT_PAGE)
        self.page.jump_to(seq)
