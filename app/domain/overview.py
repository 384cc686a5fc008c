"""The managers' overview: every figure of the portfolio's state, each with the filter
that lists what is behind it (a figure is a link to its list, never a dead number).

Pure: `build_overview` takes what the cache and the ledger's fold say and counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from app.domain.governance import RISK_TIERS
from app.domain.portfolio import PortfolioRow
from app.domain.review_schedule import ReviewDue, ReviewState, serves_production

NO_TEAM = "(no team)"


class DrillPage(StrEnum):
    """Where the list behind a figure lives."""

    PORTFOLIO = "portfolio"  # the models named in Drill.models
    APPROVALS = "approvals"  # the requests named in Drill.requests
    VIOLATIONS = "violations"
    ENDPOINTS = "endpoints"  # the endpoints named in Drill.endpoints


@dataclass(frozen=True)
class Drill:
    """The filtered list behind a figure: a page and what it shows."""

    page: DrillPage
    title: str  # what the list is, in words ("High-risk models")
    models: tuple[tuple[str, str], ...] = ()  # (registry, model)
    requests: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Figure:
    key: str  # stable id, e.g. "tier.high", "reviews.overdue"
    section: str
    label: str
    value: int
    drill: Drill
    detail: str = ""  # a line under the figure (oldest age, who it waits on)
    alarm: bool = False  # a non-zero value someone must act on


@dataclass(frozen=True)
class WaitingRequest:
    """An open promotion request as the overview counts it."""

    request_id: str
    registry: str
    model: str
    version: int
    target: str
    created_at: datetime
    approved: bool  # approved, waiting to be applied
    waits_on: str  # who must act, in words


@dataclass(frozen=True)
class EndpointState:
    name: str
    registry: str
    model: str
    down: bool
    drift: bool
    detail: str = ""


@dataclass(frozen=True)
class TeamRow:
    """Models of one team in one registry, and what of them serves production."""

    registry: str
    team: str
    models: int
    by_alias: int
    by_stage: int
    drill: Drill


@dataclass(frozen=True)
class Overview:
    figures: tuple[Figure, ...] = ()
    teams: tuple[TeamRow, ...] = ()
    as_of: datetime | None = None
    models: int = 0

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)

    def sections(self) -> list[tuple[str, list[Figure]]]:
        out: dict[str, list[Figure]] = {}
        for f in self.figures:
            out.setdefault(f.section, []).append(f)
        return list(out.items())


@dataclass(frozen=True)
class OverviewInputs:
    rows: Sequence[PortfolioRow]
    schedule: Sequence[ReviewDue]
    waiting: Sequence[WaitingRequest]
    violations: Mapping[tuple[str, str], int]  # open violations per (registry, model)
    endpoints: Sequence[EndpointState]
    # Production versions whose creator maps to no Gavel identity: (registry, model, version)
    unmapped_creators: Sequence[tuple[str, str, int]] = ()
    stage_production: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def _models(rows: Iterable[PortfolioRow]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({(r.registry, r.name) for r in rows}))


def _age(now: datetime, at: datetime) -> str:
    days = max(0, (now - at).days)
    return "made today" if days == 0 else "1 day old" if days == 1 else f"{days} days old"


def build_overview(data: OverviewInputs, now: datetime) -> Overview:
    """Every figure of the overview, counted from the inputs, each with its drill."""
    rows = list(data.rows)
    figs: list[Figure] = []

    def portfolio(
        key: str,
        section: str,
        label: str,
        title: str,
        chosen: Sequence[PortfolioRow],
        alarm: bool = False,
    ) -> None:
        models = _models(chosen)
        figs.append(
            Figure(
                key,
                section,
                label,
                len(models),
                Drill(DrillPage.PORTFOLIO, title, models),
                "",
                alarm and bool(models),
            )
        )

    # -- the portfolio by risk tier
    sec = "Models by risk tier"
    portfolio("models.all", sec, "All models", "All models", rows)
    for tier in RISK_TIERS:
        chosen = [r for r in rows if r.risk_tier.strip().lower() == tier]
        portfolio(
            f"tier.{tier}", sec, f"{tier.title()} risk", f"{tier.title()}-risk models", chosen
        )
    untiered = [r for r in rows if r.risk_tier.strip().lower() not in RISK_TIERS]
    portfolio(
        "tier.none",
        sec,
        "No risk tier (counts as high)",
        "Models with no risk tier",
        untiered,
        alarm=True,
    )

    # -- what serves production
    sec = "In production"
    live = [r for r in rows if any(serves_production(a) for a in r.aliases)]
    staged = [r for r in rows if (r.registry, r.name) in data.stage_production]
    live_keys = {(r.registry, r.name) for r in live}
    serving_keys = live_keys | data.stage_production
    serving = [r for r in rows if (r.registry, r.name) in serving_keys]
    portfolio("production.any", sec, "Models in production", "Models serving production", serving)
    portfolio(
        "production.alias", sec, "By alias 'production'", "Models with a production alias", live
    )
    portfolio(
        "production.stage",
        sec,
        "By stage Production",
        "Models with a version in stage Production",
        staged,
    )

    # -- promotion requests waiting
    sec = "Promotion requests"
    pending = [w for w in data.waiting if not w.approved]
    approved = [w for w in data.waiting if w.approved]
    for key, label, reqs in (
        ("requests.pending", "Waiting for approval", pending),
        ("requests.approved", "Approved, not yet applied", approved),
    ):
        oldest = min(reqs, key=lambda w: w.created_at, default=None)
        detail = ""
        if oldest is not None:
            detail = (
                f"oldest {_age(now, oldest.created_at)}: {oldest.model} "
                f"v{oldest.version}, waits on {oldest.waits_on}"
            )
        figs.append(
            Figure(
                key,
                sec,
                label,
                len(reqs),
                Drill(DrillPage.APPROVALS, label, requests=tuple(w.request_id for w in reqs)),
                detail,
                bool(reqs),
            )
        )

    # -- periodic reviews
    sec = "Periodic reviews"
    for key, label, state in (
        ("reviews.overdue", "Overdue", ReviewState.OVERDUE),
        ("reviews.due", "Due within 30 days", ReviewState.DUE),
    ):
        chosen_reviews = [d for d in data.schedule if d.state is state]
        models = tuple(sorted({(d.version.registry, d.version.model) for d in chosen_reviews}))
        worst = chosen_reviews[0] if chosen_reviews else None
        figs.append(
            Figure(
                key,
                sec,
                label,
                len(chosen_reviews),
                Drill(DrillPage.PORTFOLIO, f"Models whose review is {label.lower()}", models),
                worst.describe() if worst else "",
                state is ReviewState.OVERDUE and bool(models),
            )
        )

    # -- violations and serving
    sec = "Violations and serving"
    figs.append(
        Figure(
            "violations.open",
            sec,
            "Alias or stage moves without approval",
            sum(data.violations.values()),
            Drill(
                DrillPage.VIOLATIONS,
                "Unapproved alias and stage moves",
                tuple(sorted(m for m, n in data.violations.items() if n)),
            ),
            alarm=any(data.violations.values()),
        )
    )
    for key, label, chosen_eps in (
        (
            "serving.drift",
            "Endpoints serving another version",
            [e for e in data.endpoints if e.drift],
        ),
        ("endpoints.down", "Endpoints down", [e for e in data.endpoints if e.down]),
    ):
        figs.append(
            Figure(
                key,
                sec,
                label,
                len(chosen_eps),
                Drill(DrillPage.ENDPOINTS, label, endpoints=tuple(e.name for e in chosen_eps)),
                "; ".join(f"{e.name}: {e.detail}" for e in chosen_eps[:2] if e.detail),
                bool(chosen_eps),
            )
        )

    # -- governance hygiene
    sec = "Governance hygiene"
    portfolio(
        "hygiene.owner",
        sec,
        "Models without owner",
        "Models without an owner tag",
        [r for r in rows if not r.owner.strip()],
        alarm=True,
    )
    portfolio(
        "hygiene.team",
        sec,
        "Models without team",
        "Models without a team tag",
        [r for r in rows if not r.team.strip()],
        alarm=True,
    )
    unmapped = sorted(set(data.unmapped_creators))
    by_model = tuple(sorted({(reg, m) for reg, m, _v in unmapped}))
    figs.append(
        Figure(
            "hygiene.creator",
            sec,
            "Production versions by an unmapped creator",
            len(unmapped),
            Drill(
                DrillPage.PORTFOLIO,
                "Models in production whose version's creator maps to no Gavel identity",
                by_model,
            ),
            ", ".join(f"{m} v{v}" for _r, m, v in unmapped[:3]),
            bool(unmapped),
        )
    )

    # -- by registry and team
    teams: dict[tuple[str, str], list[PortfolioRow]] = {}
    for r in rows:
        teams.setdefault((r.registry, r.team.strip() or NO_TEAM), []).append(r)
    team_rows = tuple(
        TeamRow(
            reg,
            team,
            len(members),
            sum(1 for r in members if (r.registry, r.name) in live_keys),
            sum(1 for r in members if (r.registry, r.name) in data.stage_production),
            Drill(
                DrillPage.PORTFOLIO,
                f"Models without a team in {reg}"
                if team == NO_TEAM
                else f"Models of team {team} in {reg}",
                _models(members),
            ),
        )
        for (reg, team), members in sorted(teams.items())
    )
    return Overview(tuple(figs), team_rows, now, len(rows))
