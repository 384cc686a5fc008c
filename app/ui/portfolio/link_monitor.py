"""Liveness per registry: one cheap request to each registry every minute, off the GUI
thread, so a server that went away (or came back) is noticed without a sync.

What a sync finds counts too: a sync that reached the registry says it is online, one
that could not says offline. Nothing from an earlier session is kept: a registry is
"checking…" until this session's first check or sync of it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from app.domain.cancel import CancelToken
from app.domain.errors import (
    AuthFailed,
    GavelError,
    PermissionDenied,
    RegistryUnavailable,
    SecretUnavailable,
)
from app.domain.registry import LinkState, RegistryLink
from app.services.sync import SyncOutcome
from app.ui.common.context import ConsoleContext
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskHandle, TaskRunner

log = logging.getLogger("gavel.ui.links")

LINK_TASK = "registry-links"
CHECK_INTERVAL_MS = 60_000


class LinkChecker(Protocol):
    def check_link(self, name: str) -> RegistryLink: ...


def check_links(
    service: LinkChecker, names: Sequence[str], cancel: CancelToken
) -> list[RegistryLink]:
    """One liveness request per registry, in turn (on a worker thread)."""
    links = []
    for name in names:
        cancel.raise_if_cancelled()
        links.append(service.check_link(name))
    return links


def link_of_sync(outcome: SyncOutcome, now: datetime) -> RegistryLink:
    """What a sync says of its registry's liveness."""
    error = outcome.error
    if error is None:
        return RegistryLink(outcome.registry, LinkState.ONLINE, now, "The sync succeeded.")
    if isinstance(error, RegistryUnavailable):
        return RegistryLink(outcome.registry, LinkState.OFFLINE, now, error.message)
    if isinstance(error, AuthFailed | PermissionDenied | SecretUnavailable):
        return RegistryLink(outcome.registry, LinkState.AUTH_FAILED, now, error.message)
    # Reached, but something else went wrong (bad data, the cache): it answers.
    return RegistryLink(outcome.registry, LinkState.ONLINE, now, error.message)


class LinkMonitor(QObject):
    """`links`: registry name -> what this session last found; `changed` after each news."""

    changed = Signal()

    def __init__(
        self,
        ctx: ConsoleContext,
        runner: TaskRunner,
        interval_ms: int = CHECK_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._runner = runner
        self.links: dict[str, RegistryLink] = {}
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check_now)

    def start(self) -> None:
        """Check every registry now, then every interval."""
        if not self.timer.isActive():
            self.timer.start()
            self.check_now()

    def stop(self) -> None:
        self.timer.stop()

    @property
    def checking(self) -> bool:
        return self._runner.is_running(LINK_TASK)

    def check_now(self) -> TaskHandle | None:
        """Check every configured registry on a worker; None when a check is running."""
        if self.checking:
            return None
        try:
            names = [c.name for c in self._ctx.registries.configs()]
        except GavelError as exc:
            log.warning("liveness check skipped: %s", exc.message)
            return None
        if not names:
            return None
        service = self._ctx.registries
        return self._runner.run(
            lambda cancel, _progress: check_links(service, names, cancel),
            key=LINK_TASK,
            on_success=self._checked,
            on_failure=lambda exc: log.warning("liveness check failed: %s", exc.message),
        )

    def record_sync(self, outcomes: Sequence[SyncOutcome]) -> None:
        now = datetime.now(UTC)
        for outcome in outcomes:
            self._record(link_of_sync(outcome, now))
        emit(self.changed)

    def forget(self, name: str) -> None:
        if self.links.pop(name, None) is not None:
            emit(self.changed)

    def _checked(self, links: list[RegistryLink]) -> None:
        known = {c.name for c in self._ctx.registries.configs()}
        for link in links:
            if link.registry in known:
                self._record(link)
        emit(self.changed)

    def _record(self, link: RegistryLink) -> None:
        """Keep the newest news: a slow check never overwrites a sync that ended later."""
        old = self.links.get(link.registry)
        if (
            old is not None
            and old.checked_at is not None
            and link.checked_at is not None
            and old.checked_at > link.checked_at
        ):
            return
        if link.state is LinkState.UNCHECKED:
            return
        if old is None or old.state is not link.state:
            log.info("registry %s is %s: %s", link.registry, link.state.value, link.message)
        self.links[link.registry] = link
