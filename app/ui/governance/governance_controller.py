"""Keeps the console's view of governance fresh: one worker reads identity, roles,
requests and violations; the pages, badges and status bar follow its result.

Refreshed at start, after every sync, after every ledger write made from this
console, and every minute (in team mode other people decide on other desktops).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.progress import ProgressCallback
from app.services.governance_inbox import GovernanceData, load_governance
from app.ui.common.context import ConsoleContext
from app.ui.common.signals import emit
from app.ui.common.tasks import Lane, TaskRunner

log = logging.getLogger("gavel.ui.governance")

REFRESH_TASK = "governance-refresh"
REFRESH_INTERVAL_MS = 60_000


class GovernanceController(QObject):
    changed = Signal(object)  # GovernanceData
    failed = Signal(str)
    # Something this console wrote to the ledger (a decision, a role, an export).
    ledger_written = Signal()

    def __init__(
        self,
        ctx: ConsoleContext,
        runner: TaskRunner,
        parent: QObject | None = None,
        interval_ms: int = REFRESH_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.data = GovernanceData()
        self.error = ""
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._stopped = False

    @property
    def refreshing(self) -> bool:
        return self.runner.is_running(REFRESH_TASK)

    def refresh(self) -> None:
        if self._stopped:
            return
        ctx = self.ctx

        def load(cancel: CancelToken, _progress: ProgressCallback) -> GovernanceData:
            return load_governance(
                ctx.governance, ctx.observer, ctx.team_status, cancel, ctx.outbox
            )

        self.runner.run(
            load,
            key=REFRESH_TASK,
            lane=Lane.LEDGER,
            label="Reading governance state",
            on_success=self._loaded,
            on_failure=self._failed,
        )

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call back after every refresh (for pages that read only who is who)."""
        self.changed.connect(lambda _data: callback())

    def known_users(self) -> list[str]:
        return sorted(self.data.identities)

    def acting_user(self) -> str | None:
        return self.data.me.user_id if self.data.me else None

    def wrote(self) -> None:
        """Call after a write to the ledger made from this console."""
        emit(self.ledger_written)
        self.refresh()

    def stop(self) -> None:
        """At shutdown: no more refreshes (the runner refuses new tasks then)."""
        self._stopped = True
        self._timer.stop()

    def _loaded(self, data: GovernanceData) -> None:
        self.data = data
        self.error = ""
        emit(self.changed, data)

    def _failed(self, exc: GavelError) -> None:
        if isinstance(exc, Cancelled):
            return
        log.warning("governance state could not be read: %s", exc.message)
        self.error = f"The governance state could not be read: {exc.message}"
        emit(self.failed, self.error)
