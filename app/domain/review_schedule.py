"""When each version in production is due for its periodic review.

A version serves production when the model's alias ``production`` points at it or it
sits in MLflow's stage ``Production``. Its review interval is the policy of its tier
(``Policy.review_days``); the due date counts from the later of its last promotion
(the ledger's ``promotion.applied``, else when a sync first saw it there, else when it
was created) and its last review.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.domain.authority_records import Review
from app.domain.governance import Policy, normalize_tier, policy_for
from app.domain.ledger import LedgerEvent
from app.domain.ledger_query import alias_move_of, stage_move_of

PRODUCTION_ALIAS = "production"
PRODUCTION_STAGE = "Production"
# A review whose date falls within this many days is "due" (on managers' lists).
DUE_SOON_DAYS = 30

VersionKey = tuple[str, str, int]  # (registry, model, version)


def serves_production(alias: str) -> bool:
    """Whether an alias of this name serves production ('Production' counts too)."""
    return alias.strip().lower() == PRODUCTION_ALIAS


@dataclass(frozen=True)
class ProductionVersion:
    """A version serving production, as the cache shows it."""

    registry: str
    model: str
    version: int
    served_by: str  # "alias production" or "stage Production" (both when both)
    risk_tier: str  # the model's tag as cached ('' when it has none)
    owner: str
    team: str
    creator: str  # the registry user who created the version
    created_at: datetime | None
    # The user of the run behind it ('' when unknown): who made it, where the registry
    # does not say who created the version (MLflow without authentication).
    run_user: str = ""

    @property
    def key(self) -> VersionKey:
        return (self.registry, self.model, self.version)


class ReviewState(StrEnum):
    CURRENT = "current"
    DUE = "due"  # within DUE_SOON_DAYS
    OVERDUE = "overdue"


class CountedFrom(StrEnum):
    PROMOTION = "promotion"  # promotion.applied in the ledger
    FIRST_SEEN = "first seen"  # a sync saw it arrive in production
    CREATED = "created"  # nothing in the ledger: the version's creation
    REVIEW = "last review"


@dataclass(frozen=True)
class ReviewDue:
    version: ProductionVersion
    tier: str  # the tier whose policy sets the interval
    interval_days: int
    counted_from: CountedFrom
    since: datetime | None  # None: nothing dates it (due at once)
    last_review: Review | None
    due_at: datetime | None
    state: ReviewState
    days_left: int  # negative when overdue

    def describe(self) -> str:
        v = self.version
        what = f"{v.model} v{v.version} ({v.registry}, {v.served_by})"
        if self.due_at is None:
            return f"{what}: never reviewed and nothing dates its promotion; review it now."
        when = f"{self.due_at:%Y-%m-%d}"
        if self.state is ReviewState.OVERDUE:
            return f"{what}: review overdue by {-self.days_left} day(s) (due {when})."
        if self.state is ReviewState.DUE:
            return f"{what}: review due in {self.days_left} day(s) ({when})."
        return f"{what}: next review {when}."


def review_schedule(
    production: Iterable[ProductionVersion],
    policies: Mapping[str, Policy],
    tiers: Mapping[VersionKey, str],
    promoted_at: Mapping[VersionKey, datetime],
    first_seen: Mapping[VersionKey, datetime],
    reviews: Mapping[VersionKey, Sequence[Review]],
    now: datetime,
    due_soon_days: int = DUE_SOON_DAYS,
) -> list[ReviewDue]:
    """Every production version's review date, most urgent first.

    policies: tier -> policy (the tier named in ``tiers``; missing: the default).
    tiers: the tier that applies to each version (the caller takes the strictest it
        knows of); a version left out takes its cached tag.
    promoted_at, first_seen: when the ledger says it was promoted / seen arriving.
    """
    out: list[ReviewDue] = []
    for pv in production:
        tier = normalize_tier(tiers.get(pv.key, pv.risk_tier))
        interval = policy_for(tier, policies).review_days
        done = reviews.get(pv.key, ())
        last = max(done, key=lambda r: r.seq) if done else None
        since: datetime | None
        if pv.key in promoted_at:
            counted, since = CountedFrom.PROMOTION, promoted_at[pv.key]
        elif pv.key in first_seen:
            counted, since = CountedFrom.FIRST_SEEN, first_seen[pv.key]
        else:
            counted, since = CountedFrom.CREATED, pv.created_at
        if last is not None and (since is None or last.at >= since):
            counted, since = CountedFrom.REVIEW, last.at
        due_at: datetime | None
        if since is None:
            due_at, state, days_left = None, ReviewState.OVERDUE, 0
        else:
            due_at = since + timedelta(days=interval)
            days_left = _days_between(now, due_at)
            if due_at <= now:
                state = ReviewState.OVERDUE
            elif days_left <= due_soon_days:
                state = ReviewState.DUE
            else:
                state = ReviewState.CURRENT
        out.append(ReviewDue(pv, tier, interval, counted, since, last, due_at, state, days_left))
    out.sort(key=lambda d: (d.due_at or datetime.min.replace(tzinfo=UTC), d.version.key))
    return out


def _days_between(now: datetime, due_at: datetime) -> int:
    """Whole days from now until due_at; negative once past (a day late is -1)."""
    delta = due_at - now
    if delta >= timedelta(0):
        return delta.days
    return -((-delta).days + (1 if (-delta) % timedelta(days=1) else 0))


def production_arrivals(
    events: Iterable[LedgerEvent], seen: dict[VersionKey, datetime] | None = None
) -> dict[VersionKey, datetime]:
    """When a sync last saw each version arrive in production (the alias 'production'
    moved to it, or it entered stage Production, or a stage baseline found it there),
    from alias and stage observations in ledger order.

    seen: what earlier events gave (updated in place and returned), to go on from there.
    """
    seen = {} if seen is None else seen
    for e in events:
        after = e.after if isinstance(e.after, Mapping) else {}
        if e.subject.startswith("registry:"):
            table = after.get("stages")
            if isinstance(table, Mapping):
                reg = e.subject[len("registry:") :]
                for model, per in table.items():
                    if not isinstance(per, Mapping):
                        continue
                    for v, in_stage in per.items():
                        if str(v).isdigit() and str(in_stage).lower() == PRODUCTION_STAGE.lower():
                            seen.setdefault((reg, str(model), int(v)), e.at)
            continue
        if not e.subject.startswith("model:"):
            continue
        reg, _, model = e.subject[len("model:") :].partition("/")
        move = alias_move_of(e)
        if move is not None:
            if serves_production(move.alias) and move.after is not None:
                seen[(reg, model, move.after)] = e.at
            continue
        moved = stage_move_of(e)
        if moved is not None and moved.after.lower() == PRODUCTION_STAGE.lower():
            seen[(reg, model, moved.version)] = e.at
    return seen
