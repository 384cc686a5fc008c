"""Team mode: the ledger lives in a shared PostgreSQL; this desktop keeps a verified
local replica in its cache so every decision stays reviewable offline."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.domain.cancel import CancelToken
from app.domain.ledger import LedgerError
from app.domain.progress import ProgressCallback, no_progress
from app.services.audit import AuditService, PullResult
from app.stores.ledger_store import LedgerStore

log = logging.getLogger("gavel.team_ledger")


class ReadOnlyAudit(AuditService):
    """The local replica while the team ledger is unreachable: read, never write.

    Writing to the replica would fork its chain from the shared one, so every write
    is refused with a sentence saying why.
    """

    def __init__(self, store: LedgerStore, reason: str) -> None:
        super().__init__(store)
        self.reason = reason

    def _refuse(self) -> LedgerError:
        return LedgerError(
            f"{self.reason} Decisions and other ledger entries need the team ledger; "
            "everything already pulled stays readable."
        )

    def record(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise self._refuse()

    def enroll_key(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise self._refuse()

    def revoke_key(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise self._refuse()


class TeamLedger:
    """Pulls the shared ledger into the local replica, verifying every event."""

    def __init__(
        self,
        shared: LedgerStore,
        replica: LedgerStore,
        audit: AuditService,
        close: Callable[[], None] = lambda: None,
    ) -> None:
        self.close = close
        self._shared = shared
        self._replica = replica
        self._audit = audit

    def pull(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> PullResult:
        """Copy new shared events into the replica; LedgerTampered if history changed."""
        result = self._audit.pull_replica(self._shared, self._replica, progress, cancel)
        log.info("pulled %d ledger events (head %s)", result.imported, result.head)
        return result
