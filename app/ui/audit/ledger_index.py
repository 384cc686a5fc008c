"""Which ledger events the audit trail lists, and reading them in blocks: blocking
functions the audit table model runs in workers (see audit_model)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.cancel import CancelToken
from app.domain.ledger import LedgerEvent, LedgerTampered
from app.domain.ledger_query import LedgerQuery
from app.services.audit import AuditService


@dataclass(frozen=True)
class Unreadable:
    """An event whose stored record cannot be read back (tampered or corrupt)."""

    seq: int
    message: str


@dataclass(frozen=True)
class SeqIndex:
    """The model's rows: either the range 1..last (unfiltered) or an explicit list."""

    last: int = 0
    seqs: tuple[int, ...] | None = None  # ascending; None: the range 1..last

    def __len__(self) -> int:
        return self.last if self.seqs is None else len(self.seqs)

    def ascending_at(self, position: int) -> int:
        return position + 1 if self.seqs is None else self.seqs[position]

    def position_of(self, seq: int) -> int | None:
        if self.seqs is None:
            return seq - 1 if 1 <= seq <= self.last else None
        i = bisect.bisect_left(self.seqs, seq)
        return i if i < len(self.seqs) and self.seqs[i] == seq else None

    def nearest_position(self, seq: int) -> int | None:
        if len(self) == 0:
            return None
        if self.seqs is None:
            return min(max(seq, 1), self.last) - 1
        return min(bisect.bisect_left(self.seqs, seq), len(self.seqs) - 1)


def is_unfiltered(query: LedgerQuery) -> bool:
    return query == LedgerQuery()


def load_index(audit: AuditService, query: LedgerQuery, cancel: CancelToken) -> SeqIndex:
    """Blocking: which seqs the query matches (see audit_model's docstring)."""
    if is_unfiltered(query):
        total = audit.count()
        last = audit.seqs(LedgerQuery(from_seq=total), limit=None) if total else []
        # Gapless 1..N: the N-th seq is N and nothing follows it. Otherwise (events
        # deleted or inserted behind Gavel's back) fall back to the explicit list.
        if not total or last == [total]:
            return SeqIndex(total)
    cancel.raise_if_cancelled()
    return SeqIndex(0, tuple(audit.seqs(query)))


def appended(old: SeqIndex, new: SeqIndex) -> int | None:
    """How many seqs `new` adds after those of `old` (None: it is not an extension)."""
    if old.seqs is None and new.seqs is None:
        return new.last - old.last if new.last >= old.last else None
    if old.seqs is not None and new.seqs is not None:
        held = len(old.seqs)
        return len(new.seqs) - held if new.seqs[:held] == old.seqs else None
    return None


def load_events(audit: AuditService, seqs: Sequence[int]) -> dict[int, LedgerEvent | Unreadable]:
    """Blocking: the events of `seqs`; records that cannot be read are marked, not fatal."""
    try:
        return {e.seq: e for e in audit.events(seqs)}
    except LedgerTampered:
        out: dict[int, LedgerEvent | Unreadable] = {}
        for seq in seqs:
            try:
                out.update({e.seq: e for e in audit.events([seq])})
            except LedgerTampered as exc:
                out[seq] = Unreadable(seq, exc.message)
        return out
