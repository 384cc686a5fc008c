"""Pure governance rules: policy per tier, separation of duties, roles from events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.errors import UsageError
from app.domain.governance import (
    DEFAULT_POLICIES,
    Decision,
    FoldEvent,
    Identity,
    InvalidState,
    MetricThreshold,
    NotAuthorized,
    Policy,
    PromotionRequest,
    RequestState,
    Role,
    SeparationOfDuties,
    SignatureMeaning,
    VersionIdentity,
    check_can_decide,
    fold_roles,
    policy_for,
    policy_status,
)

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
        "evidence_digest": "e",
    }
    base.update(kw)
    return PromotionRequest(**base)  # type: ignore[arg-type]


def _approve(req: PromotionRequest, *actors: str) -> PromotionRequest:
    for i, a in enumerate(actors):
        req.decisions.append(
            Decision(10 + i, a, SignatureMeaning.APPROVAL, "ok", T, "ed25519:x", "h")
        )
    return req


APPROVERS = {"ann": {Role.APPROVER}, "bob": {Role.APPROVER}, "vic": {Role.VIEWER}}


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
    status = policy_status(
        req, policy_for(tier, DEFAULT_POLICIES), lambda u: APPROVERS.get(u, set()), {}
    )
    assert status.satisfied is satisfied
    assert missing in status.describe()


def test_checklist_and_thresholds_are_reported_in_words() -> None:
    policy = Policy(
        "high", 1, Role.APPROVER, ("rollback_plan",), (MetricThreshold.parse("auc >= 0.8"),)
    )
    req = _approve(_request(checklist={}), "ann")
    status = policy_status(req, policy, lambda u: APPROVERS.get(u, set()), {"auc": 0.75})
    assert status.missing == (
        "checklist item 'rollback plan' missing",
        "metric auc = 0.75 does not meet auc >= 0.8",
    )
    status = policy_status(req, policy, lambda u: APPROVERS.get(u, set()), {})
    assert "metric 'auc' not logged" in status.describe()
    ok = policy_status(
        _approve(_request(), "ann"), policy, lambda u: APPROVERS.get(u, set()), {"auc": 0.8}
    )
    assert ok.satisfied


def test_threshold_parsing() -> None:
    t = MetricThreshold.parse(" val_auc>=0.85 ")
    assert (t.metric, t.op, t.value) == ("val_auc", ">=", 0.85)
    assert t.holds(0.85) and not t.holds(0.84)
    with pytest.raises(UsageError, match=r"auc >= 0\.8"):
        MetricThreshold.parse("auc is big")
    with pytest.raises(UsageError, match="Unknown checklist"):
        Policy("high", 1, Role.APPROVER, ("coffee",))


def _decide(actor: Identity, roles: set[Role], req: PromotionRequest, creator: str = "carl",
            run_user: str = "carl") -> None:  # fmt: skip
    check_can_decide(
        actor, roles, req, DEFAULT_POLICIES["high"], creator, run_user, SignatureMeaning.APPROVAL
    )


def test_separation_of_duties() -> None:
    ann = Identity("ann", "Ann Approver", ("ann.mlflow",))
    rita = Identity("rita", "Rita Requester")
    approver = {Role.APPROVER}
    _decide(ann, approver, _request())  # allowed

    with pytest.raises(SeparationOfDuties, match="requested this promotion"):
        _decide(rita, approver, _request())
    with pytest.raises(SeparationOfDuties, match="created version 3"):
        _decide(ann, approver, _request(), creator="ann.mlflow")
    with pytest.raises(SeparationOfDuties, match="training run"):
        _decide(ann, approver, _request(), run_user="ANN")
    with pytest.raises(SeparationOfDuties, match="distinct people"):
        _decide(ann, approver, _approve(_request(), "ann"))
    with pytest.raises(NotAuthorized, match="approver role"):
        _decide(ann, {Role.VIEWER}, _request())
    with pytest.raises(InvalidState, match="rejected"):
        _decide(ann, approver, _request(state=RequestState.REJECTED))


def _role_event(seq: int, actor: str, action: str, user: str, role: str) -> FoldEvent:
    return FoldEvent(seq, T, actor, action, f"user:{user}", None,
                     {"user": user, "role": role}, "", "h", None)  # fmt: skip


def test_roles_are_authorized_from_the_ledger() -> None:
    roles, ignored = fold_roles(
        [
            _role_event(1, "mallory", "role.granted", "mallory", "approver"),  # not admin
            _role_event(2, "ada", "role.granted", "ada", "admin"),  # bootstrap admin
            _role_event(3, "mallory", "role.granted", "mallory", "admin"),  # not admin
            _role_event(4, "ada", "role.granted", "ann", "approver"),
            _role_event(5, "ada", "role.granted", "bob", "approver"),
            _role_event(6, "ada", "role.revoked", "bob", "approver"),
        ]
    )
    assert roles.get("mallory", set()) == set()
    assert roles["ada"] == {Role.ADMIN}
    assert roles["ann"] == {Role.APPROVER}
    assert roles["bob"] == set()
    assert len(ignored) == 2
