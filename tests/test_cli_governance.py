"""Governance through the command line: officers in their own GAVEL_HOMEs on one team
ledger, every authority verb signed with the user's passphrase."""

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


def pp(user: str) -> dict[str, str]:
    return {"PP": f"{user}-passphrase"}


def signed(home: Path, user: str, *args: str) -> tuple[int, str, str]:
    """Run a signed verb as ``user`` with their passphrase in $PP."""
    proc = gavel(home, *args, "--passphrase-env", "PP", env=pp(user))
    return proc.returncode, proc.stdout, proc.stderr


def _home(
    tmp_path: Path, user: str, ledger: str, registry: MlflowRegistry, names: tuple[str, ...] = ()
) -> Path:
    home = tmp_path / user
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(team_ledger_url=ledger))
    assert gavel(home, "registry", "add", "reg", "--url", registry.url).returncode == 0
    extra = [a for n in names for a in ("--registry-username", n)]
    code, _out, err = signed(
        home, user, "identity", "init", "--user-id", user, "--name", user.title(), *extra
    )
    assert code == 0, err
    return home


def test_request_approve_apply_and_audit(
    tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str
) -> None:
    model = f"cli-gov-{uuid.uuid4().hex[:6]}"
    _seed_model(seeded_registry, model)
    # ada founds the ledger (its admin); carl.ml, who trains the models, is hers to name.
    ada = _home(tmp_path, "ada", pg_database_url, seeded_registry, ("carl.ml",))
    ann = _home(tmp_path, "ann", pg_database_url, seeded_registry)
    shown = json.loads(gavel(ann, "identity", "show", "--json").stdout)
    assert (shown["status"], shown["roles"]) == ("pending", [])
    pending = json.loads(gavel(ada, "identity", "pending", "--json").stdout)
    assert [p["user_id"] for p in pending] == ["ann"]
    # Until an admin approves her key, nothing ann signs counts.
    code, _out, err = signed(ann, "ann", "roles", "grant", "ann", "approver")
    assert code == 1 and "waiting for an admin's approval" in err
    assert signed(ada, "ada", "identity", "approve", "ann")[0] == 0
    for user, role in (("ada", "requester"), ("ann", "approver")):
        assert signed(ada, "ada", "roles", "grant", user, role)[0] == 0
    # Only an admin may grant roles.
    code, _out, err = signed(ann, "ann", "roles", "grant", "ann", "admin")
    assert code == 1 and "Only an admin" in err

    assert gavel(ada, "sync").returncode == 0
    checklist = [a for k, v in CHECKLIST.items() for a in ("--checklist", f"{k}={v}")]
    create = ["request", "create", model, "2", "--alias", "production"]
    code, out, err = signed(ada, "ada", *create, "--justification", "Better recall", *checklist)
    assert code == 0, err
    rid = out.split()[2].rstrip(":")
    listed = json.loads(gavel(ann, "request", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [rid]
    assert listed[0]["policy_needs"] == ["2 more approvals from distinct approvers"]

    # The requester cannot approve, even with the approver role, from any face.
    assert signed(ada, "ada", "roles", "grant", "ada", "approver")[0] == 0
    line = assert_one_line_error(
        gavel(ada, "approve", rid, "--comment", "ok", "--passphrase-env", "PP", env=pp("ada")), 1
    )
    assert "requested this promotion" in line
    # No passphrase on a non-terminal: a clear usage error, nothing signed.
    assert "--passphrase-env" in assert_one_line_error(
        gavel(ann, "approve", rid, "--comment", "x"), 2
    )
    code, _out, err = signed(ann, "ann", "approve", rid, "--comment", "checked")
    assert code == 0, err
    shown = json.loads(gavel(ada, "request", "show", rid, "--json").stdout)
    assert shown["state"] == "pending"
    assert shown["policy_needs"] == ["1 more approval from an approver"]
    assert shown["version_creator"] == "" and shown["run_user"] == "carl.ml"
    assert [e["action"] for e in shown["events"]] == ["request.created", "request.approved"]
    not_yet = assert_one_line_error(
        gavel(ann, "apply", rid, "--passphrase-env", "PP", env=pp("ann")), 1
    )
    assert "not approved yet" in not_yet

    verified = gavel(ann, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout
    head = json.loads(verified.stdout)["head"]
    checkpoint = f"{head['seq']}:{head['hash']}"
    assert gavel(ada, "audit", "verify", "--checkpoint", checkpoint).returncode == 0
    out_file = tmp_path / "ledger.jsonl"
    exported = gavel(ada, "audit", "export", "--out", str(out_file), "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    assert len(out_file.read_text().splitlines()) >= head["seq"]
    # The export verifies on its own, by file.
    by_file = gavel(ann, "audit", "verify", "--file", str(out_file))
    assert by_file.returncode == 0 and "verifies" in by_file.stdout
    bad = assert_one_line_error(gavel(ada, "audit", "verify", "--checkpoint", "12:zz"), 2)
    assert "SEQ:HASH" in bad


def test_withdraw_and_team_status(
    tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str
) -> None:
    model = f"cli-wd-{uuid.uuid4().hex[:6]}"
    _seed_model(seeded_registry, model)
    ada = _home(tmp_path, "ada", pg_database_url, seeded_registry, ("carl.ml",))
    assert signed(ada, "ada", "roles", "grant", "ada", "requester")[0] == 0
    assert gavel(ada, "sync").returncode == 0
    code, out, err = signed(ada, "ada", "request", "create", model, "3", "--alias", "shadow",
                            "--justification", "try it")  # fmt: skip
    assert code == 0, err
    rid = out.split()[2].rstrip(":")
    code, out, err = signed(ada, "ada", "request", "withdraw", rid, "--reason", "too early")
    assert code == 0, err
    shown = json.loads(gavel(ada, "request", "show", rid, "--json").stdout)
    assert (shown["state"], shown["state_reason"]) == ("withdrawn", "withdrawn by ada: too early")
    status = json.loads(gavel(ada, "team", "status", "--json").stdout)
    assert status["team"] and status["online"] and status["problem"] == ""
    assert status["pulled_events"] >= 1


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


def test_policy_set_is_admin_only_signed_and_recorded(tmp_path: Path) -> None:
    ada = tmp_path / "ada"
    code, _out, err = signed(ada, "ada", "identity", "init", "--user-id", "ada")
    assert code == 0, err
    medium = ["policy", "set", "medium", "--approvals", "2", "--checklist", "rollback_plan"]
    code, _out, err = signed(ada, "ada", *medium, "--threshold", "auc >= 0.8")
    assert code == 0, err
    shown = json.loads(gavel(ada, "policy", "show", "--json").stdout)
    assert shown["medium"] == {
        "risk_tier": "medium",
        "approvals_required": 2,
        "required_role": "approver",
        "required_checklist": ["rollback_plan"],
        "metric_thresholds": ["auc >= 0.8"],
    }
    bad = assert_one_line_error(gavel(ada, "policy", "set", "low", "--approvals", "1",
                                      "--threshold", "auc is big", "--passphrase-env", "PP",
                                      env=pp("ada")), 2)  # fmt: skip
    assert "auc >= 0.8" in bad
    low = ["policy", "set", "low", "--approvals", "1", "--passphrase-env", "PP"]
    wrong = assert_one_line_error(gavel(ada, *low, env={"PP": "not-hers-x"}), 1)
    assert "passphrase is wrong" in wrong
    events = json.loads(gavel(ada, "audit", "verify", "--json").stdout)
    assert events["ok"]
