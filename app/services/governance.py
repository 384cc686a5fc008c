"""The promotion workflow: requests, signed decisions, comments and withdrawals.

Every rule is enforced by the ledger's authority fold (domain.authority), which every
write passes under the append lock, so no face (console, CLI, a second profile, a
direct insert into the shared database) can bypass it. A request's state is folded
from its signed events; whether it is approved is worked out from the approvals that
counted and the policy of the strictest tier seen (at request time, at the last
sync, in the cache now).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.domain.authority import AuthorityState
from app.domain.authority_model import AuthorityProblem
from app.domain.authority_requests import decision_refusal, unmapped_authors
from app.domain.errors import GavelError, UsageError
from app.domain.governance import (
    CHECKLIST,
    Evidence,
    Identity,
    InvalidState,
    Policy,
    PolicyStatus,
    PromotionRequest,
    RequestState,
    SignatureMeaning,
    TargetKind,
    VersionIdentity,
    normalize_tier,
    parse_stage,
    policy_status,
    request_subject,
    stage_name,
)
from app.domain.ledger import LedgerAction, LedgerDraft, LedgerEvent
from app.domain.registry import RegistryConfig
from app.domain.request_checks import cannot_apply
from app.domain.tags import TAG_RISK_TIER
from app.services.actor import ENROLL_HINT, Actor
from app.services.audit import AuditService
from app.services.authority import AuthorityLedger, refusal_error
from app.services.membership import AfterWrite
from app.services.portfolio import PortfolioService

if TYPE_CHECKING:
    from app.connectors.mlflow_registry import MlflowRegistryClient

log = logging.getLogger("gavel.governance")

WorkflowClientFactory = Callable[[RegistryConfig], "MlflowRegistryClient"]


@dataclass(frozen=True)
class RequestView:
    """A request with its state worked out, the policy that applies and what it needs.

    tier: the strictest risk tier seen (at request time, by a sync, in the cache).
    notes: facts an approver must see before signing (tier changes, authors that map
        to no identity, an apply in progress), as sentences.
    """

    request: PromotionRequest
    policy: Policy
    status: PolicyStatus
    tier: str
    notes: tuple[str, ...] = ()
    # Why an open request cannot be applied as it was made ('' when it can): nobody is
    # asked to sign it (the requester can withdraw it).
    blocked: str = ""

    @property
    def blocked_text(self) -> str:
        return f"Cannot be applied as requested: {self.blocked}." if self.blocked else ""


@dataclass(frozen=True)
class PreparedDecision:
    """An approval or rejection that passed the checks, before it is signed."""

    view: RequestView
    action: LedgerAction
    manifest: dict[str, Any]


class GovernanceService:
    def __init__(
        self,
        audit: AuditService,
        authority: AuthorityLedger,
        actor: Actor,
        portfolio: PortfolioService,
        registry_config: Callable[[str], RegistryConfig],
        client_factory: WorkflowClientFactory,
        after_write: AfterWrite = lambda: None,
    ) -> None:
        self._audit = audit
        self._authority = authority
        self._actor = actor
        self._portfolio = portfolio
        self._registry_config = registry_config
        self._client_factory = client_factory
        self._after_write = after_write

    @property
    def audit(self) -> AuditService:
        return self._audit

    @property
    def authority(self) -> AuthorityLedger:
        return self._authority

    @property
    def actor(self) -> Actor:
        return self._actor

    def registry_config(self, name: str) -> RegistryConfig:
        return self._registry_config(name)

    def client(self, cfg: RegistryConfig) -> MlflowRegistryClient:
        """A registry client for workflow writes (alias or stage, tags) and re-reads."""
        return self._client_factory(cfg)

    def me(self) -> Identity:
        return self._actor.me()

    def problems(self) -> list[AuthorityProblem]:
        """Events the fold refused and no admin acknowledged: the ledger does not verify."""
        return self._authority.read(lambda s: s.open_problems())

    def require_no_problems(self) -> None:
        """Raise the first open problem as a sentence (commands that depend on the fold)."""
        problems = self.problems()
        if problems:
            more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LedgerDoesNotVerify(
                f"The ledger does not verify: {problems[0].describe()}{more} Run 'gavel audit "
                "verify' and tell an admin."
            )

    # ----------------------------------------------------------------- reading

    def requests(self) -> list[PromotionRequest]:
        """Every request with its state worked out, newest first."""
        return [v.request for v in self.views()]

    def request(self, request_id: str) -> PromotionRequest:
        return self.view_of(request_id).request

    def view_of(self, request_id: str) -> RequestView:
        tiers = self._portfolio.risk_tiers()
        now = datetime.now(UTC)

        def find(s: AuthorityState) -> RequestView:
            matches = [r for rid, r in s.requests.items() if rid.startswith(request_id)]
            if not matches:
                raise UsageError(f"There is no promotion request '{request_id}'.")
            if len(matches) > 1:
                raise UsageError(f"'{request_id}' matches several requests; give more of its id.")
            return request_view(s, matches[0], tiers, now)

        return self._with_blocker(self._authority.read(find), tiers)

    def _with_blocker(self, view: RequestView, tiers: Mapping[tuple[str, str], str]) -> RequestView:
        """The view, with why it cannot be applied as requested (open requests only: the
        check reads the version and its run from the cache).

        tiers: the cached models (their risk tiers). A model this desktop's cache does not
        hold (its registry not synced here) cannot be judged: a note says so, and apply
        checks the registry itself.
        """
        r = view.request
        if not r.is_open:
            return view
        ident = r.identity
        if (ident.registry, ident.model) not in tiers:
            return replace(
                view,
                notes=(
                    *view.notes,
                    f"This computer's cache does not hold {ident.model} (sync "
                    f"'{ident.registry}'): whether the version, its evidence and the target "
                    "are still as requested is checked when it is applied.",
                ),
            )
        state = self._portfolio.version_state(ident.registry, ident.model, ident.version)
        run = (
            self._portfolio.run_detail(ident.registry, ident.run_id)
            if state is not None and ident.run_id
            else None
        )
        evidence = (
            Evidence(
                {k: m.value for k, m in run.metrics.items()},
                tuple(d.digest for d in run.datasets),
            )
            if run is not None
            else None
        )
        blocked = cannot_apply(r, state, evidence)
        return replace(view, blocked=blocked) if blocked else view

    def view(self, request: PromotionRequest) -> RequestView:
        return self.view_of(request.request_id)

    def views(self) -> list[RequestView]:
        """Every request with its policy status; state, tiers and policies are read once."""
        tiers = self._portfolio.risk_tiers()
        now = datetime.now(UTC)

        def build(s: AuthorityState) -> list[RequestView]:
            ordered = sorted(s.requests.values(), key=lambda r: r.created_seq, reverse=True)
            return [request_view(s, r, tiers, now) for r in ordered]

        return [self._with_blocker(v, tiers) for v in self._authority.read(build)]

    def inbox(self) -> list[InboxEntry]:
        """Every request with its view and whether I may decide it now, newest first.

        One fold read for all of them (the per-request `can_decide` re-reads the fold);
        the blocked check then reads the cache for open requests only.
        """
        user = self._actor.identity.user_id()
        tiers = self._portfolio.risk_tiers()
        now = datetime.now(UTC)

        def build(s: AuthorityState) -> list[InboxEntry]:
            ordered = sorted(s.requests.values(), key=lambda r: r.created_seq, reverse=True)
            entries = []
            for request in ordered:
                view = request_view(s, request, tiers, now)
                entries.append(InboxEntry(view, *_decision_right(s, view, user, tiers)))
            return entries

        entries = []
        for entry in self._authority.read(build):
            view = self._with_blocker(entry.view, tiers)
            if entry.may_decide and view.blocked:
                entry = InboxEntry(view, False, f"{view.blocked_text} {NOBODY_SIGNS}")
            entries.append(replace(entry, view=view))
        return entries

    def events_of(self, request: PromotionRequest) -> list[LedgerEvent]:
        return self._audit.events(request.event_seqs)

    def can_decide(
        self, request: PromotionRequest, meaning: SignatureMeaning = SignatureMeaning.APPROVAL
    ) -> tuple[bool, str]:
        """Whether this profile's person may approve/reject, and if not, why (for tooltips)."""
        try:
            self.check_decide(request.request_id, meaning)
        except GavelError as exc:
            return False, exc.message
        return True, ""

    def check_decide(self, request_id: str, meaning: SignatureMeaning) -> None:
        me = self._actor.me()
        tiers = self._portfolio.risk_tiers()

        def check(s: AuthorityState) -> None:
            request = s.requests.get(request_id)
            if request is None:
                raise UsageError(f"There is no promotion request '{request_id}'.")
            _refuse_decision(s, request, me.user_id, meaning, tiers)

        self._authority.read(check)
        view = self.view_of(request_id)
        if view.blocked and meaning is SignatureMeaning.APPROVAL:
            # A rejection stays possible: it closes a request that can no longer succeed.
            raise InvalidState(f"{view.blocked_text} {NOBODY_SIGNS}")

    def prepare_decision(
        self, request_id: str, meaning: SignatureMeaning, comment: str
    ) -> PreparedDecision:
        """What every approval or rejection passes before it is signed, online or into
        the outbox: the rules of the fold as they stand now, and what it will say."""
        if meaning is SignatureMeaning.REVIEW:
            raise UsageError("A review signature is not a decision; use approve or reject.")
        if meaning is SignatureMeaning.REJECTION and not comment.strip():
            raise UsageError("A rejection needs a comment saying why.")
        view = self.view_of(request_id)
        self.check_decide(view.request.request_id, meaning)
        action = (
            LedgerAction.REQUEST_APPROVED
            if meaning is SignatureMeaning.APPROVAL
            else LedgerAction.REQUEST_REJECTED
        )
        return PreparedDecision(view, action, self.signing_manifest(view.request, meaning))

    def signing_manifest(
        self, request: PromotionRequest, meaning: SignatureMeaning
    ) -> dict[str, Any]:
        """Exactly what a signature will cover, for the dialog to show before signing."""
        me = self._actor.me()
        target: dict[str, Any] = (
            {"target_kind": TargetKind.STAGE.value, "stage": request.stage}
            if request.is_stage
            else {"alias": request.alias}
        )
        return {
            "request_id": request.request_id,
            "request_hash": request.created_hash,
            "version": request.identity.to_json(),
            **target,
            "evidence_digest": request.evidence_digest,
            "manifestation": {
                "printed_name": me.display_name,
                "user_id": me.user_id,
                "meaning": meaning.value,
            },
        }

    # ---------------------------------------------------------------- writing

    def create_request(
        self,
        registry: str,
        model: str,
        version: int,
        alias: str,
        justification: str,
        checklist: Mapping[str, str] | None = None,
        *,
        passphrase: str,
        stage: str | None = None,
    ) -> PromotionRequest:
        """Request promoting a cached version to an alias (or, with ``stage``, into an
        MLflow stage: alias must then be ""); needs the requester role and my key."""
        alias = alias.strip()
        if stage is not None:
            if alias:
                raise UsageError("A request targets an alias or a stage, not both.")
            stage = parse_stage(stage)
        elif not alias or alias.lower() == "latest" or any(c.isspace() for c in alias):
            raise UsageError(f"'{alias}' is not an alias name MLflow accepts.")
        if not justification.strip():
            raise UsageError("A promotion request needs a justification.")
        checklist = {k: v.strip() for k, v in (checklist or {}).items() if v.strip()}
        unknown = [k for k in checklist if k not in CHECKLIST]
        if unknown:
            raise UsageError(f"Unknown checklist item(s): {', '.join(unknown)}.")
        detail = self._portfolio.find_model(model, registry)
        cached = next((v for v in detail.versions if v.version == version), None)
        if cached is None:
            raise UsageError(
                f"Version {version} of '{model}' is not in the cache; sync '{registry}' first."
            )
        identity = VersionIdentity(
            registry, model, version, cached.creation_timestamp, cached.run_id, cached.source
        )
        run = self._portfolio.run_detail(registry, cached.run_id) if cached.run_id else None
        evidence = Evidence(
            {k: m.value for k, m in run.metrics.items()} if run else {},
            tuple(d.digest for d in run.datasets) if run else (),
        )
        # A stage request carries no "alias" key, so a Gavel that predates stage
        # targets skips it instead of mistaking it for an alias request.
        target: dict[str, Any] = (
            {
                "target_kind": TargetKind.STAGE.value,
                "stage": stage,
                "stage_at_request": stage_name(cached.current_stage),
            }
            if stage is not None
            else {"alias": alias, "alias_version_at_request": detail.aliases.get(alias)}
        )
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        request_id = uuid.uuid4().hex[:12]
        payload = {
            "version": identity.to_json(),
            **target,
            "justification": justification.strip(),
            "checklist": checklist,
            "risk_tier": detail.tags.get(TAG_RISK_TIER, ""),
            "evidence": evidence.to_json(),
            "evidence_digest": evidence.digest(),
            "version_creator": cached.user_id,
            "run_user": run.user_id if run else "",
        }
        draft = LedgerDraft(
            me,
            LedgerAction.REQUEST_CREATED.value,
            request_subject(request_id),
            after={"request": payload},
            reason=justification.strip(),
        )
        (event,) = self._authority.write(signer, lambda _s: [draft])
        log.info("request %s created by %s (seq %d)", request_id, me, event.seq)
        self._after_write()
        return self.request(request_id)

    def decide(
        self, request_id: str, meaning: SignatureMeaning, comment: str, passphrase: str
    ) -> PromotionRequest:
        """Approve or reject with a signature; needs my key and its passphrase."""
        prepared = self.prepare_decision(request_id, meaning, comment)
        request, manifest, action = prepared.view.request, prepared.manifest, prepared.action
        signer = self._actor.signer(passphrase)
        me = manifest["manifestation"]["user_id"]
        tiers = self._portfolio.risk_tiers()

        def build(s: AuthorityState) -> list[LedgerDraft]:
            # Decided against the state at the lock: another desktop may have decided,
            # withdrawn or claimed it since the dialog opened.
            current = s.requests[request.request_id]
            _refuse_decision(s, current, me, meaning, tiers)
            return [
                LedgerDraft(
                    me,
                    action.value,
                    request_subject(request.request_id),
                    after=manifest,
                    reason=comment.strip(),
                )
            ]

        self._authority.write(signer, build)
        self._after_write()
        return self.request(request.request_id)

    def approve(self, request_id: str, comment: str, passphrase: str) -> PromotionRequest:
        return self.decide(request_id, SignatureMeaning.APPROVAL, comment, passphrase)

    def reject(self, request_id: str, comment: str, passphrase: str) -> PromotionRequest:
        return self.decide(request_id, SignatureMeaning.REJECTION, comment, passphrase)

    def comment(self, request_id: str, text: str, passphrase: str) -> PromotionRequest:
        if not text.strip():
            raise UsageError("A comment cannot be empty.")
        request = self.request(request_id)
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        draft = LedgerDraft(
            me,
            LedgerAction.COMMENT_ADDED.value,
            request_subject(request.request_id),
            reason=text.strip(),
        )
        self._authority.write(signer, lambda _s: [draft])
        self._after_write()
        return self.request(request.request_id)

    def withdraw(self, request_id: str, reason: str, passphrase: str) -> PromotionRequest:
        """Take a request back (its requester, or an admin) before it is applied."""
        if not reason.strip():
            raise UsageError("Withdrawing a request needs a reason.")
        request = self.request(request_id)
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        draft = LedgerDraft(
            me,
            LedgerAction.REQUEST_WITHDRAWN.value,
            request_subject(request.request_id),
            reason=reason.strip(),
        )
        self._authority.write(signer, lambda _s: [draft])
        self._after_write()
        return self.request(request.request_id)


