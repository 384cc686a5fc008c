"""What the overview needs from the ledger's observations (alias and stage moves seen
by syncs), kept current incrementally: when each version arrived in production, and
which models have a move no approved request explains.

A ledger of a million events holds hundreds of thousands of observations; reading
them all at every overview refresh would take seconds. The index reads them once, then
only the events appended since (the ledger is append-only, so what it has read never
changes), under a lock so the console's workers share one copy.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from app.domain.errors import StoreUnreachable
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.ledger_query import LedgerQuery, stage_move_of
from app.domain.review_schedule import VersionKey, production_arrivals
from app.services.audit import AuditService
from app.services.authority import LedgerLink

_MODEL_ACTIONS = (
    LedgerAction.ALIAS_OBSERVED.value,
    LedgerAction.REGISTRY_CHANGE_OBSERVED.value,
)


def unexplained_models(events: Iterable[LedgerEvent]) -> list[tuple[str, str]]:
    """(registry, model) of each recorded move no approved promotion explains (one per
    violation, in ledger order), by the rule of ``ChangeObserver.violations``."""
    out = []
    for e in events:
        after = e.after if isinstance(e.after, Mapping) else {}
        if not after.get("unapproved") or not e.subject.startswith("model:"):
            continue
        if e.action == LedgerAction.REGISTRY_CHANGE_OBSERVED and stage_move_of(e) is None:
            continue
        reg, _, model = e.subject[len("model:") :].partition("/")
        out.append((reg, model))
    return out


class ObservationIndex:
    def __init__(self, audit: AuditService, link: LedgerLink | None = None) -> None:
        """link: as AuthorityLedger's (team mode): answer from what was read while the
        shared ledger does not answer, and tell it why."""
        self._audit = audit
        self._link = link
        self._lock = threading.Lock()
        self._seq = 0
        self._arrivals: dict[VersionKey, datetime] = {}
        # Counted per model: a million-event ledger holds hundreds of thousands of
        # unexplained moves on about a thousand models, and the overview wants the count
        # and the models, never the list (copying and sorting it cost ~30 ms a read).
        self._violations: Counter[tuple[str, str]] = Counter()

    def read(self) -> tuple[dict[VersionKey, datetime], dict[tuple[str, str], int]]:
        """(arrivals in production, unexplained moves per model), as of the head."""
        with self._lock:
            link = self._link
            if link is None or not link.lost:
                try:
                    self._catch_up()
                except StoreUnreachable as exc:
                    if link is None:
                        raise
                    link.mark_lost(exc.message)
            return dict(self._arrivals), dict(self._violations)

    def _catch_up(self) -> None:
        head = self._audit.store.head()
        if head is None or head.seq <= self._seq:
            return
        start = self._seq + 1
        models = self._audit.page(
            LedgerQuery(subject_prefix="model:", actions=_MODEL_ACTIONS, from_seq=start),
            limit=None,
        )
        baselines = self._audit.page(
            LedgerQuery(
                subject_prefix="registry:",
                actions=(LedgerAction.REGISTRY_CHANGE_OBSERVED.value,),
                from_seq=start,
            ),
            limit=None,
        )
        events = sorted(models + baselines, key=lambda e: e.seq)
        production_arrivals(events, self._arrivals)
        self._violations.update(unexplained_models(models))
        self._seq = head.seq
