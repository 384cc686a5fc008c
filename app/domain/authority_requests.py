"""The authority rules for promotion requests (see ``domain.authority``).

A request's state is folded here from its own signed events: created, decided,
commented, withdrawn, claimed for apply, applied, failed or stopped. Nothing an event
says about the outcome (an old ``policy_satisfied`` flag, say) is read; whether a
pending request is approved is worked out from the approvals that counted and the
policy in force (``domain.governance.policy_status``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from app.domain.authority_model import (
    CLAIM_TTL,
    Judgement,
    Refusal,
    RefusalKind,
    as_mapping,
)
from app.domain.errors import UsageError
from app.domain.governance import (
    Claim,
    Decision,
    Evidence,
    PromotionRequest,
    RequestState,
    Role,
    SignatureMeaning,
    TargetKind,
    VersionIdentity,
    parse_stage,
    policy_status,
    stage_name,
)
from app.domain.ledger import LedgerAction, LedgerEvent
from app.domain.offline import offline_intent

if TYPE_CHECKING:
    from app.domain.authority import AuthorityState

REQUEST_ACTIONS = frozenset(
    a.value
    for a in (
        LedgerAction.REQUEST_CREATED,
        LedgerAction.REQUEST_APPROVED,
        LedgerAction.REQUEST_REJECTED,
        LedgerAction.REQUEST_WITHDRAWN,
        LedgerAction.COMMENT_ADDED,
        LedgerAction.PROMOTION_APPLY_STARTED,
        LedgerAction.PROMOTION_APPLIED,
        LedgerAction.PROMOTION_APPLY_FAILED,
        LedgerAction.CONFLICT_DETECTED,
    )
)
# What a claimant may record as the end of an apply that did not write.
STOP_STATES = (RequestState.CONFLICT, RequestState.VOID, RequestState.STALE)


def request_id_of(ev: LedgerEvent) -> str | None:
    """The request an event is about: its subject, or (promotion.applied, whose subject is
    the model so alias histories find it) the request_id it names."""
    if ev.subject.startswith("request:"):
        return ev.subject[len("request:") :]
    rid = as_mapping(ev.after).get("request_id")
    return rid if isinstance(rid, str) and ev.action == LedgerAction.PROMOTION_APPLIED else None


def judge_request_event(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    rid = request_id_of(ev)
    if not rid:
        return Refusal(RefusalKind.MALFORMED, "it names no promotion request.")
    if ev.action == LedgerAction.REQUEST_CREATED:
        return _created(s, ev, rid)
    request = s.requests.get(rid)
    if request is None:
        return Refusal(RefusalKind.INVALID_STATE, f"there is no request {rid}.")
    rule = _RULES[ev.action]
    return rule(s, ev, request)


# ------------------------------------------------------------------------ creating


def parse_request(
    rid: str, ev: LedgerEvent, payload: Mapping[str, object]
) -> PromotionRequest | None:
    """The request a request.created event records, or None when it is malformed."""
    try:
        version = payload["version"]
        checklist = payload.get("checklist", {})
        evidence = payload.get("evidence", {})
        if not isinstance(version, Mapping) or not isinstance(checklist, Mapping):
            return None
        kind = TargetKind(str(payload.get("target_kind", TargetKind.ALIAS.value)))
        stage = parse_stage(str(payload["stage"])) if kind is TargetKind.STAGE else ""
        held = payload.get("alias_version_at_request")
        return PromotionRequest(
            request_id=rid,
            identity=VersionIdentity.from_json(version),
            alias="" if stage else str(payload["alias"]),
            justification=str(payload.get("justification", "")),
            checklist={str(k): str(v) for k, v in checklist.items()},
            risk_tier=str(payload.get("risk_tier", "")),
            requester=ev.actor,
            created_at=ev.at,
            created_seq=ev.seq,
            created_hash=ev.hash,
            alias_version_at_request=held if isinstance(held, int) else None,
            evidence=Evidence.from_json(evidence if isinstance(evidence, Mapping) else {}),
            event_seqs=[ev.seq],
            target_kind=kind,
            stage=stage,
            stage_at_request=(
                stage_name(str(payload.get("stage_at_request", ""))) if stage else ""
            ),
            version_creator=str(payload.get("version_creator", "")),
            run_user=str(payload.get("run_user", "")),
        )
    except (KeyError, TypeError, ValueError, UsageError):
        return None


def _created(s: AuthorityState, ev: LedgerEvent, rid: str) -> Judgement:
    if rid in s.requests:
        return Refusal(RefusalKind.MALFORMED, f"request id {rid} is used a second time.")
    roles = s.roles_of(ev.actor)
    if not roles & {Role.REQUESTER, Role.ADMIN}:
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"requesting a promotion needs the requester role; {ev.actor} had "
            f"{_roles_text(roles)}.",
        )
    payload = as_mapping(ev.after).get("request")
    request = parse_request(rid, ev, payload) if isinstance(payload, Mapping) else None
    if request is None:
        return Refusal(RefusalKind.MALFORMED, "it does not record a readable request.")

    def apply() -> None:
        s.requests[rid] = request

    return apply


# ----------------------------------------------------------------------- deciding


def decision_refusal(
    s: AuthorityState,
    request: PromotionRequest,
    actor: str,
    meaning: SignatureMeaning,
    *tiers_seen: str | None,
    at: datetime | None = None,
) -> Refusal | None:
    """Why ``actor`` may not approve or reject ``request`` at ``at``; None when they may.

    tiers_seen: risk tiers read outside the ledger (the cache, the registry); the
    strictest of them and the ledger's applies.
    at: when the decision is made (the event's time); None: no expiry check.
    """
    verb = "approve" if meaning is SignatureMeaning.APPROVAL else "reject"
    if not request.is_open:
        why = f": {request.state_reason}" if request.state_reason else ""
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is {request.state.value}{why}; only pending "
            "requests can be decided.",
        )
    if request.claim is not None:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is being applied by {request.claim.actor}; it "
            "can no longer be decided.",
        )
    tier = s.effective_tier(request, *tiers_seen)
    policy = s.policy(tier)
    expired = _expired(request, policy.expires_at(request.created_at), at)
    if expired is not None:
        return expired
    roles = s.roles_of(actor)
    if policy.required_role not in roles:
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"only someone with the {policy.required_role.value} role can {verb} "
            f"{tier}-risk promotions; {actor} has {_roles_text(roles)}.",
        )
    names = s.names_of(actor)
    if request.requester == actor:
        return Refusal(
            RefusalKind.SEPARATION_OF_DUTIES,
            f"{actor} requested this promotion and cannot also {verb} it; another approver "
            "must decide.",
        )
    creator, run_user = request.version_creator, request.run_user
    if creator and creator.lower() in names:
        return Refusal(
            RefusalKind.SEPARATION_OF_DUTIES,
            f"{actor} created version {request.identity.version} of "
            f"{request.identity.model} ({creator}) and cannot {verb} its promotion.",
        )
    if run_user and run_user.lower() in names:
        return Refusal(
            RefusalKind.SEPARATION_OF_DUTIES,
            f"{actor} ran the training run of this version ({run_user}) and cannot {verb} "
            "its promotion.",
        )
    if any(d.actor == actor for d in request.decisions):
        return Refusal(
            RefusalKind.SEPARATION_OF_DUTIES,
            f"{actor} has already decided on this request; approvals must come from "
            "distinct people.",
        )
    if meaning is SignatureMeaning.APPROVAL and tier == "high":
        unmapped = unmapped_authors(s, request)
        if unmapped:
            return Refusal(
                RefusalKind.INVALID_STATE,
                f"the version's {unmapped[0]} maps to no Gavel identity, so nobody can tell "
                "whether the approver is its author; a high-risk promotion cannot be "
                "approved until an admin maps that name ('gavel identity map').",
            )
    return None


def unmapped_authors(s: AuthorityState, request: PromotionRequest) -> list[str]:
    """The version's creator and run user, where they map to no member, in words."""
    out = []
    if request.version_creator and s.owner_of(request.version_creator) is None:
        out.append(f"creator '{request.version_creator}'")
    if request.run_user and s.owner_of(request.run_user) is None:
        out.append(f"run user '{request.run_user}'")
    return out


def _decided(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    meaning = (
        SignatureMeaning.APPROVAL
        if ev.action == LedgerAction.REQUEST_APPROVED
        else SignatureMeaning.REJECTION
    )
    if as_mapping(ev.after).get("request_hash") != request.created_hash:
        return Refusal(
            RefusalKind.MALFORMED,
            f"it signs another record than request {request.request_id} as it was made.",
        )
    refusal = decision_refusal(s, request, ev.actor, meaning, at=ev.at)
    if refusal is not None:
        return refusal
    roles = s.roles_of(ev.actor)

    intent = offline_intent(ev)
    # A decision made offline was signed as an intent, with this key.
    signer = ev.signer if intent is None else intent[2]

    def apply() -> None:
        request.decisions.append(
            Decision(ev.seq, ev.actor, meaning, ev.reason, ev.at, signer, ev.hash, roles)
        )
        request.event_seqs.append(ev.seq)
        if meaning is SignatureMeaning.REJECTION:
            _close(request, RequestState.REJECTED, f"rejected by {ev.actor}: {ev.reason}", ev)

    return apply


def _withdrawn(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    if ev.actor != request.requester and not s.is_admin(ev.actor):
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"only the requester ({request.requester}) or an admin can withdraw a request.",
        )
    refusal = _must_be_open(request, "withdrawn")
    if refusal is not None:
        return refusal

    def apply() -> None:
        request.event_seqs.append(ev.seq)
        _close(request, RequestState.WITHDRAWN, f"withdrawn by {ev.actor}: {ev.reason}", ev)

    return apply


def _commented(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    if not ev.reason.strip():
        return Refusal(RefusalKind.MALFORMED, "a comment cannot be empty.")

    def apply() -> None:
        request.comments.append((ev.actor, ev.reason, ev.at))
        request.event_seqs.append(ev.seq)

    return apply


# ------------------------------------------------------------------------ applying


def apply_refusal(
    s: AuthorityState, request: PromotionRequest, actor: str, at: datetime, *tiers_seen: str | None
) -> Refusal | None:
    """Why ``actor`` may not claim ``request`` for applying at ``at``; None when they may."""
    if request.state is RequestState.APPLIED:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} was already applied ({request.state_reason}).",
        )
    if not request.is_open:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is {request.state.value}: {request.state_reason}.",
        )
    claim = request.claim
    if claim is not None and claim.actor != actor and at - claim.at < CLAIM_TTL:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is already being applied by {claim.actor} "
            f"(since {claim.at:%Y-%m-%d %H:%M:%S} UTC).",
        )
    policy = s.policy(s.effective_tier(request, *tiers_seen))
    expired = _expired(request, policy.expires_at(request.created_at), at)
    if expired is not None:
        return expired
    status = policy_status(request, policy)
    if not status.satisfied:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is not approved: {status.describe()}",
        )
    return None


