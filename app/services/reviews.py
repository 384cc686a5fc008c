"""Periodic reviews: an approver attests, signed, that the version in production is
still fit for purpose. Refused like an approval for its authors and its requester
(domain.authority_records); the policy of the model's tier sets how often one is due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.authority import AuthorityState
from app.domain.authority_records import Review, review_refusal
from app.domain.errors import UsageError
from app.domain.governance import Policy, RequestState, strictest_tier
from app.domain.ledger import LedgerAction, LedgerDraft, LedgerEvent
from app.domain.ledger_query import model_subject
from app.domain.review_schedule import (
    PRODUCTION_STAGE,
    ProductionVersion,
    ReviewDue,
    ReviewState,
    VersionKey,
    review_schedule,
    serves_production,
)
from app.domain.tags import TAG_RISK_TIER
from app.services.actor import Actor
from app.services.authority import AuthorityLedger, refusal_error
from app.services.membership import AfterWrite
from app.services.observation_index import ObservationIndex
from app.services.portfolio import PortfolioService

ATTESTATION = "still fit for purpose"


@dataclass(frozen=True)
class ScheduleFacts:
    """What the fold says about the versions in production (copied out of the state)."""

    policies: dict[str, Policy]
    tiers: dict[VersionKey, str]
    promoted_at: dict[VersionKey, datetime]
    reviews: dict[VersionKey, list[Review]]
    # Who made each version, as its applied requests recorded it: the registry's version
    # creator, else the user of its run (MLflow without authentication records none).
    creators: dict[VersionKey, str]


def schedule_facts(s: AuthorityState, production: Sequence[ProductionVersion]) -> ScheduleFacts:
    """Policies, the tier that applies to each version (the strictest of its cached tag,
    the last tier a sync recorded and the one its promotion's request recorded), when
    the ledger applied its promotion to production, and its reviews."""
    keys = {pv.key for pv in production}
    promoted: dict[VersionKey, datetime] = {}
    request_tier: dict[VersionKey, str] = {}
    creators: dict[VersionKey, str] = {}
    # One pass over every request: at a million events this walk is a tenth of the
    # Overview's first paint, so whatever else needs applied requests is read here.
    for r in s.requests.values():
        if r.state is not RequestState.APPLIED:
            continue
        key = (r.identity.registry, r.identity.model, r.identity.version)
        if key not in keys:
            continue
        creators[key] = r.version_creator or r.run_user
        if r.closed_at is None:
            continue
        if r.is_stage and r.stage.lower() != PRODUCTION_STAGE.lower():
            continue
        if not r.is_stage and not serves_production(r.alias):
            continue
        promoted[key] = max(promoted.get(key, r.closed_at), r.closed_at)
        request_tier[key] = strictest_tier(request_tier.get(key), r.risk_tier)
    tiers = {
        pv.key: strictest_tier(
            pv.risk_tier or None,
            s.observed_tier(model_subject(pv.registry, pv.model)),
            request_tier.get(pv.key),
        )
        for pv in production
    }
    return ScheduleFacts(
        policies=dict(s.policies),
        tiers=tiers,
        promoted_at=promoted,
        reviews={k: list(v) for k, v in s.reviews.items() if k in keys},
        creators=creators,
    )


class ReviewService:
    def __init__(
        self,
        authority: AuthorityLedger,
        actor: Actor,
        portfolio: PortfolioService,
        observations: ObservationIndex,
        after_write: AfterWrite = lambda: None,
    ) -> None:
        self._observations = observations
        self._authority = authority
        self._actor = actor
        self._portfolio = portfolio
        self._after_write = after_write

    def reviews(self) -> dict[tuple[str, str, int], list[Review]]:
        """Every recorded review, by (registry, model, version), oldest first."""
        return self._authority.read(lambda s: {k: list(v) for k, v in s.reviews.items()})

    def schedule(self, now: datetime | None = None) -> list[ReviewDue]:
        """Every version in production with its review date, most urgent first: one
        cache read, one fold read and one read of the ledger's production arrivals."""
        production = self._portfolio.production_versions()
        facts = self._authority.read(lambda s: schedule_facts(s, production))
        arrivals = self.arrivals()
        return review_schedule(
            production,
            facts.policies,
            facts.tiers,
            facts.promoted_at,
            arrivals,
            facts.reviews,
            now or datetime.now(UTC),
        )

    def arrivals(self) -> dict[VersionKey, datetime]:
        """When a sync last saw each version arrive in production (ledger observations)."""
        return self._observations.read()[0]

    def due(self, now: datetime | None = None) -> list[ReviewDue]:
        """The reviews due within DUE_SOON_DAYS or overdue, most urgent first."""
        return [d for d in self.schedule(now) if d.state is not ReviewState.CURRENT]

    def record(
        self,
        registry: str,
        model: str,
        version: int,
        comment: str,
        passphrase: str,
        evidence: Sequence[str] = (),
    ) -> LedgerEvent:
        """Sign that ``model`` v``version`` is still fit for purpose (a cached version)."""
        if not comment.strip():
            raise UsageError("A review needs a comment saying what was reviewed.")
        detail = self._portfolio.find_model(model, registry)
        cached = next((v for v in detail.versions if v.version == version), None)
        if cached is None:
            raise UsageError(
                f"Version {version} of '{model}' is not in the cache; sync '{registry}' first."
            )
        run = self._portfolio.run_detail(registry, cached.run_id) if cached.run_id else None
        creator, run_user = cached.user_id, run.user_id if run else ""
        cache_tier = detail.tags.get(TAG_RISK_TIER, "")
        me = self._actor.user_id()

        def check(s: AuthorityState) -> None:
            refusal = review_refusal(s, me, registry, model, version, creator, run_user, cache_tier)
            if refusal is not None:
                raise refusal_error(refusal)

        self._authority.read(check)  # say why before asking to unlock the key
        signer = self._actor.signer(passphrase)
        draft = LedgerDraft(
            me,
            LedgerAction.REVIEW_RECORDED.value,
            model_subject(registry, model),
            after={
                "registry": registry,
                "model": model,
                "version": version,
                "attestation": ATTESTATION,
                "evidence": [e.strip() for e in evidence if e.strip()],
                "version_creator": creator,
                "run_user": run_user,
            },
            reason=comment.strip(),
        )
        (event,) = self._authority.write(signer, lambda _s: [draft])
        self._after_write()
        return event
