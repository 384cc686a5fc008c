"""Applying without write permission on the registry (MLflow's basic-auth app, 403):
the request stays approved and someone permitted applies it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from app.bootstrap import AppContext, build_context
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import MetricPoint
from app.domain.governance import RequestState, Role
from app.services.promotion_apply import PromotionNotApplied
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from tests.fixtures.mlflow import AuthMlflowRegistry
from tests.test_governance_e2e import CHECKLIST, PASS

pytestmark = pytest.mark.integration


def _profile(
    home: Path, user: str, ledger: str, server: AuthMlflowRegistry, account: str
) -> AppContext:
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(team_ledger_url=ledger))
    ctx = build_context(paths)
    who = server.admin if account == "admin" else server.user
    # Each desktop reads its own registry password from its own variable.
    cfg = replace(server.basic_config(who, name="reg"), secret_env=f"PW_{user.upper()}")
    ctx.registries.add(cfg)
    ctx.membership.init_identity(user, user.title(), (f"{user}.ml",), PASS[user])
    return ctx


def test_forbidden_apply_leaves_the_request_approved(
    tmp_path: Path,
    mlflow_auth_server: AuthMlflowRegistry,
    pg_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = mlflow_auth_server
    monkeypatch.setenv("PW_ADA", server.admin.password)
    monkeypatch.setenv("PW_ANN", server.user.password)
    monkeypatch.setenv("PW_BOB", server.user.password)
    model = f"perm-{uuid.uuid4().hex[:6]}"
    admin_cfg = replace(server.basic_config(server.admin), secret_env="PW_ADA")
    with MlflowRegistryClient(admin_cfg, server.admin.password) as c:
        exp = c.create_experiment(f"{model}-exp")
        c.create_registered_model(model, tags={"risk_tier": "high"})
        for v in (1, 2):
            run = c.create_run(exp, f"{model}-{v}", user_id="carl.ml", start_time=1, tags={})
            c.log_batch(run, {}, [MetricPoint("auc", 0.9, 0, 1)], {})
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(model, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(model, "production", 1)

    ada = _profile(tmp_path / "ada", "ada", pg_database_url, server, "admin")
    ann = _profile(tmp_path / "ann", "ann", pg_database_url, server, "viewer")
    bob = _profile(tmp_path / "bob", "bob", pg_database_url, server, "viewer")
    try:
        for user in ("ann", "bob"):
            ada.membership.approve_key(user, PASS["ada"])
        # The admin account created the versions and carl.ml trained them: both are
        # names of ada, the requester, so every approver is someone else.
        ada.membership.map_names("ada", ["ada.ml", server.admin.username, "carl.ml"], PASS["ada"])
        ada.membership.grant("ada", Role.REQUESTER, PASS["ada"])
        ada.membership.grant("ann", Role.APPROVER, PASS["ada"])
        ada.membership.grant("bob", Role.APPROVER, PASS["ada"])
        for ctx in (ada, ann, bob):
            ctx.sync.sync("reg")
        rid = ada.governance.create_request(
            "reg", model, 2, "production", "Promote v2.", CHECKLIST, passphrase=PASS["ada"]
        ).request_id
        ann.governance.approve(rid, "ok", PASS["ann"])
        assert bob.governance.approve(rid, "ok", PASS["bob"]).state is RequestState.APPROVED

        with pytest.raises(PromotionNotApplied) as refused:
            bob.promotions.apply(rid, PASS["bob"])
        assert "stays approved" in refused.value.message
        assert server.user.password not in refused.value.message
        assert ann.governance.request(rid).state is RequestState.APPROVED
        with MlflowRegistryClient(admin_cfg, server.admin.password) as c:
            assert c.get_registered_model(model).aliases["production"] == 1

        # Someone with write permission applies the same approved request.
        outcome = ada.promotions.apply(rid, PASS["ada"])
        assert outcome.applied
        with MlflowRegistryClient(admin_cfg, server.admin.password) as c:
            assert c.get_registered_model(model).aliases["production"] == 2
    finally:
        for ctx in (ada, ann, bob):
            ctx.close()
