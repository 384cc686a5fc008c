"""Governance words and rules: roles, policy per risk tier, requests and their evidence.

Pure: no I/O. Who holds which role, which policy is in force and where each request
stands are folded from signed ledger events by ``domain.authority``; this module
holds the values those folds produce and the rules that read them.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.domain.errors import GavelError, UsageError


class Role(StrEnum):
    VIEWER = "viewer"
    REQUESTER = "requester"
    APPROVER = "approver"
    # Records findings (in an audit session, or on the live ledger).
    AUDITOR = "auditor"
    ADMIN = "admin"


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # policy satisfied, not yet applied to the registry
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # taken back by its requester (or an admin)
    EXPIRED = "expired"  # waited longer than its policy allows
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
_TIER_RANK = {"low": 1, "medium": 2, "high": 3}


def normalize_tier(tier: str) -> str:
    """A tier as policies name it; an unknown or missing tier counts as high."""
    t = tier.strip().lower()
    return t if t in _TIER_RANK else "high"


def strictest_tier(*tiers: str | None) -> str:
    """The strictest of the tiers given (None: not known, ignored); high if none is."""
    known = [normalize_tier(t) for t in tiers if t is not None]
    return max(known, key=_TIER_RANK.__getitem__) if known else "high"


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
    # Days a request may wait for its decisions and apply; None: no limit.
    request_expiry_days: int | None = None
    # Days between periodic reviews of the version in production; None: the tier's default.
    review_interval_days: int | None = None

    def __post_init__(self) -> None:
        if self.approvals_required < 1:
            raise UsageError("A policy needs at least one approval.")
        if self.request_expiry_days is not None and self.request_expiry_days < 1:
            raise UsageError("A request expiry is at least one day.")
        if self.review_interval_days is not None and self.review_interval_days < 1:
            raise UsageError("A review interval is at least one day.")
        unknown = [c for c in self.required_checklist if c not in CHECKLIST]
        if unknown:
            raise UsageError(
                f"Unknown checklist item(s) {', '.join(unknown)}; "
                f"known items are {', '.join(CHECKLIST)}."
            )

    @property
    def review_days(self) -> int:
        """Days between periodic reviews: as set, else the tier's default."""
        if self.review_interval_days is not None:
            return self.review_interval_days
        return DEFAULT_REVIEW_DAYS.get(self.risk_tier, DEFAULT_REVIEW_DAYS["high"])

    def to_json(self) -> dict[str, Any]:
        return {
            "risk_tier": self.risk_tier,
            "approvals_required": self.approvals_required,
            "required_role": self.required_role.value,
            "required_checklist": list(self.required_checklist),
            "metric_thresholds": [str(t) for t in self.metric_thresholds],
            # Only when set, so policies recorded before expiries existed keep their form.
            **(
                {"request_expiry_days": self.request_expiry_days}
                if self.request_expiry_days is not None
                else {}
            ),
            **(
                {"review_interval_days": self.review_interval_days}
                if self.review_interval_days is not None
                else {}
            ),
        }

    def expires_at(self, created_at: datetime) -> datetime | None:
        """When a request made at ``created_at`` expires under this policy (None: never)."""
        if self.request_expiry_days is None:
            return None
        return created_at + timedelta(days=self.request_expiry_days)

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
                request_expiry_days=(
                    int(data["request_expiry_days"])  # type: ignore[call-overload]
                    if data.get("request_expiry_days") is not None
                    else None
                ),
                review_interval_days=(
                    int(data["review_interval_days"])  # type: ignore[call-overload]
                    if data.get("review_interval_days") is not None
                    else None
                ),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"A policy is malformed ({exc}).") from None


# Periodic review of the version in production, per tier (days).
DEFAULT_REVIEW_DAYS: dict[str, int] = {"high": 90, "medium": 180, "low": 365}

DEFAULT_POLICIES: dict[str, Policy] = {
    "high": Policy("high", 2, Role.APPROVER, tuple(CHECKLIST)),
    "medium": Policy("medium", 1, Role.APPROVER, ("validation_report", "rollback_plan")),
    "low": Policy("low", 1, Role.APPROVER, ("rollback_plan",)),
}


def policy_for(risk_tier: str, policies: Mapping[str, Policy]) -> Policy:
    """The policy of a tier; an unknown or missing tier counts as high."""
    tier = normalize_tier(risk_tier)
    return policies.get(tier) or DEFAULT_POLICIES[tier]


# ----------------------------------------------------------------------- identity


class MemberStatus(StrEnum):
    """Where a person's enrolment stands on the ledger."""

    ACTIVE = "active"  # a key an admin approved (or the ledger's founder)
    PENDING = "pending"  # enrolled a key; no admin has approved it yet
    REVOKED = "revoked"  # their key was revoked and no new one approved
    UNKNOWN = "unknown"  # not on the ledger at all


