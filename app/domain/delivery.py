"""Delivery metrics, in the spirit of the DORA measures: pure rules over facts read from
the audit ledger and the registry cache (``services.delivery`` gathers them).

Definitions (the README's "Delivery metrics" says the same in words):

- **production** is a model's alias ``production`` or ``champion``, or the MLflow stage
  ``Production`` (``PRODUCTION_ALIASES``, ``PRODUCTION_STAGE``);
- a **promotion** is a version reaching production for the first time (on any of its
  model's production targets), whether through an applied request or seen by a sync
  with no request. What a first sync finds already in production is the baseline, not
  a promotion; a version that comes back to production is not promoted again;
- a **rollback** is a production target moved back to a version that reached
  production before the one it replaces, within ``ROLLBACK_WINDOW`` (30 days) of the
  replaced version's arrival on that target; the replaced version's promotion counts
  as rolled back. A move to an older version number that was never in production is a
  promotion, not a rollback;
- **lead time**: from the version's registration (the registry's creation timestamp)
  to its promotion;
- **approval cycle**: request to decision (the last approval, or the rejection), and
  decision to applied;
- **promotion frequency**: promotions per team and calendar month (UTC);
- **rollback rate**: promotions rolled back / promotions;
- **change-failure rate**: promotions followed, within 30 days and before the model's
  next promotion, by a rollback, a serving drift or an outage / promotions;
- **time to restore**: from the start of a serving drift or an outage to the endpoint
  serving the right version (or answering) again.

Distributions give the count, the median and the 90th percentile (nearest rank);
rates give numerator and denominator. Every time is an aware datetime in UTC; input in
another offset is converted, a naive one is refused.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.domain.errors import UsageError

PRODUCTION_ALIASES = ("production", "champion")
PRODUCTION_STAGE = "Production"
ROLLBACK_WINDOW = timedelta(days=30)
FAILURE_WINDOW = timedelta(days=30)
NO_TEAM = "(no team)"

ModelKey = tuple[str, str]  # (registry, model)
VersionKey = tuple[str, str, int]  # (registry, model, version)


def utc(at: datetime) -> datetime:
    """The same instant in UTC; a time without an offset is refused (it is ambiguous)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise UsageError(
            f"The time {at.isoformat()} has no time zone; delivery metrics need times with "
            "an offset (UTC is used throughout)."
        )
    return at.astimezone(UTC)


def is_production_alias(alias: str) -> bool:
    return alias in PRODUCTION_ALIASES


def alias_target(alias: str) -> str:
    return f"alias '{alias}'"


def stage_target() -> str:
    return f"stage {PRODUCTION_STAGE}"


# ------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class ProductionMove:
    """A production target of a model seen or set to point at a version (None: removed).

    seq orders moves (ledger order wins over timestamps). baseline: what the first sync
    of a registry found, already there before Gavel watched (never a promotion).
    request_id: the applied request that made the move; None for a move seen by a sync.
    """

    seq: int
    at: datetime
    registry: str
    model: str
    target: str
    version: int | None
    request_id: str | None = None
    baseline: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at))