def _apply_started(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    refusal = apply_refusal(s, request, ev.actor, ev.at)
    if refusal is not None:
        return refusal

    def apply() -> None:
        request.claim = Claim(ev.actor, ev.seq, ev.at)
        request.event_seqs.append(ev.seq)

    return apply


def _claimed_by_actor(request: PromotionRequest, ev: LedgerEvent) -> Refusal | None:
    if request.claim is None or request.claim.actor != ev.actor:
        holder = request.claim.actor if request.claim else "nobody"
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"{ev.actor} did not hold the claim to apply request {request.request_id} "
            f"(held by {holder}).",
        )
    return None


def _applied(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    refusal = _claimed_by_actor(request, ev)
    if refusal is not None:
        return refusal

    def apply() -> None:
        request.event_seqs.append(ev.seq)
        request.applied_seq = ev.seq
        _close(request, RequestState.APPLIED, f"applied by {ev.actor}", ev)

    return apply


def _apply_failed(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    refusal = _claimed_by_actor(request, ev)
    if refusal is not None:
        return refusal

    def apply() -> None:
        request.event_seqs.append(ev.seq)
        request.claim = None

    return apply


def _stopped(s: AuthorityState, ev: LedgerEvent, request: PromotionRequest) -> Judgement:
    refusal = _claimed_by_actor(request, ev)
    if refusal is not None:
        return refusal
    try:
        state = RequestState(str(as_mapping(ev.after).get("state")))
    except ValueError:
        state = RequestState.CONFLICT
    if state not in STOP_STATES:
        return Refusal(RefusalKind.MALFORMED, f"'{state.value}' is not how an apply stops.")

    def apply() -> None:
        request.event_seqs.append(ev.seq)
        _close(request, state, ev.reason, ev)

    return apply


# ------------------------------------------------------------------------- helpers


def _must_be_open(request: PromotionRequest, what: str) -> Refusal | None:
    if not request.is_open:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is {request.state.value} and cannot be {what}.",
        )
    if request.claim is not None:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"request {request.request_id} is being applied by {request.claim.actor} and "
            f"cannot be {what}.",
        )
    return None