@dataclass(frozen=True)
class Identity:
    """A person as the ledger knows them.

    registry_usernames: names this person has in registries, as an admin mapped them
    (for 'the creator of a version cannot approve it'); what people say of themselves
    does not count.
    """

    user_id: str
    display_name: str
    registry_usernames: tuple[str, ...] = ()
    status: MemberStatus = MemberStatus.UNKNOWN
    key_id: str | None = None

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
    """The run evidence a request is approved on; a change makes the request STALE.

    A request records the metrics and dataset digests themselves, so its policy's
    thresholds are checked against what the approvers saw, and apply compares the
    digest of that record with the run as the registry shows it then.
    """

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

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": {k: float(v) for k, v in sorted(self.metrics.items())},
            "datasets": sorted(self.dataset_digests),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> Evidence:
        metrics = d.get("metrics", {})
        datasets = d.get("datasets", [])
        if not isinstance(metrics, Mapping) or not isinstance(datasets, list):
            raise ValueError("evidence must hold a metrics table and a datasets list")
        return cls(
            {str(k): float(v) for k, v in metrics.items()},
            tuple(str(x) for x in datasets),
        )


def request_subject(request_id: str) -> str:
    return f"request:{request_id}"


@dataclass(frozen=True)
class Decision:
    """A signed approval or rejection the ledger accepted.

    roles: the roles its author held when it was recorded (authority is judged then).
    """

    seq: int
    actor: str
    meaning: SignatureMeaning
    comment: str
    at: datetime
    signer: str | None
    event_hash: str
    roles: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class Claim:
    """Someone is writing an approved request to the registry (promotion.apply_started)."""

    actor: str
    seq: int
    at: datetime


@dataclass
class PromotionRequest:
    """A request folded from its ledger events (see domain.authority).

    An alias request names ``alias`` and the version the alias pointed at when it was
    made; a stage request (target_kind STAGE, alias "") names ``stage`` and the stage
    the version was in then. ``risk_tier`` is the model's tier when the request was
    made; the policy that applies is the stricter of it and the tier seen since.
    ``version_creator`` and ``run_user`` are registry user names (separation of duties).
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
    evidence: Evidence = field(default_factory=Evidence)
    state: RequestState = RequestState.PENDING
    state_reason: str = ""
    decisions: list[Decision] = field(default_factory=list)
    comments: list[tuple[str, str, datetime]] = field(default_factory=list)
    applied_seq: int | None = None
    event_seqs: list[int] = field(default_factory=list)
    target_kind: TargetKind = TargetKind.ALIAS
    stage: str = ""
    stage_at_request: str = ""
    version_creator: str = ""
    run_user: str = ""
    claim: Claim | None = None
    closed_at: datetime | None = None

    @property
    def approvals(self) -> list[Decision]:
        return [d for d in self.decisions if d.meaning is SignatureMeaning.APPROVAL]

    @property
    def evidence_digest(self) -> str:
        return self.evidence.digest()

    @property
    def is_stage(self) -> bool:
        return self.target_kind is TargetKind.STAGE

    @property
    def is_open(self) -> bool:
        """Not yet decided against, withdrawn, applied or stopped: it may still be applied."""
        return self.state in (RequestState.PENDING, RequestState.APPROVED)

    @property
    def target_name(self) -> str:
        """The target in words: "alias 'production'" or "stage Production"."""
        return f"stage {self.stage}" if self.is_stage else f"alias '{self.alias}'"

    @property
    def target_text(self) -> str:
        target = f"stage {self.stage}" if self.is_stage else self.alias
        return f"{self.identity.model} v{self.identity.version} → {target}"

    def copy(self) -> PromotionRequest:
        """A copy a caller may change without changing the fold it came from."""
        return replace(
            self,
            checklist=dict(self.checklist),
            decisions=list(self.decisions),
            comments=list(self.comments),
            event_seqs=list(self.event_seqs),
        )


@dataclass(frozen=True)
class PolicyStatus:
    satisfied: bool
    missing: tuple[str, ...]

    def describe(self) -> str:
        return "Policy satisfied." if self.satisfied else "; ".join(self.missing) + "."


def counted_approvers(request: PromotionRequest, policy: Policy) -> set[str]:
    """Distinct people whose approval counts: they held the policy's role when signing."""
    return {d.actor for d in request.approvals if policy.required_role in d.roles}


def policy_status(request: PromotionRequest, policy: Policy) -> PolicyStatus:
    """What the policy still needs, in sentences a person can act on.

    Thresholds are checked against the metrics the request recorded (what approvers
    saw); apply refuses if the run no longer shows them (STALE).
    """
    missing: list[str] = []
    need = policy.approvals_required - len(counted_approvers(request, policy))
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
    metrics = request.evidence.metrics
    for t in policy.metric_thresholds:
        value = metrics.get(t.metric)
        if value is None:
            missing.append(f"metric '{t.metric}' not logged by the version's run (needs {t})")
        elif not t.holds(value):
            missing.append(f"metric {t.metric} = {value:g} does not meet {t}")
    return PolicyStatus(not missing, tuple(missing))


def unexplained(move_after: int | None, applied_versions: Sequence[int | None]) -> bool:
    """An alias move is unapproved unless an applied promotion set it to that version."""
    return move_after not in applied_versions
