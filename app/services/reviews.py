"""Periodic reviews: an approver attests, signed, that the version in production is
still fit for purpose. Refused like an approval for its authors and its requester
(domain.authority_records); the policy of the model's tier sets how often one is due."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.authority import AuthorityState
from app.domain.authority_records import Review, review_refusal
from app.domain.errors import UsageError
from app.domain.ledger import LedgerAction, LedgerDraft, LedgerEvent
from app.domain.ledger_query import model_subject
from app.domain.tags import TAG_RISK_TIER
from app.services.actor import Actor
from app.services.authority import AuthorityLedger, refusal_error
from app.services.membership import AfterWrite
from app.services.portfolio import PortfolioService

ATTESTATION = "still fit for purpose"


class ReviewService:
    def __init__(
        self,
        authority: AuthorityLedger,
        actor: Actor,
        portfolio: PortfolioService,
        after_write: AfterWrite = lambda: None,
    ) -> None:
        self._authority = authority
        self._actor = actor
        self._portfolio = portfolio
        self._after_write = after_write

    def reviews(self) -> dict[tuple[str, str, int], list[Review]]:
        """Every recorded review, by (registry, model, version), oldest first."""
        return self._authority.read(lambda s: {k: list(v) for k, v in s.reviews.items()})

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