def _expired(
    request: PromotionRequest, expires: datetime | None, at: datetime | None
) -> Refusal | None:
    if expires is None or at is None or at <= expires:
        return None
    return Refusal(
        RefusalKind.INVALID_STATE,
        f"request {request.request_id} expired on {expires:%Y-%m-%d %H:%M} UTC (its policy "
        "gives requests a limited time); make a new request.",
    )


def _close(request: PromotionRequest, state: RequestState, why: str, ev: LedgerEvent) -> None:
    request.state, request.state_reason = state, why
    request.claim = None
    request.closed_at = ev.at


def _roles_text(roles: frozenset[Role]) -> str:
    return ", ".join(sorted(r.value for r in roles)) or "no role"


_RULES: dict[str, Callable[[AuthorityState, LedgerEvent, PromotionRequest], Judgement]] = {
    LedgerAction.REQUEST_APPROVED.value: _decided,
    LedgerAction.REQUEST_REJECTED.value: _decided,
    LedgerAction.REQUEST_WITHDRAWN.value: _withdrawn,
    LedgerAction.COMMENT_ADDED.value: _commented,
    LedgerAction.PROMOTION_APPLY_STARTED.value: _apply_started,
    LedgerAction.PROMOTION_APPLIED.value: _applied,
    LedgerAction.PROMOTION_APPLY_FAILED.value: _apply_failed,
    LedgerAction.CONFLICT_DETECTED.value: _stopped,
}
