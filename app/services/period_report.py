"""The period report: every promotion applied, every request rejected and every
violation recorded in a date range, read from the ledger's fold and its observations.

Dates are UTC days, both ends included. A promotion counts on the day it was applied,
a rejection on the day it was signed, a violation on the day a sync recorded it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.domain.errors import UsageError
from app.domain.governance import RequestState
from app.services.governance import GovernanceService
from app.services.observations import ChangeObserver


@dataclass(frozen=True)
class PeriodEntry:
    """One line of the report; kind is 'promotion', 'rejection' or 'violation'."""

    kind: str
    at: datetime
    registry: str
    model: str
    version: int | None
    target: str
    request_id: str
    by: str
    detail: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


@dataclass(frozen=True)
class PromotionsReport:
    start: date
    end: date
    entries: tuple[PeriodEntry, ...]  # oldest first

    def of_kind(self, kind: str) -> list[PeriodEntry]:
        return [e for e in self.entries if e.kind == kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "counts": {k: len(self.of_kind(k)) for k in ("promotion", "rejection", "violation")},
            "entries": [e.to_json() for e in self.entries],
        }


def parse_day(text: str, option: str) -> date:
    """A YYYY-MM-DD day, or a UsageError naming the option."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} takes a day as YYYY-MM-DD, not '{text}'.") from None


def promotions_report(
    governance: GovernanceService, observer: ChangeObserver, start: date, end: date
) -> PromotionsReport:
    """Promotions, rejections and violations from the start of ``start`` to the end of
    ``end`` (UTC)."""
    if end < start:
        raise UsageError(
            f"The period ends ({end}) before it starts ({start}); swap --from and --to."
        )
    since = datetime.combine(start, time.min, UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, UTC)

    def within(when: datetime | None) -> bool:
        return when is not None and since <= when < until

    entries: list[PeriodEntry] = []
    for view in governance.views():
        r = view.request
        ident = r.identity
        if r.state is RequestState.APPLIED and within(r.closed_at):
            approvers = ", ".join(d.actor for d in r.approvals) or "nobody"
            entries.append(
                PeriodEntry(
                    "promotion",
                    r.closed_at or r.created_at,
                    ident.registry,
                    ident.model,
                    ident.version,
                    r.target_name.replace("'", ""),
                    r.request_id,
                    r.requester,
                    f"approved by {approvers}; {r.state_reason}",
                    r.applied_seq or r.created_seq,
                )
            )
        elif r.state is RequestState.REJECTED and within(r.closed_at):
            rejection = next(
                (d for d in reversed(r.decisions) if d.meaning.value == "rejection"), None
            )
            entries.append(
                PeriodEntry(
                    "rejection",
                    r.closed_at or r.created_at,
                    ident.registry,
                    ident.model,
                    ident.version,
                    r.target_name.replace("'", ""),
                    r.request_id,
                    rejection.actor if rejection else "",
                    rejection.comment if rejection else r.state_reason,
                    rejection.seq if rejection else r.created_seq,
                )
            )
    for v in observer.violations():
        if within(v.at):
            entries.append(
                PeriodEntry(
                    "violation",
                    v.at,
                    v.registry,
                    v.model,
                    v.after,
                    f"stage {v.stage_after}" if v.is_stage else f"alias {v.alias}",
                    "",
                    v.observed_by,
                    v.describe(),
                    v.seq,
                )
            )
    entries.sort(key=lambda e: (e.at, e.seq))
    return PromotionsReport(start, end, tuple(entries))
