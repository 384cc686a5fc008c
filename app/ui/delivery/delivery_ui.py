"""Delivery in the console: the Delivery page, installed through the host.

The report is computed when the page is shown (never at start-up), after every sync
once it has been shown, and whenever the filters change; always on the task runner.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import LazySlot

if TYPE_CHECKING:  # imports matplotlib: only when the page is first shown
    from app.ui.delivery.delivery_page import DeliveryPage

DELIVERY_PAGE = "delivery"


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
        host.on_page_shown(self._page_shown)
        focus.on_synced(self._synced)
        host.on_shutdown(self._shutdown)

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
        # A sync may have recorded alias moves: refresh what is (or was) on screen.
        if self._shown:
            self.page.reload()
