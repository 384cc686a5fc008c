"""The managers' overview read model: the cache (models, versions in production), one
read of the authority fold (requests, reviews, policies, who maps to whom), the
ledger's production arrivals, the violations and the endpoints' last probes, counted
by `domain.overview`. Qt-free; the console runs it on a worker.

It reads only local stores (the cache and the ledger), so it works offline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from app.domain.authority import AuthorityState
from app.domain.endpoints import HealthState
from app.domain.governance import RequestState
from app.domain.overview import (
    EndpointState,
    Overview,
    OverviewInputs,
    WaitingRequest,
    build_overview,
)
from app.domain.review_schedule import (
    PRODUCTION_STAGE,
    ProductionVersion,
    review_schedule,
)
from app.domain.serving import ServingState
from app.services.authority import AuthorityLedger
from app.services.endpoints import EndpointStatus
from app.services.governance import state_now
from app.services.observation_index import ObservationIndex
from app.services.portfolio import PortfolioService
from app.services.report_export import overview_csv, portfolio_csv, write_text
from app.services.reviews import ReviewService, ScheduleFacts, schedule_facts

_OPEN = (RequestState.PENDING, RequestState.APPROVED)


class OverviewService:
    def __init__(
        self,
        portfolio: PortfolioService,
        authority: AuthorityLedger,
        reviews: ReviewService,
        observations: ObservationIndex,
        endpoints: Callable[[], list[EndpointStatus]],
    ) -> None:
        self._portfolio = portfolio
        self._authority = authority
        self._reviews = reviews
        self._observations = observations
        self._endpoints = endpoints

    def export_overview_csv(self, path: Path) -> Path:
        """The overview's figures, with the list behind each, as CSV."""
        return write_text(path, overview_csv(self.overview()))

    def export_portfolio_csv(self, path: Path) -> Path:
        """Every cached model (team, owner, tier, production, review date) as CSV."""
        return write_text(path, portfolio_csv(self._portfolio.all_rows(), self._reviews.schedule()))

    def overview(self, now: datetime | None = None) -> Overview:
        """Every figure of the overview, each with the filter of the list behind it."""
        now = now or datetime.now(UTC)
        rows = self._portfolio.all_rows()
        production = self._portfolio.production_versions()
        tiers = {(r.registry, r.name): r.risk_tier for r in rows}
        facts, waiting, unmapped = self._authority.read(
            lambda s: _fold_facts(s, production, tiers, now)
        )
        arrivals, violations = self._observations.read()
        schedule = review_schedule(
            production,
            facts.policies,
            facts.tiers,
            facts.promoted_at,
            arrivals,
            facts.reviews,
            now,
        )
        inputs = OverviewInputs(
            rows=rows,
            schedule=schedule,
            waiting=waiting,
            violations=violations,
            endpoints=[_endpoint_state(e) for e in self._endpoints()],
            unmapped_creators=unmapped,
            stage_production=frozenset(
                (pv.registry, pv.model) for pv in production if PRODUCTION_STAGE in pv.served_by
            ),
        )
        return build_overview(inputs, now)


def _fold_facts(
    s: AuthorityState,
    production: Sequence[ProductionVersion],
    tiers: dict[tuple[str, str], str],
    now: datetime,
) -> tuple[ScheduleFacts, list[WaitingRequest], list[tuple[str, str, int]]]:
    facts = schedule_facts(s, production)
    waiting = []
    for r in s.requests.values():
        if r.state not in _OPEN:
            continue
        ident = r.identity
        # The fold records events; approval under the policy and expiry are worked out
        # as the Approvals page works them out.
        state, status = state_now(s, r, tiers, now)
        if state not in _OPEN:
            continue  # expired: it waits on nobody
        if state is RequestState.APPROVED:
            waits_on = f"{r.requester} to apply it"
        else:
            waits_on = "; ".join(status.missing) or "an approver"
        waiting.append(
            WaitingRequest(
                r.request_id,
                ident.registry,
                ident.model,
                ident.version,
                r.alias or r.stage,
                r.created_at,
                state is RequestState.APPROVED,
                waits_on,
            )
        )
    unmapped = []
    for pv in production:
        creator = facts.creators.get(pv.key) or pv.creator or pv.run_user
        if creator and s.owner_of(creator) is None:
            unmapped.append(pv.key)
    return facts, waiting, unmapped


def _endpoint_state(e: EndpointStatus) -> EndpointState:
    rec, cfg = e.record, e.config
    down = rec.health is not None and rec.health is not HealthState.UP
    drift = rec.serving_state == ServingState.DRIFT.value
    # Short: the figure names the endpoints; their page gives the reasons.
    detail = (
        (rec.health.value.replace("_", " ") if rec.health is not None else "")
        if down
        else f"serves {', '.join(f'v{v}' for v in rec.served_versions) or 'another version'}"
        if drift
        else ""
    )
    return EndpointState(cfg.name, cfg.registry, cfg.model, down, drift, detail)