NOBODY_SIGNS = "Nobody is asked to sign it; the requester can withdraw it and make a new request."


@dataclass(frozen=True)
class InboxEntry:
    """A request as an inbox lists it, with whether this person may decide it now."""

    view: RequestView
    may_decide: bool
    reason: str  # why not; '' when may_decide

    @property
    def request(self) -> PromotionRequest:
        return self.view.request


def _decision_right(
    s: AuthorityState,
    view: RequestView,
    user: str | None,
    tiers: Mapping[tuple[str, str], str],
) -> tuple[bool, str]:
    request = view.request
    if not user:
        return False, f"This profile has no identity yet: {ENROLL_HINT}."
    if request.state is not RequestState.PENDING:
        why = f": {request.state_reason}" if request.state_reason else ""
        return False, (
            f"Request {request.request_id} is {request.state.value}{why}; only pending "
            "requests can be decided."
        )
    try:
        _refuse_decision(s, request, user, SignatureMeaning.APPROVAL, tiers)
    except GavelError as exc:
        return False, exc.message
    return True, ""


class LedgerDoesNotVerify(GavelError):
    """The fold refused an event no admin has acknowledged: nothing can be trusted to act on."""


def _refuse_decision(
    s: AuthorityState,
    request: PromotionRequest,
    user_id: str,
    meaning: SignatureMeaning,
    tiers: Mapping[tuple[str, str], str],
) -> None:
    cache_tier = tiers.get((request.identity.registry, request.identity.model))
    refusal = decision_refusal(s, request, user_id, meaning, cache_tier, at=datetime.now(UTC))
    if refusal is not None:
        raise refusal_error(refusal)


