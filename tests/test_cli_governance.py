"""Governance through the command line: two officers, two GAVEL_HOMEs, one team ledger."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import assert_one_line_error, gavel
from tests.test_governance_e2e import CHECKLIST, _seed_model

pytestmark = pytest.mark.integration


def _home(tmp_path: Path, user: str, ledger: str, registry: MlflowRegistry) -> Path:
    home = tmp_path / user
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(team_ledger_url=ledger))
    assert gavel(home, "registry", "add", "reg", "--url", registry.url).returncode == 0
    env = {"PP": f"{user}-passphrase"}
    init = gavel(home, "identity", "init", "--user-id", user, "--name", user.title(),
                 "--passphrase-env", "PP", env=env)  # fmt: skip
    assert init.returncode == 0, init.stderr
    return home


def test_request_approve_apply_and_audit(
    tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str
) -> None:
    model = f"cli-gov-{uuid.uuid4().hex[:6]}"
    _seed_model(seeded_registry, model)
    ada = _home(tmp_path, "ada", pg_database_url, seeded_registry)
    ann = _home(tmp_path, "ann", pg_database_url, seeded_registry)
    for user, role in (("ada", "requester"), ("ann", "approver")):
        assert gavel(ada, "roles", "grant", user, role).returncode == 0
    # Only an admin may grant roles.
    line = assert_one_line_error(gavel(ann, "roles", "grant", "ann", "admin"), 1)
    assert "Only an admin" in line

    assert gavel(ada, "sync").returncode == 0
    checklist = [a for k, v in CHECKLIST.items() for a in ("--checklist", f"{k}={v}")]
    created = gavel(ada, "request", "create", model, "2", "--alias", "production",
                    "--justification", "Better recall", *checklist)  # fmt: skip
    assert created.returncode == 0, created.stderr
    rid = created.stdout.split()[2].rstrip(":")
    listed = json.loads(gavel(ann, "request", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [rid]
    assert listed[0]["policy_needs"] == ["2 more approvals from distinct approvers"]

    # The requester cannot approve, even with the approver role, from any face.
    assert gavel(ada, "roles", "grant", "ada", "approver").returncode == 0
    line = assert_one_line_error(
        gavel(ada, "approve", rid, "--comment", "ok", "--passphrase-env", "PP",
              env={"PP": "ada-passphrase"}), 1
    )  # fmt: skip
    assert "requested this promotion" in line
    # No passphrase on a non-terminal: a clear usage error, nothing signed.
    assert "--passphrase-env" in assert_one_line_error(
        gavel(ann, "approve", rid, "--comment", "x"), 2
    )

    # An approver reviews what their own cache shows; unsynced, they are told to sync.
    assert "gavel sync" in assert_one_line_error(
        gavel(ann, "approve", rid, "--comment", "x", "--passphrase-env", "PP",
              env={"PP": "ann-passphrase"}), 2
    )  # fmt: skip
    assert gavel(ann, "sync").returncode == 0
    ok = gavel(ann, "approve", rid, "--comment", "checked", "--passphrase-env", "PP",
               env={"PP": "ann-passphrase"})  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    shown = json.loads(gavel(ada, "request", "show", rid, "--json").stdout)
    assert shown["state"] == "pending"
    assert shown["policy_needs"] == ["1 more approval from an approver"]
    assert [e["action"] for e in shown["events"]] == ["request.created", "request.approved"]
    not_yet = assert_one_line_error(gavel(ann, "apply", rid), 1)
    assert "not approved yet" in not_yet

    verified = gavel(ann, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout
    head = json.loads(verified.stdout)["head"]
    checkpoint = f"{head['seq']}:{head['hash']}"
    assert gavel(ada, "audit", "verify", "--checkpoint", checkpoint).returncode == 0
    out = tmp_path / "ledger.jsonl"
    exported = gavel(ada, "audit", "export", "--out", str(out), "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text().splitlines()) >= head["seq"]
    bad = assert_one_line_error(gavel(ada, "audit", "verify", "--checkpoint", "12:zz"), 2)
    assert "SEQ:HASH" in bad


def test_violations_listed_after_sync(
    tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str
) -> None:
    from app.connectors.mlflow_registry import MlflowRegistryClient

    model = f"cli-vio-{uuid.uuid4().hex[:6]}"
    _seed_model(seeded_registry, model)
    ada = _home(tmp_path, "ada", pg_database_url, seeded_registry)
    assert gavel(ada, "sync").returncode == 0
    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        c.set_registered_model_alias(model, "production", 3)
    assert gavel(ada, "sync").returncode == 0
    found = json.loads(gavel(ada, "violations", "--json").stdout)
    mine = [v for v in found if v["model"] == model]
    assert [(v["alias"], v["before"], v["after"]) for v in mine] == [("production", 1, 3)]
    history = gavel(ada, "audit", "history", model, "production")
    assert "v1 → v3" in history.stdout


def test_policy_set_is_admin_only_and_recorded(tmp_path: Path) -> None:
    ada = tmp_path / "ada"
    init = gavel(ada, "identity", "init", "--user-id", "ada", "--passphrase-env", "PP",
                 env={"PP": "ada-passphrase"})  # fmt: skip
    assert init.returncode == 0, init.stderr
    changed = gavel(ada, "policy", "set", "medium", "--approvals", "2",
                    "--checklist", "rollback_plan", "--threshold", "auc >= 0.8")  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    shown = json.loads(gavel(ada, "policy", "show", "--json").stdout)
    assert shown["medium"] == {
        "risk_tier": "medium",
        "approvals_required": 2,
        "required_role": "approver",
        "required_checklist": ["rollback_plan"],
        "metric_thresholds": ["auc >= 0.8"],
    }
    bad = assert_one_line_error(gavel(ada, "policy", "set", "low", "--approvals", "1",
                                      "--threshold", "auc is big"), 2)  # fmt: skip
    assert "auc >= 0.8" in bad
    events = json.loads(gavel(ada, "audit", "verify", "--json").stdout)
    assert events["ok"]
