"""Pure governance rules: policy per tier, separation of duties, the strictest tier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.authority import AuthorityState
from app.domain.authority_model import Member, RefusalKind
from app.domain.authority_requests import decision_refusal
from app.domain.errors import UsageError
from app.domain.governance import (
    DEFAULT_POLICIES,
    Decision,
    Evidence,
    MetricThreshold,
    Policy,
    PromotionRequest,
    RequestState,
    Role,
    SignatureMeaning,
    VersionIdentity,
    policy_for,
    policy_status,
    strictest_tier,
)
from app.services.signing import Ed25519Verifier

T = datetime(2026, 1, 1, tzinfo=UTC)
FULL_CHECKLIST = {
    "validation_report": "VR-12",
    "metrics_reviewed": "yes",
    "bias_review": "BR-3",
    "rollback_plan": "revert alias",
}


def _request(**kw: object) -> PromotionRequest:
    base: dict[str, object] = {
        "request_id": "r1",
        "identity": VersionIdentity("reg", "fraud", 3, 1, "run1", "runs:/run1/model"),
        "alias": "production",
        "justification": "better recall",
        "checklist": dict(FULL_CHECKLIST),
        "risk_tier": "high",
        "requester": "rita",
        "created_at": T,
        "created_seq": 1,
        "created_hash": "h" * 64,
        "alias_version_at_request": 2,
        "version_creator": "carl",
        "run_user": "carl",
    }
    base.update(kw)
    return PromotionRequest(**base)  # type: ignore[arg-type]


APPROVERS = {"ann": {Role.APPROVER}, "bob": {Role.APPROVER}, "vic": {Role.VIEWER}}


def _approve(req: PromotionRequest, *actors: str) -> PromotionRequest:
    """Approvals with the roles each actor held when signing (what the fold records)."""
    for i, a in enumerate(actors):
        req.decisions.append(
            Decision(
                10 + i,
                a,
                SignatureMeaning.APPROVAL,
                "ok",
                T,
                "ed25519:x",
                "h",
                frozenset(APPROVERS.get(a, set())),
            )
        )
    return req


@pytest.mark.parametrize(
    ("tier", "approvers", "satisfied", "missing"),
    [
        ("high", [], False, "2 more approvals from distinct approvers"),
        ("high", ["ann"], False, "1 more approval from an approver"),
        ("high", ["ann", "bob"], True, ""),
        ("high", ["ann", "ann"], False, "1 more approval from an approver"),  # distinct people
        ("high", ["ann", "vic"], False, "1 more approval from an approver"),  # viewer's vote
        ("medium", ["ann"], True, ""),
        ("low", ["bob"], True, ""),
        ("", ["ann"], False, "1 more approval"),  # unknown tier counts as high
        ("Critical", ["ann"], False, "1 more approval"),
    ],
)
def test_policy_table(tier: str, approvers: list[str], satisfied: bool, missing: str) -> None:
    req = _approve(_request(risk_tier=tier), *approvers)
    status = policy_status(req, policy_for(tier, DEFAULT_POLICIES))
    assert status.satisfied is satisfied
    assert missing in status.describe()


def test_checklist_and_thresholds_are_reported_in_words() -> None:
    policy = Policy(
        "high", 1, Role.APPROVER, ("rollback_plan",), (MetricThreshold.parse("auc >= 0.8"),)
    )
    # Thresholds are checked against the metrics the request recorded (what approvers saw).
    req = _approve(_request(checklist={}, evidence=Evidence({"auc": 0.75})), "ann")
    assert policy_status(req, policy).missing == (
        "checklist item 'rollback plan' missing",
        "metric auc = 0.75 does not meet auc >= 0.8",
    )
    assert (
        "metric 'auc' not logged" in policy_status(_approve(_request(), "ann"), policy).describe()
    )
    ok = _approve(_request(evidence=Evidence({"auc": 0.8})), "ann")
    assert policy_status(ok, policy).satisfied


def test_an_approval_counts_only_with_the_role_held_when_signing() -> None:
    # ann signed while she was a viewer; granting her the role later changes nothing.
    req = _request(risk_tier="medium")
    req.decisions.append(
        Decision(5, "ann", SignatureMeaning.APPROVAL, "ok", T, "k", "h", frozenset({Role.VIEWER}))
    )
    assert not policy_status(req, DEFAULT_POLICIES["medium"]).satisfied


@pytest.mark.parametrize(
    ("tiers", "strictest"),
    [
        (("low", "high"), "high"),
        (("medium", "low"), "medium"),
        (("low", None), "low"),
        (("", "low"), "high"),  # an untagged model counts as high
        (("Critical",), "high"),
        ((None,), "high"),
    ],
)
def test_the_strictest_tier_applies(tiers: tuple[str | None, ...], strictest: str) -> None:
    assert strictest_tier(*tiers) == strictest


def test_threshold_parsing() -> None:
    t = MetricThreshold.parse(" val_auc>=0.85 ")
    assert (t.metric, t.op, t.value) == ("val_auc", ">=", 0.85)
    assert t.holds(0.85) and not t.holds(0.84)
    with pytest.raises(UsageError, match=r"auc >= 0\.8"):
        MetricThreshold.parse("auc is big")
    with pytest.raises(UsageError, match="Unknown checklist"):
        Policy("high", 1, Role.APPROVER, ("coffee",))


def _state(**mapped: tuple[str, ...]) -> AuthorityState:
    """A fold state with ann, bob (approvers), rita (requester) and registry names."""
    s = AuthorityState(Ed25519Verifier())
    for user, roles in (
        ("ann", {Role.APPROVER}),
        ("bob", {Role.APPROVER}),
        ("rita", {Role.REQUESTER}),
    ):
        s.members[user] = Member(user, user.title(), key_id=f"k-{user}")
        s.roles[user] = set(roles)
    for user, names in mapped.items():
        s.set_names(s.members[user], names)
    return s


def _refusal(
    s: AuthorityState, actor: str, req: PromotionRequest
) -> tuple[RefusalKind, str] | None:
    refusal = decision_refusal(s, req, actor, SignatureMeaning.APPROVAL)
    return None if refusal is None else (refusal.kind, refusal.reason)


def test_separation_of_duties() -> None:
    s = _state(ann=("ann.mlflow",), bob=("carl",))
    medium = _request(risk_tier="medium", version_creator="", run_user="")
    assert _refusal(s, "ann", medium) is None  # allowed

    sod = RefusalKind.SEPARATION_OF_DUTIES
    s.roles["rita"].add(Role.APPROVER)  # even with the role, the requester cannot approve
    own = _refusal(s, "rita", medium)
    assert own is not None and own[0] is sod and "requested this promotion" in own[1]
    created = _refusal(s, "ann", _request(risk_tier="medium", version_creator="ANN.mlflow"))
    assert created is not None and created[0] is sod and "created version 3" in created[1]
    # bob's mapped registry name is carl, who trained the run.
    trained = _refusal(s, "bob", _request(risk_tier="medium", version_creator=""))
    assert trained is not None and "training run" in trained[1]
    twice = _refusal(
        s, "ann", _approve(_request(risk_tier="medium", version_creator="", run_user=""), "ann")
    )
    assert twice is not None and "distinct people" in twice[1]
    s.roles["ann"] = {Role.VIEWER}
    role = _refusal(s, "ann", medium)
    assert role is not None and role[0] is RefusalKind.NOT_AUTHORIZED and "approver role" in role[1]
    s.roles["ann"] = {Role.APPROVER}
    closed = _refusal(s, "ann", _request(risk_tier="medium", state=RequestState.REJECTED))
    assert closed is not None and "rejected" in closed[1]


def test_high_risk_approval_needs_the_authors_mapped_to_people() -> None:
    # carl.ml created the version; nobody's registry names include it: nobody can tell
    # whether an approver is its author, so a high-risk approval is refused.
    s = _state()
    req = _request(version_creator="carl.ml", run_user="carl.ml")
    refused = _refusal(s, "ann", req)
    assert refused is not None and "maps to no Gavel identity" in refused[1]
    # Medium risk: allowed (the request view says what could not be checked).
    assert _refusal(s, "ann", _request(risk_tier="medium", version_creator="carl.ml")) is None
    # Once an admin maps carl.ml to bob, ann may approve and bob may not.
    s.set_names(s.members["bob"], ("carl.ml",))
    assert _refusal(s, "ann", req) is None
    assert "created version" in _refusal(s, "bob", req)[1]  # type: ignore[index]


def test_a_lowered_tier_never_lowers_what_a_request_needs() -> None:
    s = _state()
    req = _request(risk_tier="high", version_creator="", run_user="")
    s.tiers["model:reg/fraud"] = ("low", 9)  # a sync saw risk_tier=low since
    assert s.effective_tier(req) == "high"
    assert s.effective_tier(req, "low") == "high"
    # ...and a raised one raises it.
    low = _request(risk_tier="low", version_creator="", run_user="")
    s.tiers["model:reg/fraud"] = ("medium", 10)
    assert s.effective_tier(low) == "medium"
    assert s.effective_tier(low, "high") == "high"