def current_state(
    request: PromotionRequest, policy: Policy, status: PolicyStatus, now: datetime
) -> tuple[RequestState, str]:
    """The request's state now, with its reason. The fold records events; expiry (the
    clock) and approval (the policy in force) are worked out here, for every reader."""
    expires = policy.expires_at(request.created_at)
    if request.is_open and request.claim is None and expires is not None and now > expires:
        return (
            RequestState.EXPIRED,
            f"waited past {expires:%Y-%m-%d %H:%M} UTC, the limit of its policy",
        )
    if request.state is RequestState.PENDING and status.satisfied:
        return RequestState.APPROVED, "policy satisfied"
    return request.state, request.state_reason


def state_now(
    s: AuthorityState,
    request: PromotionRequest,
    tiers: Mapping[tuple[str, str], str],
    now: datetime,
) -> tuple[RequestState, PolicyStatus]:
    """The request's state now (``current_state``) under the policy of its effective
    tier, with that policy's verdict: for readers that need no full ``request_view``."""
    ident = request.identity
    tier = s.effective_tier(request, tiers.get((ident.registry, ident.model)) or None)
    policy = s.policy(tier)
    status = policy_status(request, policy)
    return current_state(request, policy, status, now)[0], status


def request_view(
    s: AuthorityState,
    request: PromotionRequest,
    tiers: Mapping[tuple[str, str], str],
    now: datetime,
) -> RequestView:
    """A copy of the folded request with its state worked out and what it still needs."""
    r = request.copy()
    ident = r.identity
    cache_tier = tiers.get((ident.registry, ident.model))
    tier = s.effective_tier(r, cache_tier)
    policy = s.policy(tier)
    status = policy_status(r, policy)
    r.state, r.state_reason = current_state(r, policy, status, now)
    notes: list[str] = []
    asked = normalize_tier(r.risk_tier)
    tier_now = (
        cache_tier
        if cache_tier is not None
        else s.observed_tier(f"model:{ident.registry}/{ident.model}")
    )
    if tier_now is not None and normalize_tier(tier_now) != asked:
        notes.append(
            f"The model's risk tier was {r.risk_tier or 'not set'} when this was requested and "
            f"is {tier_now or 'not set'} now: the stricter {tier}-risk policy applies."
        )
    lowered = s.last_lowering(f"model:{ident.registry}/{ident.model}")
    if lowered is not None and tier == normalize_tier(r.risk_tier) != "high":
        notes.append(
            f"The model's risk tier was lowered in the registry from {lowered.before or 'not set'} "
            f"to {lowered.after} (seen by a sync at {lowered.at:%Y-%m-%d %H:%M} UTC, event "
            f"{lowered.seq}); the {tier}-risk policy applies to this request."
        )
    unmapped = unmapped_authors(s, r)
    if unmapped:
        also = " and ".join(unmapped)
        consequence = (
            "a high-risk promotion cannot be approved until an admin maps it"
            if tier == "high"
            else "nobody can check that its approvers did not write it"
        )
        notes.append(f"The version's {also} maps to no Gavel identity: {consequence}.")
    if r.claim is not None and r.is_open:
        notes.append(f"Being applied by {r.claim.actor} since {r.claim.at:%Y-%m-%d %H:%M:%S} UTC.")
    return RequestView(r, policy, status, tier, tuple(notes))
