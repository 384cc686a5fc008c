"""Delivery in the console: the Delivery page, installed through the host.

The report is computed when the page is shown, after every sync once it has been
shown, and whenever the filters change; always on the task runner. Until the page is
first shown, the ledger's summary the report rests on is kept current in the
background (after the first paint, and after each sync), a span of events at a time on
the ledger lane, so the first report of a session reads only what arrived since.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.common.widgets import LazySlot

log = logging.getLogger("gavel.ui.delivery")

if TYPE_CHECKING:  # imports matplotlib: only when the page is first shown
    from app.ui.delivery.delivery_page import DeliveryPage

DELIVERY_PAGE = "delivery"
WARM_TASK = "delivery.warm"
# Ledger events summarised per background step: about a second's work, so other
# ledger readers queued behind a step wait little.
WARM_SPAN = 100_000


class DeliveryUi(QObject):
    def __init__(
        self,
        host: Host,
        focus: ModelFocus,
        ctx: ConsoleContext,
        runner: TaskRunner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()

        def build() -> QWidget:
            from app.ui.delivery.delivery_page import DeliveryPage

            return DeliveryPage(
                ctx.delivery,
                runner,
                today=lambda: clock().astimezone(UTC).date(),
                track=host.track_task,
            )

        # Built the first time it is shown: its charts need matplotlib, which start-up
        # should not pay for while the page is not open.
        self.slot = LazySlot(build)
        self.setParent(self.slot)
        host.add_page(
            DELIVERY_PAGE,
            "Delivery",
            self.slot,
            tooltip="Delivery metrics: lead time, approval cycle, promotion frequency, "
            "rollback and change-failure rates, time to restore",
        )
        self._shown = False
        self._ctx = ctx
        self._runner = runner
        self.warm_span = WARM_SPAN
        host.on_page_shown(self._page_shown)
        focus.on_synced(self._synced)
        host.on_shutdown(self._shutdown)
        host.after_first_paint(self.warm)

    def warm(self) -> None:
        """Bring the ledger's summary up to the head in the background, a span at a time
        (each step queues behind whatever else reads the ledger)."""
        if self._shown or self._runner.is_running(WARM_TASK):
            return  # the page's own reports keep it current from now on
        delivery, span = self._ctx.delivery, self.warm_span

        def work(cancel: CancelToken, _progress: ProgressCallback) -> bool:
            return delivery.warm(span, cancel)

        def done(at_head: bool) -> None:
            if not at_head:
                self.warm()

        def failed(exc: GavelError) -> None:
            log.info("delivery summary not read ahead: %s", exc.message)

        self._runner.run(work, key=WARM_TASK, lane=Lane.LEDGER, on_success=done, on_failure=failed)

    @property
    def page(self) -> DeliveryPage:
        """The page, built now if it was not yet."""
        return cast("DeliveryPage", self.slot.widget)

    def _shutdown(self) -> None:
        if self.slot.is_built:
            self.page.shutdown()

    def _page_shown(self, key: str) -> None:
        # Each visit reads what the ledger recorded since (decisions taken on other
        # pages, other desks' events): only the new events, so it is quick.
        if key == DELIVERY_PAGE:
            self._shown = True
            self.page.reload()

    def _synced(self) -> None:
        # A sync may have recorded alias moves: refresh what is (or was) on screen, or
        # read them into the summary ahead of the page's first report.
        if self._shown:
            self.page.reload()
        else:
            self.warm()
