"""The promotion workflow end to end: three people, three profiles, one team ledger on
the real PostgreSQL, a real MLflow registry. Every separation-of-duties bypass is
refused by the services, whichever profile asks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import pytest

from app.bootstrap import AppContext, build_context
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import MetricPoint
from app.domain.errors import GavelError
from app.domain.governance import (
    NotAuthorized,
    RequestState,
    Role,
    SeparationOfDuties,
)
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import LedgerQuery
from app.domain.tags import TAG_APPROVED_BY, TAG_LEDGER_HASH, TAG_REQUEST
from app.services.identity import WrongPassphrase
from app.services.promotion_apply import PromotionNotApplied
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from tests.fixtures.mlflow import MlflowRegistry

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
CHECKLIST = {
    "validation_report": "VR-2026-031",
    "metrics_reviewed": "AUC, recall at 1% FPR",
    "bias_review": "BR-77",
    "rollback_plan": "move alias back to previous version",
}
PASS = {
    "ada": "ada-passphrase",
    "ann": "ann-passphrase",
    "bob": "bob-passphrase",
    "carl": "carl-passphrase",
}


@dataclass
class Team:
    ada: AppContext  # admin + requester
    ann: AppContext  # approver
    bob: AppContext  # approver
    homes: dict[str, Path]
    model: str
    registry: MlflowRegistry
    ledger_url: str

    def client(self) -> MlflowRegistryClient:
        return MlflowRegistryClient(self.registry.config(), None)


def _profile(home: Path, user: str, ledger_url: str, registry: MlflowRegistry) -> AppContext:
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(team_ledger_url=ledger_url))
    ctx = build_context(paths)
    ctx.registries.add(registry.config("reg"))
    ctx.membership.init_identity(user, user.title(), (f"{user}.ml",), PASS[user])
    return ctx


def _seed_model(registry: MlflowRegistry, name: str) -> None:
    with MlflowRegistryClient(registry.config(), None) as c:
        exp = c.create_experiment(f"{name}-exp")
        c.create_registered_model(name, tags={"risk_tier": "high", "owner": "carl"})
        for v in (1, 2, 3):
            run = c.create_run(exp, f"{name}-{v}", user_id="carl.ml", start_time=1, tags={})
            c.log_batch(run, {"depth": str(v)}, [MetricPoint("auc", 0.8 + v / 100, 0, 1)], {})
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(name, "production", 1)


@pytest.fixture
def team(tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str) -> Iterator[Team]:
    model = f"gov-{uuid.uuid4().hex[:8]}"
    _seed_model(seeded_registry, model)
    homes = {u: tmp_path / u for u in ("ada", "ann", "bob", "carl")}
    ctxs = {u: _profile(homes[u], u, pg_database_url, seeded_registry) for u in homes}
    # ada founded the ledger; the others' keys count once she approves them. carl trains
    # the models (registry user carl.ml) and holds no role.
    admin = ctxs["ada"].membership
    for user in ("ann", "bob", "carl"):
        admin.approve_key(user, PASS["ada"])
    admin.grant("ada", Role.REQUESTER, PASS["ada"])
    admin.grant("ann", Role.APPROVER, PASS["ada"])
    admin.grant("bob", Role.APPROVER, PASS["ada"])
    admin.map_names("carl", ["carl.ml"], PASS["ada"])
    ctxs.pop("carl").close()
    for ctx in ctxs.values():
        ctx.sync.sync("reg")
    try:
        yield Team(
            ctxs["ada"], ctxs["ann"], ctxs["bob"], homes, model, seeded_registry, pg_database_url
        )
    finally:
        for ctx in ctxs.values():
            ctx.close()


def _request(team: Team, version: int = 2) -> str:
    r = team.ada.governance.create_request(
        "reg",
        team.model,
        version,
        "production",
        "Better recall on Q3 data.",
        CHECKLIST,
        passphrase=PASS["ada"],
    )
    return r.request_id


def test_two_approvals_from_two_profiles_promote_in_mlflow(team: Team) -> None:
    rid = _request(team)
    view = team.ann.governance.view(team.ann.governance.request(rid))
    assert view.status.missing == ("2 more approvals from distinct approvers",)

    with pytest.raises(SeparationOfDuties, match="requested this promotion"):
        team.ada.membership.grant("ada", Role.APPROVER, PASS["ada"])
        team.ada.governance.approve(rid, "looks fine", PASS["ada"])
    with pytest.raises(WrongPassphrase):
        team.ann.governance.approve(rid, "ok", "not-my-passphrase")

    r = team.ann.governance.approve(rid, "Validation report checked.", PASS["ann"])
    assert r.state is RequestState.PENDING
    assert team.bob.governance.view(r).status.missing == ("1 more approval from an approver",)
    with pytest.raises(SeparationOfDuties, match="distinct people"):
        team.ann.governance.approve(rid, "again", PASS["ann"])
    r = team.bob.governance.approve(rid, "Bias review checked.", PASS["bob"])
    assert r.state is RequestState.APPROVED

    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert outcome.applied and not outcome.reconciled
    # The applying desktop's cache shows the new alias at once, without a sync.
    assert team.bob.portfolio.find_model(team.model, "reg").aliases["production"] == 2
    with team.client() as c:
        v2 = c.get_model_version(team.model, 2)
        assert c.get_registered_model(team.model).aliases["production"] == 2
    assert v2.tags[TAG_REQUEST] == rid
    assert v2.tags[TAG_APPROVED_BY] == "ann,bob"
    approvals = team.ada.governance.request(rid).approvals
    assert v2.tags[TAG_LEDGER_HASH] == approvals[-1].event_hash
    assert team.ada.governance.request(rid).state is RequestState.APPLIED
    # Applying twice does nothing.
    assert not team.ann.promotions.apply(rid, PASS["ann"]).applied

    # Every signature verifies, from any desktop.
    report = team.ann.audit.verify()
    assert report.ok, report.describe()
    # The next sync sees the alias moved, and the ledger explains it: no violation.
    team.ann.sync.sync("reg")
    assert [v for v in team.ann.observer.violations() if v.model == team.model] == []


def test_decisions_are_bound_to_the_record_they_sign(team: Team) -> None:
    rid = _request(team)
    r = team.ann.governance.approve(rid, "ok", PASS["ann"])
    approval = team.ann.audit.events([r.approvals[0].seq])[0]
    assert approval.signer and approval.signature
    assert approval.after["request_hash"] == r.created_hash  # type: ignore[index]
    manifest = approval.after["manifestation"]  # type: ignore[index]
    assert manifest == {"printed_name": "Ann", "user_id": "ann", "meaning": "approval"}


def test_revoked_approver_and_run_author_are_refused(team: Team) -> None:
    rid = _request(team)
    # A viewer cannot approve.
    team.ada.membership.revoke("bob", Role.APPROVER, PASS["ada"])
    team.ada.membership.grant("bob", Role.VIEWER, PASS["ada"])
    with pytest.raises(NotAuthorized, match="approver role"):
        team.bob.governance.approve(rid, "ok", PASS["bob"])
    # A non-admin cannot grant itself roles back.
    with pytest.raises(NotAuthorized, match="Only an admin"):
        team.bob.membership.grant("bob", Role.APPROVER, PASS["bob"])
    # Whoever ran the version's training run cannot approve it: the admin records that
    # carl.ml is (also) ann's registry name.
    team.ada.membership.map_names("carl", [], PASS["ada"])
    team.ada.membership.map_names("ann", ["ann.ml", "carl.ml"], PASS["ada"])
    with pytest.raises(SeparationOfDuties, match="training run"):
        team.ann.governance.approve(rid, "ok", PASS["ann"])


def test_rejection_stops_the_request(team: Team) -> None:
    rid = _request(team)
    r = team.ann.governance.reject(rid, "Bias review is incomplete.", PASS["ann"])
    assert r.state is RequestState.REJECTED
    with pytest.raises(GavelError, match="rejected"):
        team.bob.governance.approve(rid, "ok", PASS["bob"])
    with pytest.raises(GavelError, match="rejected"):
        team.bob.promotions.apply(rid, PASS["bob"])


def _approved(team: Team, version: int = 2) -> str:
    rid = _request(team, version)
    team.ann.governance.approve(rid, "ok", PASS["ann"])
    team.bob.governance.approve(rid, "ok", PASS["bob"])
    return rid


def test_alias_moved_since_request_is_a_conflict(team: Team) -> None:
    rid = _approved(team)
    with team.client() as c:
        c.set_registered_model_alias(team.model, "production", 3)
    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert not outcome.applied
    assert outcome.request.state is RequestState.CONFLICT
    assert "moved from v1 to v3" in outcome.message
    with team.client() as c:
        assert c.get_registered_model(team.model).aliases["production"] == 3


def test_deleted_version_voids_the_request(team: Team) -> None:
    rid = _approved(team)
    with team.client() as c:
        c.delete_model_version(team.model, 2)
    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert outcome.request.state is RequestState.VOID
    assert "no longer exists" in outcome.message


def test_recreated_model_voids_the_request(team: Team) -> None:
    rid = _approved(team)
    with team.client() as c:
        c.delete_registered_model(team.model)
    _seed_model(team.registry, team.model)  # same name, same version numbers, new identity
    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert outcome.request.state is RequestState.VOID
    assert "deleted and recreated" in outcome.message


def test_changed_evidence_makes_the_request_stale(team: Team) -> None:
    rid = _approved(team)
    run_id = team.ada.governance.request(rid).identity.run_id
    with team.client() as c:
        c.log_batch(run_id, {}, [MetricPoint("auc", 0.5, 1, 3)], {})
    outcome = team.bob.promotions.apply(rid, PASS["bob"])
    assert outcome.request.state is RequestState.STALE


def test_killed_between_registry_write_and_ledger_entry_applies_once(team: Team) -> None:
    rid = _approved(team)
    script = textwrap.dedent(
        f"""
        import os
        from app.bootstrap import build_context
        from app.services.promotion_apply import PromotionApplier
        # Die like a killed process: after the registry write, before the ledger entry.
        PromotionApplier._record_applied = lambda *a, **k: os._exit(9)
        ctx = build_context()
        ctx.promotions.apply({rid!r}, {PASS["bob"]!r})
        """
    )
    env = {**os.environ, "GAVEL_HOME": str(team.homes["bob"])}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 9
    with team.client() as c:
        assert c.get_registered_model(team.model).aliases["production"] == 2
    # The claim is bob's and still live: nobody else can apply it in the meantime.
    request = team.ann.governance.request(rid)
    assert request.state is RequestState.APPROVED and request.claim is not None
    with pytest.raises(PromotionNotApplied, match="already being applied by bob"):
        team.ann.promotions.apply(rid, PASS["ann"])

    # Restart: the console lists what the registry shows but the ledger does not, and
    # bob's apply records it without writing again: exactly one applied event.
    again = build_context(resolve_paths({"GAVEL_HOME": str(team.homes["bob"])}))
    try:
        assert [r.request_id for r in again.promotions.written_not_recorded()] == [rid]
        outcome = again.promotions.apply(rid, PASS["bob"])
        assert outcome.applied and outcome.reconciled
        assert not again.promotions.apply(rid, PASS["bob"]).applied
    finally:
        again.close()
    applied = team.ann.audit.page(
        LedgerQuery(actions=(LedgerAction.PROMOTION_APPLIED.value,)), limit=None
    )
    assert [e.after["request_id"] for e in applied] == [rid]  # type: ignore[index]


def test_alias_moved_behind_governance_is_a_violation(team: Team) -> None:
    with team.client() as c:
        c.set_registered_model_alias(team.model, "production", 3)
        c.set_registered_model_alias(team.model, "shadow", 2)
    result = team.ann.sync.sync("reg")
    assert result.notes == ()
    found = {(v.model, v.alias, v.before, v.after) for v in team.bob.observer.violations()}
    assert (team.model, "production", 1, 3) in found
    assert (team.model, "shadow", None, 2) in found
    # Recorded once: another sync (from another desktop) adds nothing.
    team.bob.sync.sync("reg")
    again = [v for v in team.ada.observer.violations() if v.model == team.model]
    assert len(again) == 2
    history = team.ada.audit.alias_history("reg", team.model, "production")
    assert [m.after for m in history][-1] == 3


def test_a_request_the_registry_overtook_is_not_offered_for_signature(team: Team) -> None:
    rid = _request(team)
    # Someone moves the alias to the requested version outside the workflow.
    with team.client() as c:
        c.set_registered_model_alias(team.model, "production", 2)
    team.ann.sync.sync("reg")
    view = team.ann.governance.view_of(rid)
    assert view.blocked_text == (
        "Cannot be applied as requested: alias 'production' already points at v2: it was "
        "moved outside the workflow."
    )
    ok, why = team.ann.governance.can_decide(view.request)
    assert not ok and "Nobody is asked to sign it" in why
    with pytest.raises(GavelError, match="Cannot be applied as requested"):
        team.ann.governance.approve(rid, "ok", PASS["ann"])
    # The requester withdraws it, signed; it is closed for everyone.
    withdrawn = team.ada.governance.withdraw(rid, "The registry is already there.", PASS["ada"])
    assert withdrawn.state is RequestState.WITHDRAWN
    assert team.ann.governance.request(rid).state is RequestState.WITHDRAWN
    with pytest.raises(GavelError, match="withdrawn"):
        team.ann.governance.reject(rid, "no", PASS["ann"])


def test_a_policy_can_let_requests_expire(team: Team) -> None:
    from app.domain.governance import DEFAULT_POLICIES

    rid = _request(team)
    policy = replace(DEFAULT_POLICIES["high"], request_expiry_days=1)
    team.ada.membership.set_policy(policy, PASS["ada"], "Requests expire after a day.")
    # A day later (the clock of the desktop that decides):
    later = datetime.now(UTC) + timedelta(days=2)
    with patch("app.services.governance.datetime") as clock:
        clock.now.return_value = later
        view = team.ann.governance.view_of(rid)
        assert view.request.state is RequestState.EXPIRED
        with pytest.raises(GavelError, match="expired on"):
            team.ann.governance.approve(rid, "ok", PASS["ann"])
