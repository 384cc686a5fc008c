"""Governance rules: roles, policy per risk tier, separation of duties, request state.

Pure: no I/O. Every fact here is derived from ledger events, so authorization and
request history are as tamper-evident as the ledger itself.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain.errors import GavelError, UsageError


class Role(StrEnum):
    VIEWER = "viewer"
    REQUESTER = "requester"
    APPROVER = "approver"
    ADMIN = "admin"


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # policy satisfied, not yet applied to the registry
    REJECTED = "rejected"
    APPLIED = "applied"
    CONFLICT = "conflict"  # the alias (or the version's stage) moved since the request
    VOID = "void"  # the version (or the model) it names is gone or was recreated
    STALE = "stale"  # the evidence it was approved on changed

    @property
    def is_open(self) -> bool:
        return self in (RequestState.PENDING, RequestState.APPROVED)


class SignatureMeaning(StrEnum):
    """21 CFR 11.50(a)(3): what a signature means."""

    APPROVAL = "approval"
    REJECTION = "rejection"
    REVIEW = "review"


class SeparationOfDuties(GavelError):
    """The action would break separation of duties; refused whoever asks."""


class NotAuthorized(GavelError):
    """The person lacks the role the action needs."""


class InvalidState(GavelError):
    """The request is not in a state that allows the action."""


# Evidence checklist: key -> label a person reads.
CHECKLIST: dict[str, str] = {
    "validation_report": "validation report",
    "metrics_reviewed": "metrics reviewed",
    "bias_review": "bias/fairness review",
    "rollback_plan": "rollback plan",
}

RISK_TIERS = ("high", "medium", "low")


# ------------------------------------------------------------------------- policy

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_THRESHOLD_RE = re.compile(r"^\s*([A-Za-z0-9_.\-/ ]+?)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class MetricThreshold:
    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> MetricThreshold:
        m = _THRESHOLD_RE.match(text)
        if not m:
            raise UsageError(
                f"'{text}' is not a metric threshold: write it like 'auc >= 0.8' "
                "(operators >=, <=, >, <)."
            )
        return cls(m.group(1), m.group(2), float(m.group(3)))

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Policy:
    risk_tier: str
    approvals_required: int
    required_role: Role = Role.APPROVER
    required_checklist: tuple[str, ...] = ()
    metric_thresholds: tuple[MetricThreshold, ...] = ()

    def __post_init__(self) -> None:
        if self.approvals_required < 1:
            raise UsageError("A policy needs at least one approval.")
        unknown = [c for c in self.required_checklist if c not in CHECKLIST]
        if unknown:
            raise UsageError(
                f"Unknown checklist item(s) {', '.join(unknown)}; "
                f"known items are {', '.join(CHECKLIST)}."
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "risk_tier": self.risk_tier,
            "approvals_required": self.approvals_required,
            "required_role": self.required_role.value,
            "required_checklist": list(self.required_checklist),
            "metric_thresholds": [str(t) for t in self.metric_thresholds],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Policy:
        try:
            return cls(
                risk_tier=str(data["risk_tier"]),
                approvals_required=int(data["approvals_required"]),  # type: ignore[call-overload]
                required_role=Role(str(data.get("required_role", "approver"))),
                required_checklist=tuple(str(c) for c in data.get("required_checklist", ())),  # type: ignore[attr-defined]
                metric_thresholds=tuple(
                    MetricThreshold.parse(str(t))
                    for t in data.get("metric_thresholds", ())  # type: ignore[attr-defined]
                ),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"A policy is malformed ({exc}).") from None


DEFAULT_POLICIES: dict[str, Policy] = {
    "high": Policy("high", 2, Role.APPROVER, tuple(CHECKLIST)),
    "medium": Policy("medium", 1, Role.APPROVER, ("validation_report", "rollback_plan")),
    "low": Policy("low", 1, Role.APPROVER, ("rollback_plan",)),
}


def policy_for(risk_tier: str, policies: Mapping[str, Policy]) -> Policy:
    """The policy of a tier; an unknown or missing tier counts as high."""
    tier = risk_tier.strip().lower()
    return policies.get(tier) or policies.get("high") or DEFAULT_POLICIES["high"]


# ----------------------------------------------------------------------- identity


@dataclass(frozen=True)
class Identity:
    """A person as the ledger knows them.

    registry_usernames: names this person has in registries (for 'the creator of a
    version cannot approve it').
    """

    user_id: str
    display_name: str
    registry_usernames: tuple[str, ...] = ()

    def all_names(self) -> set[str]:
        return {self.user_id.lower(), *(u.lower() for u in self.registry_usernames)}


# ------------------------------------------------------------------------ targets


class TargetKind(StrEnum):
    """What a request moves: an alias to the version, or the version into a stage."""

    ALIAS = "alias"
    STAGE = "stage"


# MLflow's stages, spelled as MLflow spells them; "None" is a version in no stage.
STAGE_NONE = "None"
STAGES: tuple[str, ...] = ("Staging", "Production", "Archived")  # what a request can target


def stage_name(raw: str) -> str:
    """A registry's stage value in MLflow's spelling ('' counts as "None"); unknown kept."""
    key = raw.strip().lower()
    if not key:
        return STAGE_NONE
    return next((s for s in (STAGE_NONE, *STAGES) if s.lower() == key), raw.strip())


def parse_stage(text: str) -> str:
    """A stage a request can target, from what a person typed ('production' works)."""
    stage = stage_name(text)
    if stage not in STAGES:
        raise UsageError(f"'{text}' is not a stage to promote to; use {', '.join(STAGES)}.")
    return stage


# ------------------------------------------------------------------------ requests


@dataclass(frozen=True)
class VersionIdentity:
    """What a request names: enough to notice the version was replaced by another."""

    registry: str
    model: str
    version: int
    creation_timestamp: int | None
    run_id: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "model": self.model,
            "version": self.version,
            "creation_timestamp": self.creation_timestamp,
            "run_id": self.run_id,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> VersionIdentity:
        ts = d.get("creation_timestamp")
        return cls(
            registry=str(d["registry"]),
            model=str(d["model"]),
            version=int(d["version"]),  # type: ignore[call-overload]
            creation_timestamp=int(ts) if isinstance(ts, int) else None,
            run_id=str(d.get("run_id", "")),
            source=str(d.get("source", "")),
        )


@dataclass(frozen=True)
class Evidence:
    """The run evidence a request is approved on; a change makes the request STALE."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    dataset_digests: tuple[str, ...] = ()

    def digest(self) -> str:
        body = json.dumps(
            {
                "metrics": {k: repr(v) for k, v in sorted(self.metrics.items())},
                "datasets": sorted(self.dataset_digests),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


def request_subject(request_id: str) -> str:
    return f"request:{request_id}"


@dataclass(frozen=True)
class Decision:
    seq: int
    actor: str
    meaning: SignatureMeaning
    comment: str
    at: datetime
    signer: str | None
    event_hash: str


@dataclass
class PromotionRequest:
    """A request folded from its ledger events (see fold_requests).

    An alias request names ``alias`` and the version the alias pointed at when it was
    made; a stage request (target_kind STAGE, alias "") names ``stage`` and the stage
    the version was in then.
    """

    request_id: str
    identity: VersionIdentity
    alias: str
    justification: str
    checklist: dict[str, str]
    risk_tier: str
    requester: str
    created_at: datetime
    created_seq: int
    created_hash: str
    alias_version_at_request: int | None
    evidence_digest: str
    state: RequestState = RequestState.PENDING
    state_reason: str = ""
    decisions: list[Decision] = field(default_factory=list)
    comments: list[tuple[str, str, datetime]] = field(default_factory=list)
    applied_seq: int | None = None
    event_seqs: list[int] = field(default_factory=list)
    target_kind: TargetKind = TargetKind.ALIAS
    stage: str = ""
    stage_at_request: str = ""

    @property
    def approvals(self) -> list[Decision]:
        return [d for d in self.decisions if d.meaning is SignatureMeaning.APPROVAL]

    @property
    def is_stage(self) -> bool:
        return self.target_kind is TargetKind.STAGE

    @property
    def target_name(self) -> str:
        """The target in words: "alias 'production'" or "stage Production"."""
        return f"stage {self.stage}" if self.is_stage else f"alias '{self.alias}'"

    @property
    def target_text(self) -> str:
        target = f"stage {self.stage}" if self.is_stage else self.alias
        return f"{self.identity.model} v{self.identity.version} → {target}"


@dataclass(frozen=True)
class PolicyStatus:
    satisfied: bool
    missing: tuple[str, ...]

    def describe(self) -> str:
        return "Policy satisfied." if self.satisfied else "; ".join(self.missing) + "."


def policy_status(
    request: PromotionRequest,
    policy: Policy,
    roles_at: Callable[[str], set[Role]],
    metrics: Mapping[str, float],
) -> PolicyStatus:
    """What the policy still needs, in sentences a person can act on."""
    missing: list[str] = []
    valid = [
        d
        for d in request.approvals
        if policy.required_role in roles_at(d.actor) or Role.ADMIN in roles_at(d.actor)
    ]
    count = len({d.actor for d in valid})
    need = policy.approvals_required - count
    if need > 0:
        role = policy.required_role.value
        if need == 1:
            article = "an" if role[0] in "aeiou" else "a"
            missing.append(f"1 more approval from {article} {role}")
        else:
            missing.append(f"{need} more approvals from distinct {role}s")
    for item in policy.required_checklist:
        if not request.checklist.get(item, "").strip():
            missing.append(f"checklist item '{CHECKLIST[item]}' missing")
    for t in policy.metric_thresholds:
        value = metrics.get(t.metric)
        if value is None:
            missing.append(f"metric '{t.metric}' not logged by the version's run (needs {t})")
        elif not t.holds(value):
            missing.append(f"metric {t.metric} = {value:g} does not meet {t}")
    return PolicyStatus(not missing, tuple(missing))


def check_can_decide(
    actor: Identity,
    roles: set[Role],
    request: PromotionRequest,
    policy: Policy,
    version_creator: str,
    run_user: str,
    meaning: SignatureMeaning,
) -> None:
    """Raise if ``actor`` may not approve/reject ``request``; the message says why."""
    verb = "approve" if meaning is SignatureMeaning.APPROVAL else "reject"
    if request.state is not RequestState.PENDING:
        raise InvalidState(
            f"Request {request.request_id} is {request.state.value}; only pending requests "
            f"can be decided{': ' + request.state_reason if request.state_reason else ''}."
        )
    if policy.required_role not in roles:
        have = ", ".join(sorted(r.value for r in roles)) or "no role"
        raise NotAuthorized(
            f"Only someone with the {policy.required_role.value} role can {verb} "
            f"{request.risk_tier or 'high'}-risk promotions; {actor.user_id} has {have}."
        )
    names = actor.all_names()
    if request.requester.lower() in names:
        raise SeparationOfDuties(
            f"{actor.user_id} requested this promotion and cannot also {verb} it; "
            "another approver must decide."
        )
    if version_creator and version_creator.lower() in names:
        raise SeparationOfDuties(
            f"{actor.user_id} created version {request.identity.version} of "
            f"{request.identity.model} ({version_creator}) and cannot {verb} its promotion."
        )
    if run_user and run_user.lower() in names:
        raise SeparationOfDuties(
            f"{actor.user_id} ran the training run of this version ({run_user}) and cannot "
            f"{verb} its promotion."
        )
    if any(d.actor == actor.user_id for d in request.decisions):
        raise SeparationOfDuties(
            f"{actor.user_id} has already decided on this request; approvals must come from "
            "distinct people."
        )


# ------------------------------------------------------------------------ folding


@dataclass(frozen=True)
class FoldEvent:
    """The parts of a ledger event the folds need (kept independent of storage)."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: object
    after: object
    reason: str
    hash: str
    signer: str | None


def fold_roles(events: Iterable[FoldEvent]) -> tuple[dict[str, set[Role]], list[str]]:
    """Current roles per user from role events in ledger order.

    The first grant on a ledger with no admin must be an admin granting itself (the
    first identity of a new ledger is its admin); later grants and revocations count
    only when made by someone who was admin at that moment. Returns the roles and a
    sentence for each event ignored.
    """
    roles: dict[str, set[Role]] = {}
    ignored: list[str] = []
    for ev in events:
        if ev.action not in ("role.granted", "role.revoked"):
            continue
        after = ev.after if isinstance(ev.after, Mapping) else {}
        user, role_name = after.get("user"), after.get("role")
        try:
            role = Role(str(role_name))
        except ValueError:
            ignored.append(f"Event {ev.seq} names an unknown role '{role_name}'.")
            continue
        if not isinstance(user, str) or not user:
            ignored.append(f"Event {ev.seq} names no user.")
            continue
        has_admin = any(Role.ADMIN in r for r in roles.values())
        bootstrap = (
            not has_admin
            and ev.action == "role.granted"
            and role is Role.ADMIN
            and user == ev.actor
        )
        if not bootstrap and Role.ADMIN not in roles.get(ev.actor, set()):
            ignored.append(
                f"Event {ev.seq}: {ev.actor} changed roles without being an admin; ignored."
            )
            continue
        if ev.action == "role.granted":
            roles.setdefault(user, set()).add(role)
        else:
            roles.setdefault(user, set()).discard(role)
    return roles, ignored


def fold_requests(
    events: Iterable[FoldEvent], into: dict[str, PromotionRequest] | None = None
) -> dict[str, PromotionRequest]:
    """Requests and their state from request-related events in ledger order.

    into: requests folded from earlier events, updated in place (incremental folding).
    """
    out: dict[str, PromotionRequest] = {} if into is None else into
    for ev in events:
        after = ev.after if isinstance(ev.after, Mapping) else {}
        rid = _request_id(ev, after)
        if rid is None:
            continue
        if ev.action == "request.created":
            try:
                req = after["request"]
                # Requests from before stage targets carry no target_kind: an alias.
                kind = TargetKind(str(req.get("target_kind", TargetKind.ALIAS.value)))
                stage = parse_stage(str(req["stage"])) if kind is TargetKind.STAGE else ""
                out[rid] = PromotionRequest(
                    request_id=rid,
                    identity=VersionIdentity.from_json(req["version"]),
                    alias="" if stage else str(req["alias"]),
                    justification=str(req.get("justification", "")),
                    checklist={str(k): str(v) for k, v in req.get("checklist", {}).items()},
                    risk_tier=str(req.get("risk_tier", "")),
                    requester=ev.actor,
                    created_at=ev.at,
                    created_seq=ev.seq,
                    created_hash=ev.hash,
                    alias_version_at_request=req.get("alias_version_at_request"),
                    evidence_digest=str(req.get("evidence_digest", "")),
                    event_seqs=[ev.seq],
                    target_kind=kind,
                    stage=stage,
                    stage_at_request=(
                        stage_name(str(req.get("stage_at_request", ""))) if stage else ""
                    ),
                )
            except (KeyError, TypeError, ValueError, UsageError):
                continue
            continue
        request = out.get(rid)
        if request is None:
            continue
        request.event_seqs.append(ev.seq)
        if ev.action in ("request.approved", "request.rejected"):
            # A decision counts only if it is signed and bound to this exact request.
            if after.get("request_hash") != request.created_hash or not ev.signer:
                continue
            meaning = (
                SignatureMeaning.APPROVAL
                if ev.action == "request.approved"
                else SignatureMeaning.REJECTION
            )
            request.decisions.append(
                Decision(ev.seq, ev.actor, meaning, ev.reason, ev.at, ev.signer, ev.hash)
            )
            if meaning is SignatureMeaning.REJECTION and request.state is RequestState.PENDING:
                request.state = RequestState.REJECTED
                request.state_reason = f"rejected by {ev.actor}: {ev.reason}"
            elif after.get("policy_satisfied") and request.state is RequestState.PENDING:
                request.state = RequestState.APPROVED
                request.state_reason = "policy satisfied"
        elif ev.action == "comment.added":
            request.comments.append((ev.actor, ev.reason, ev.at))
        elif ev.action == "conflict.detected":
            try:
                request.state = RequestState(str(after.get("state")))
            except ValueError:
                request.state = RequestState.CONFLICT
            request.state_reason = ev.reason
        elif ev.action == "promotion.applied":
            request.state = RequestState.APPLIED
            request.state_reason = f"applied by {ev.actor}"
            request.applied_seq = ev.seq
    return out


def _request_id(ev: FoldEvent, after: Mapping[str, object]) -> str | None:
    if ev.subject.startswith("request:"):
        return ev.subject[len("request:") :]
    rid = after.get("request_id")
    return rid if isinstance(rid, str) and ev.action == "promotion.applied" else None


def unexplained(move_after: int | None, applied_versions: Sequence[int | None]) -> bool:
    """An alias move is unapproved unless an applied promotion set it to that version."""
    return move_after not in applied_versions