class RequestOutcome(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"
    CLOSED = "closed"  # withdrawn, expired or stopped without a decision that counts


@dataclass(frozen=True)
class RequestRecord:
    """A promotion request as the authority fold accepted it.

    decided_at: the last approval before it was applied (when it became approved), or
        the rejection; None while undecided.
    version_created_at: the version's registration time as the request recorded it.
    """

    request_id: str
    registry: str
    model: str
    version: int
    requested_at: datetime
    outcome: RequestOutcome
    decided_at: datetime | None = None
    applied_at: datetime | None = None
    version_created_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("requested_at", "decided_at", "applied_at", "version_created_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, utc(value))


class IncidentKind(StrEnum):
    DRIFT = "serving drift"
    OUTAGE = "outage"


@dataclass(frozen=True)
class Incident:
    """A serving drift or an outage of one endpoint of a model; restored_at None: open."""

    registry: str
    model: str
    endpoint: str
    kind: IncidentKind
    started_at: datetime
    restored_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", utc(self.started_at))
        if self.restored_at is not None:
            object.__setattr__(self, "restored_at", utc(self.restored_at))

    @property
    def time_to_restore(self) -> timedelta | None:
        return None if self.restored_at is None else self.restored_at - self.started_at


@dataclass(frozen=True)
class DeliveryInputs:
    """Everything the metrics are computed from.

    moves: production moves in ledger order (the whole history: a window needs what came
        before it).
    teams: (registry, model) -> the model's team tag as cached.
    created: (registry, model, version) -> the version's registration time (registry).
    """

    moves: Sequence[ProductionMove] = ()
    requests: Sequence[RequestRecord] = ()
    incidents: Sequence[Incident] = ()
    teams: Mapping[ModelKey, str] = field(default_factory=dict)
    created: Mapping[VersionKey, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryFilter:
    """Which facts a report covers: [start, end) in UTC, and one team (case-insensitive)."""

    start: datetime | None = None
    end: datetime | None = None
    team: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None:
            object.__setattr__(self, "start", utc(self.start))
        if self.end is not None:
            object.__setattr__(self, "end", utc(self.end))
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(
                f"The period ends ({self.end:%Y-%m-%d %H:%M} UTC) before it starts "
                f"({self.start:%Y-%m-%d %H:%M} UTC); give a start before the end."
            )

    def covers(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)

    def takes(self, team: str) -> bool:
        return self.team is None or team.casefold() == self.team.casefold()


# ----------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Distribution:
    """count durations; median and p90 (nearest rank) are None when there are none."""

    count: int
    median: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, durations: Iterable[timedelta]) -> Distribution:
        seconds = sorted(d.total_seconds() for d in durations)
        if not seconds:
            return cls(0, None, None)
        rank = max(1, math.ceil(0.9 * len(seconds)))
        return cls(
            len(seconds),
            timedelta(seconds=statistics.median(seconds)),
            timedelta(seconds=seconds[rank - 1]),
        )

    def to_json(self) -> dict[str, float | int | None]:
        def hours(d: timedelta | None) -> float | None:
            return None if d is None else round(d.total_seconds() / 3600, 4)

        return {
            "count": self.count,
            "median_hours": hours(self.median),
            "p90_hours": hours(self.p90),
        }


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return None if self.denominator == 0 else self.numerator / self.denominator

    def to_json(self) -> dict[str, float | int | None]:
        value = self.value
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "rate": None if value is None else round(value, 4),
        }


@dataclass(frozen=True)
class Promotion:
    """A version's first arrival in production, and what followed it."""

    seq: int
    at: datetime
    registry: str
    model: str
    team: str
    target: str
    version: int
    request_id: str | None
    lead_time: timedelta | None
    rolled_back_at: datetime | None = None
    failed_by: str = ""  # "", "rollback", "serving drift", "outage"

    @property
    def month(self) -> str:
        return f"{self.at:%Y-%m}"


@dataclass(frozen=True)
class Rollback:
    seq: int
    at: datetime
    registry: str
    model: str
    team: str
    target: str
    from_version: int
    to_version: int
    # How long the replaced version had been in production.
    after: timedelta


@dataclass(frozen=True)
class MonthCount:
    team: str
    month: str  # YYYY-MM, UTC
    promotions: int
    with_request: int

    @property
    def without_request(self) -> int:
        return self.promotions - self.with_request


@dataclass(frozen=True)
class TeamFigures:
    team: str
    promotions: int
    lead_time: Distribution
    request_to_decision: Distribution
    decision_to_applied: Distribution
    request_to_applied: Distribution
    rollback_rate: Rate
    change_failure_rate: Rate
    time_to_restore: Distribution
    open_incidents: int


@dataclass(frozen=True)
class DeliveryReport:
    filter: DeliveryFilter
    overall: TeamFigures
    teams: list[TeamFigures]
    months: list[MonthCount]
    promotions: list[Promotion]
    rollbacks: list[Rollback]
    incidents: list[Incident]
    # Promotions whose registration time is unknown (no request, not in the cache).
    unknown_lead_time: int = 0

    @property
    def month_axis(self) -> list[str]:
        """Every month (YYYY-MM, UTC) the promotions-per-month chart spans, those with
        no promotion included: a month left out of the axis would hide that nothing
        reached production then. The period's months where it is bounded, else from the
        first promotion's month to the last's; [] without promotions."""
        seen = sorted({m.month for m in self.months})
        if not seen:
            return []
        first, last = seen[0], seen[-1]
        if self.filter.start is not None:
            first = min(first, f"{self.filter.start:%Y-%m}")
        if self.filter.end is not None:  # exclusive: the month of its last instant
            last = max(last, f"{self.filter.end - timedelta(microseconds=1):%Y-%m}")
        return month_range(first, last)

    @property
    def empty(self) -> bool:
        return (
            not self.promotions
            and not self.rollbacks
            and not self.incidents
            and (self.overall.request_to_decision.count == 0)
        )


# ------------------------------------------------------------------------------- rules


@dataclass
class _ModelState:
    holders: dict[str, int | None] = field(default_factory=dict)
    # target -> when its current holder arrived there
    since: dict[str, datetime] = field(default_factory=dict)
    # version -> (first time in production, its promotion index or None for baseline)
    first: dict[int, tuple[datetime, int | None]] = field(default_factory=dict)


def _walk(
    inputs: DeliveryInputs, team_of: Mapping[ModelKey, str]
) -> tuple[list[Promotion], list[Rollback]]:
    """Promotions and rollbacks from the whole move history, in ledger order."""
    created_by_request = {
        (r.registry, r.model, r.version): r.version_created_at
        for r in inputs.requests
        if r.version_created_at is not None
    }
    states: dict[ModelKey, _ModelState] = defaultdict(_ModelState)
    promotions: list[Promotion] = []
    rollbacks: list[Rollback] = []
    rolled_back: dict[int, datetime] = {}
    for move in sorted(inputs.moves, key=lambda m: m.seq):
        key = (move.registry, move.model)
        state = states[key]
        previous = state.holders.get(move.target)
        if move.version == previous:
            continue
        state.holders[move.target] = move.version
        arrived = state.since.get(move.target)
        state.since[move.target] = move.at
        v = move.version
        if v is None:
            continue
        if move.baseline:
            state.first.setdefault(v, (move.at, None))
            continue
        if v not in state.first:
            registered = inputs.created.get((*key, v)) or created_by_request.get((*key, v))
            lead = move.at - registered if registered is not None else None
            state.first[v] = (move.at, len(promotions))
            promotions.append(
                Promotion(
                    move.seq,
                    move.at,
                    move.registry,
                    move.model,
                    team_of.get(key, NO_TEAM),
                    move.target,
                    v,
                    move.request_id,
                    lead if lead is None or lead >= timedelta(0) else None,
                )
            )
            continue
        # Back to a version that was in production before: a rollback when it replaces
        # a later version that arrived on this target within the window.
        if previous is None or previous not in state.first or arrived is None:
            continue
        back_at, _ = state.first[v]
        replaced_at, index = state.first[previous]
        if back_at >= replaced_at or move.at - arrived > ROLLBACK_WINDOW:
            continue
        rollbacks.append(
            Rollback(
                move.seq,
                move.at,
                move.registry,
                move.model,
                team_of.get(key, NO_TEAM),
                move.target,
                previous,
                v,
                move.at - arrived,
            )
        )
        if index is not None:
            rolled_back.setdefault(index, move.at)
    out = []
    for i, p in enumerate(promotions):
        at = rolled_back.get(i)
        out.append(p if at is None else replace(p, rolled_back_at=at, failed_by="rollback"))
    return out, rollbacks


def _failures(promotions: list[Promotion], incidents: Sequence[Incident]) -> list[Promotion]:
    """Mark promotions followed by an incident on their model within FAILURE_WINDOW and
    before the model's next promotion (a rollback already marks one)."""
    by_model: dict[ModelKey, list[int]] = defaultdict(list)
    for i, p in enumerate(promotions):
        by_model[(p.registry, p.model)].append(i)
    starts: dict[ModelKey, list[tuple[datetime, str]]] = defaultdict(list)
    for inc in incidents:
        key = (inc.registry, inc.model)
        if key in by_model:
            starts[key].append((inc.started_at, inc.kind.value))
    out = list(promotions)
    for key, found in starts.items():
        found.sort()
        times = [at for at, _kind in found]
        ordered = sorted(by_model[key], key=lambda i: promotions[i].at)
        for n, i in enumerate(ordered):
            p = promotions[i]
            if p.failed_by:
                continue
            until = p.at + FAILURE_WINDOW
            if n + 1 < len(ordered):
                until = min(until, promotions[ordered[n + 1]].at)
            first = bisect_left(times, p.at)
            if first < len(times) and times[first] < until:
                out[i] = replace(p, failed_by=found[first][1])
    return out


def _team_figures(
    team: str,
    promotions: Sequence[Promotion],
    requests: Sequence[RequestRecord],
    incidents: Sequence[Incident],
) -> TeamFigures:
    decided = [r for r in requests if r.decided_at is not None]
    applied = [r for r in requests if r.applied_at is not None]
    return TeamFigures(
        team=team,
        promotions=len(promotions),
        lead_time=Distribution.of(p.lead_time for p in promotions if p.lead_time is not None),
        request_to_decision=Distribution.of(
            r.decided_at - r.requested_at for r in decided if r.decided_at is not None
        ),
        decision_to_applied=Distribution.of(
            r.applied_at - r.decided_at
            for r in applied
            if r.applied_at is not None and r.decided_at is not None
        ),
        request_to_applied=Distribution.of(
            r.applied_at - r.requested_at for r in applied if r.applied_at is not None
        ),
        rollback_rate=Rate(sum(1 for p in promotions if p.rolled_back_at), len(promotions)),
        change_failure_rate=Rate(sum(1 for p in promotions if p.failed_by), len(promotions)),
        time_to_restore=Distribution.of(
            d for inc in incidents if (d := inc.time_to_restore) is not None
        ),
        open_incidents=sum(1 for inc in incidents if inc.restored_at is None),
    )


def month_range(first: str, last: str) -> list[str]:
    """The months from ``first`` to ``last`` inclusive, both YYYY-MM."""
    year, month = (int(x) for x in first.split("-"))
    out: list[str] = []
    while (current := f"{year:04d}-{month:02d}") <= last:
        out.append(current)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def delivery_report(inputs: DeliveryInputs, flt: DeliveryFilter | None = None) -> DeliveryReport:
    """The delivery metrics of the facts in ``inputs`` that ``flt`` selects.

    The whole history is walked (a rollback or a promotion depends on what came before
    the period); only promotions, rollbacks, requests and incidents inside the period
    and of the team are counted.
    """
    flt = flt or DeliveryFilter()
    team_of = {k: (t.strip() or NO_TEAM) for k, t in inputs.teams.items()}
    promotions, rollbacks = _walk(inputs, team_of)
    promotions = _failures(promotions, inputs.incidents)

    def team(registry: str, model: str) -> str:
        return team_of.get((registry, model), NO_TEAM)

    promotions = [p for p in promotions if flt.covers(p.at) and flt.takes(p.team)]
    rollbacks = [r for r in rollbacks if flt.covers(r.at) and flt.takes(r.team)]
    requests = [
        r
        for r in inputs.requests
        if flt.covers(r.requested_at) and flt.takes(team(r.registry, r.model))
    ]
    incidents = [
        inc
        for inc in inputs.incidents
        if flt.covers(inc.started_at) and flt.takes(team(inc.registry, inc.model))
    ]
    incidents.sort(key=lambda inc: inc.started_at)
    by_team: dict[str, tuple[list[Promotion], list[RequestRecord], list[Incident]]] = defaultdict(
        lambda: ([], [], [])
    )
    for p in promotions:
        by_team[p.team][0].append(p)
    for r in requests:
        by_team[team(r.registry, r.model)][1].append(r)
    for inc in incidents:
        by_team[team(inc.registry, inc.model)][2].append(inc)
    names = sorted(by_team, key=lambda t: (t == NO_TEAM, t.casefold()))
    teams = [_team_figures(name, *by_team[name]) for name in names]
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p in promotions:
        c = counts[(p.team, p.month)]
        c[0] += 1
        c[1] += p.request_id is not None
    months = [
        MonthCount(t, m, n, w)
        for (t, m), (n, w) in sorted(
            counts.items(), key=lambda kv: (kv[0][1], kv[0][0] == NO_TEAM, kv[0][0].casefold())
        )
    ]
    return DeliveryReport(
        filter=flt,
        overall=_team_figures("all teams", promotions, requests, incidents),
        teams=teams,
        months=months,
        promotions=promotions,
        rollbacks=rollbacks,
        incidents=incidents,
        unknown_lead_time=sum(1 for p in promotions if p.lead_time is None),
    )
