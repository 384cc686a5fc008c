"""Team mode: the ledger lives in a shared PostgreSQL; this desktop keeps a verified
local replica (ledger.sqlite3) so every decision stays reviewable offline.

The replica is pulled at start-up, after every write this desktop makes and at every
sync. When the shared ledger cannot be reached at start-up, the replica is served
read-only and every view says how old it is ("as of replica <time>, N events").

When it stops answering while Gavel runs (``lost``), reads answer from what was
already read, decisions go to the outbox, and ``pull`` (which the console retries)
brings it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError, StoreUnreachable
from app.domain.ledger import LedgerError, LedgerEvent
from app.domain.ledger_query import LedgerQuery
from app.domain.progress import ProgressCallback, no_progress
from app.services.audit import AuditService, PullResult
from app.services.team_setup import META_REPLICA_OF
from app.stores.ledger_store import LedgerAppend, LedgerStore

log = logging.getLogger("gavel.team_ledger")

T = TypeVar("T")

# ledger_meta keys of a replica (META_REPLICA_OF, the shared genesis hash, is team_setup's)
META_PULLED_AT = "pulled_at"  # ISO time of the last successful pull
META_PULLED_EVENTS = "pulled_events"


class ReplicaStale(GavelError):
    """The shared ledger accepted a write, but the local replica could not be updated."""


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

    def record(self, *args: object, **kwargs: object) -> LedgerEvent:
        raise self._refuse()

    @contextmanager
    def appending(self) -> Iterator[LedgerAppend]:
        raise self._refuse()
        yield  # unreachable: makes this a generator like the method it overrides


class TeamAudit(AuditService):
    """The shared ledger, whose reads fall back to the verified replica while it is lost.

    Writes (``appending``, ``record``) always go to the shared ledger and fail while it
    does not answer. Reads (the audit trail, violations, alias history) try it unless it
    is known lost; when it does not answer they say so to the team ledger (``lost``) and
    answer from the replica, up to the head of its last verified pull: a row past it
    never came from the team ledger.
    """

    def __init__(self, shared: LedgerStore, replica: LedgerStore) -> None:
        super().__init__(shared)
        self._replica_store = replica
        self._replica = AuditService(replica)
        self.team: TeamLedger | None = None  # set once the team ledger exists

    def _read(self, fn: Callable[[AuditService, int | None], T]) -> T:
        """fn(audit, last seq it may read: None for the shared ledger, all of it)."""
        team = self.team
        if team is None or not team.lost:
            try:
                return fn(self, None)
            except StoreUnreachable as exc:
                if team is None:
                    raise
                team.mark_lost(exc.message)
        return fn(self._replica, replica_status(self._replica_store)[1])

    # Each calls AuditService's own method on the shared ledger (self) or the replica.
    def count(self, query: LedgerQuery | None = None) -> int:
        return self._read(lambda a, cap: AuditService.count(a, _capped(query, cap)))

    def seqs(self, query: LedgerQuery | None = None, limit: int | None = None) -> list[int]:
        return self._read(lambda a, cap: AuditService.seqs(a, _capped(query, cap), limit))

    def genesis_hash(self) -> str | None:
        return self._read(lambda a, _cap: AuditService.genesis_hash(a))

    def page(
        self, query: LedgerQuery | None = None, limit: int | None = 200, descending: bool = False
    ) -> list[LedgerEvent]:
        return self._read(
            lambda a, cap: AuditService.page(a, _capped(query, cap), limit, descending)
        )

    def events(self, seqs: Sequence[int]) -> list[LedgerEvent]:
        return self._read(
            lambda a, cap: AuditService.events(a, [s for s in seqs if cap is None or s <= cap])
        )


def _capped(query: LedgerQuery | None, cap: int | None) -> LedgerQuery | None:
    if cap is None:
        return query
    query = query or LedgerQuery()
    upper = cap if query.to_seq is None else min(query.to_seq, cap)
    return replace(query, to_seq=upper)


@dataclass(frozen=True)
class TeamStatus:
    """Where this desktop's ledger lives and how fresh its view of it is.

    online: the shared ledger answered at start-up and has not stopped since (writes go
        there).
    pulled_at / pulled_events: the replica's last successful pull.
    problem: the last pull's failure as a sentence ('' when it worked).
    """

    team: bool
    where: str = ""
    online: bool = False
    pulled_at: datetime | None = None
    pulled_events: int = 0
    problem: str = ""

    def describe(self) -> str:
        if not self.team:
            return "Solo ledger (this computer only)"
        if self.online and not self.problem:
            return f"Team ledger at {self.where}"
        return self.as_of()

    def as_of(self) -> str:
        """What a view built from the replica must say about its age."""
        when = self.pulled_at.astimezone().strftime("%Y-%m-%d %H:%M") if self.pulled_at else "never"
        return f"as of replica {when}, {self.pulled_events:,} events"


def replica_status(replica: LedgerStore) -> tuple[datetime | None, int]:
    pulled = replica.meta(META_PULLED_AT)
    count = replica.meta(META_PULLED_EVENTS)
    return (
        datetime.fromisoformat(pulled) if pulled else None,
        int(count) if count and count.isdigit() else 0,
    )


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
        self.problem = ""
        # Why the shared ledger stopped answering while Gavel ran ('' while it answers).
        self.lost = ""

    @property
    def where(self) -> str:
        return self._shared.where

    def mark_lost(self, reason: str) -> None:
        """The shared ledger did not answer a read or a write: until a pull succeeds,
        this desktop works from what it read, and decisions wait in the outbox."""
        if not self.lost:
            log.warning("team ledger lost: %s", reason)
        self.lost = reason
        self.problem = reason

    def pull(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> PullResult:
        """Copy new shared events into the replica; LedgerTampered if history changed."""
        try:
            result = self._audit.pull_replica(
                self._shared, self._replica, progress, cancel, pulled_key=META_PULLED_EVENTS
            )
        except StoreUnreachable as exc:
            self.mark_lost(exc.message)
            raise
        except GavelError as exc:
            self.problem = exc.message
            raise
        if self.lost:
            log.info("team ledger answers again")
        self.problem = self.lost = ""
        genesis = self._shared.genesis_hash()
        if genesis is not None:
            self._replica.set_meta(META_REPLICA_OF, genesis)
        self._replica.set_meta(META_PULLED_AT, datetime.now(UTC).isoformat())
        log.info("pulled %d ledger events (head %s)", result.imported, result.head)
        return result

    def pull_after_write(self) -> None:
        """After this desktop wrote to the shared ledger: bring the replica up to it."""
        try:
            self.pull()
        except GavelError as exc:
            raise ReplicaStale(
                "Recorded in the team ledger, but this computer's replica could not be "
                f"updated: {exc.message}"
            ) from None

    def status(self) -> TeamStatus:
        pulled_at, events = replica_status(self._replica)
        return TeamStatus(True, self.where, not self.lost, pulled_at, events, self.problem)
