"""Forging authority the way a team member with ordinary access could, one test per
attack class, each on a shared SQLite ledger and on the real PostgreSQL.

The team: ada (founder: admin, requester), ann and bob (approvers), carl (trains the
models: registry user carl.ml, no role). A real MLflow registry holds the model. The
attacker has what every team desktop has: the ledger database's credentials (rows
inserted straight into it, chained, head moved), their own profile files and keyring,
another GAVEL_HOME, and two processes at once. Each test checks that the forgery gives
no authority: nothing moves in the registry, the fold refuses it, and the CLI says so.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import MetricPoint
from app.domain.errors import ConfigError, GavelError, UsageError
from app.domain.governance import (
    RequestState,
    Role,
    SignatureMeaning,
    request_subject,
)
from app.domain.ledger import LedgerAction, LedgerDraft
from app.domain.ledger_query import LedgerQuery
from app.services.identity import NoIdentity
from app.stores.migrate import open_ledger_database
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.mlflow import MlflowRegistry
from tests.ledger_forgery import RandomSignature, append, append_raw, enrol_own_key
from tests.test_cli import ROOT, gavel

pytestmark = pytest.mark.slow

CHECKLIST = {
    "validation_report": "VR-2026-031",
    "metrics_reviewed": "AUC, recall at 1% FPR",
    "bias_review": "BR-77",
    "rollback_plan": "move alias back to previous version",
}


@dataclass
class Team:
    ada: Desk
    ann: Desk
    bob: Desk
    carl: Desk
    model: str
    registry: MlflowRegistry

    def client(self) -> MlflowRegistryClient:
        return MlflowRegistryClient(self.registry.config(), None)

    def alias(self, alias: str = "production") -> int | None:
        with self.client() as c:
            return c.get_registered_model(self.model).aliases.get(alias)

    def request(self, version: int = 2) -> str:
        r = self.ada.ctx.governance.create_request(
            "reg", self.model, version, "production", "Better recall.", CHECKLIST,
            passphrase=self.ada.passphrase,
        )  # fmt: skip
        return r.request_id

    def ledger(self):  # type: ignore[no-untyped-def]
        """The shared ledger database, opened as an attacker would (its credentials)."""
        return open_ledger_database(self.ada.ledger_url)


def _seed(
    registry: MlflowRegistry, name: str, tier: str = "high", runs_by: str = "carl.ml"
) -> None:
    with MlflowRegistryClient(registry.config(), None) as c:
        exp = c.create_experiment(f"{name}-exp")
        c.create_registered_model(name, tags={"risk_tier": tier, "owner": "carl"})
        for v in (1, 2, 3):
            run = c.create_run(exp, f"{name}-{v}", user_id=runs_by, start_time=1, tags={})
            c.log_batch(run, {"depth": str(v)}, [MetricPoint("auc", 0.8 + v / 100, 0, 1)], {})
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(name, "production", 1)


@pytest.fixture
def team(desks: DeskFactory, seeded_registry: MlflowRegistry) -> Iterator[Team]:
    model = f"trust-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model)
    ada, ann, bob, carl = (desks(u) for u in ("ada", "ann", "bob", "carl"))
    enrol(ada, ada, Role.REQUESTER)
    enrol(ada, ann, Role.APPROVER)
    enrol(ada, bob, Role.APPROVER)
    enrol(ada, carl, names=("carl.ml",))
    for desk in (ada, ann, bob):
        desk.ctx.registries.add(seeded_registry.config("reg"))
        desk.ctx.sync.sync("reg")
    yield Team(ada, ann, bob, carl, model, seeded_registry)


def _cli(desk: Desk, *args: str) -> subprocess.CompletedProcess[str]:
    return gavel(desk.home, *args, env=desk.env())


def _approval_manifest(team: Team, rid: str, user: str) -> dict[str, object]:
    r = team.ann.ctx.governance.request(rid)
    return {
        "request_id": rid,
        "request_hash": r.created_hash,
        "version": r.identity.to_json(),
        "alias": r.alias,
        "evidence_digest": r.evidence_digest,
        "manifestation": {"printed_name": user.title(), "user_id": user, "meaning": "approval"},
        # What a client that decides state itself would have written: never read.
        "policy_satisfied": True,
    }


def _applied_events(desk: Desk) -> list[object]:
    query = LedgerQuery(actions=(LedgerAction.PROMOTION_APPLIED.value,))
    return desk.ctx.audit.page(query, limit=None)


# 1 ------------------------------------------------------------------------------------


def test_approvals_whose_signatures_do_not_verify_count_for_nothing(team: Team) -> None:
    rid = team.request()
    db = team.ledger()
    forged = []
    try:
        for user in ("ann", "bob"):
            key_id = team.ada.ctx.membership.identities()[user].key_id
            assert key_id is not None
            forged.append(
                append(
                    db,
                    user,
                    LedgerAction.REQUEST_APPROVED,
                    request_subject(rid),
                    after=_approval_manifest(team, rid, user),
                    reason="ok",
                    signer=RandomSignature(key_id),  # a real key id, random bytes
                )
            )
    finally:
        db.dispose()

    # Another desktop, started afresh, folds the shared ledger.
    bob = team.bob.reopen()
    request = bob.governance.request(rid)
    assert request.state is RequestState.PENDING and request.approvals == []
    problems = bob.governance.problems()
    assert [p.seq for p in problems] == [e.seq for e in forged]
    assert "signature does not verify" in problems[0].reason

    listed = _cli(team.bob, "request", "list")
    assert listed.returncode == 1
    assert f"Event {forged[0].seq} (request.approved by ann) does not count" in listed.stderr
    applied = _cli(team.bob, "apply", rid, "--passphrase-env", "PP")
    assert applied.returncode == 1 and "not approved" in applied.stderr
    verify = _cli(team.bob, "audit", "verify")
    assert verify.returncode == 1 and f"Event {forged[0].seq}" in verify.stdout
    assert team.alias() == 1


# 2 ------------------------------------------------------------------------------------


def test_a_new_desktop_cannot_take_over_an_existing_identity(
    team: Team, desks: DeskFactory
) -> None:
    mallory = desks("ada")  # a new GAVEL_HOME with its own keyring, same team ledger
    with pytest.raises(UsageError, match="already has a signing key"):
        mallory.ctx.membership.init_identity("ada", "Ada", (), "mallory-passphrase")
    line = _cli(
        mallory, "identity", "init", "--user-id", "ada", "--passphrase-env", "PP"
    ).stderr.strip()
    assert "already has a signing key" in line

    # With the database's credentials: enrol a key of their own as "ada", then use it.
    db = team.ledger()
    try:
        key = enrol_own_key(db, "ada")
        grant = append(
            db,
            "ada",
            LedgerAction.ROLE_GRANTED,
            "user:bob",
            after={"user": "bob", "role": "admin"},
            signer=key,
        )
    finally:
        db.dispose()
    ann = team.ann.reopen()
    assert Role.ADMIN not in ann.membership.roles_of("bob")
    # The key waits for an admin like any replacement key; nothing it signs counts.
    assert [p.user_id for p in ann.membership.pending_keys()] == ["ada"]
    assert ann.membership.pending_keys()[0].replaces is not None
    (problem,) = ann.governance.problems()
    assert problem.seq == grant.seq and "no admin has approved" in problem.reason
    listed = _cli(team.ann, "roles", "list")
    assert listed.returncode == 1 and f"Event {grant.seq}" in listed.stderr


# 3 ------------------------------------------------------------------------------------


def test_unsigned_authority_and_an_edited_profile_give_nothing(team: Team) -> None:
    # bob says he is ada in his own profile.toml: authority needs ada's key.
    paths = resolve_paths({"GAVEL_HOME": str(team.bob.home)})
    ProfileFile(paths.profile_file).save(Profile("ada", team.bob.ledger_url))
    bob_as_ada = team.bob.reopen()
    for passphrase in (team.bob.passphrase, team.ada.passphrase):
        with pytest.raises(NoIdentity, match="not in this computer"):
            bob_as_ada.membership.grant("bob", Role.ADMIN, passphrase)
    with pytest.raises(NoIdentity):
        bob_as_ada.governance.comment(team.request(), "as ada", team.ada.passphrase)
    refused = _cli(team.bob, "roles", "grant", "bob", "admin", "--passphrase-env", "PP")
    assert refused.returncode == 1

    # A forged, unsigned role grant appended straight into the ledger, head moved.
    db = team.ledger()
    try:
        forged = append(
            db, "ada", LedgerAction.ROLE_GRANTED, "user:bob", after={"user": "bob", "role": "admin"}
        )
    finally:
        db.dispose()
    ann = team.ann.reopen()
    assert ann.membership.roles_of("bob") == {Role.APPROVER}
    (problem,) = ann.governance.problems()
    assert problem.seq == forged.seq and "not signed" in problem.reason
    report = ann.authority.verify()
    assert not report.ok and report.problem is not None and report.problem.seq == forged.seq
    # An export of the ledger shows it to anyone who verifies the file alone.
    export = team.ann.home / "ledger.jsonl"
    assert _cli(team.ann, "audit", "export", "--out", str(export)).returncode == 0
    by_file = _cli(team.ann, "audit", "verify", "--file", str(export))
    assert by_file.returncode == 1 and f"Event {forged.seq} (role.granted by ada)" in by_file.stdout


# 4 ------------------------------------------------------------------------------------


def test_a_policy_in_profile_toml_is_refused_with_a_sentence(team: Team) -> None:
    paths = resolve_paths({"GAVEL_HOME": str(team.bob.home)})
    team.bob.close()
    paths.profile_file.write_text(
        f'user_id = "bob"\nteam_ledger_url = "{team.bob.ledger_url}"\n\n'
        "[policies.high]\napprovals_required = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"policies no longer live in profile\.toml"):
        team.bob.reopen()
    proc = _cli(team.bob, "request", "list")
    assert proc.returncode == 1 and "policies no longer live" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The policy in force is the ledger's: two approvals for high risk.
    assert team.ann.ctx.membership.policies()["high"].approvals_required == 2


# 5 ------------------------------------------------------------------------------------

_AT_ONCE = textwrap.dedent(
    """
    import pathlib, sys, time
    from app.cli import main
    go = pathlib.Path(sys.argv[1])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    sys.exit(main(sys.argv[2:]))
    """
)


def _at_once(
    tmp_path: Path, runs: list[tuple[Desk, list[str]]]
) -> list[subprocess.CompletedProcess[str]]:
    """Start every command, wait until all are loaded, then let them go together."""
    go = tmp_path / f"go-{uuid.uuid4().hex[:6]}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_ONCE, str(go), *args],
            cwd=ROOT,
            env=desk.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for desk, args in runs
    ]
    # Python start-up and imports take a moment; the files appear once they are waiting.
    go.touch()
    out = []
    for proc, (_desk, args) in zip(procs, runs, strict=True):
        stdout, stderr = proc.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return out


def test_two_desktops_applying_at_once_write_the_registry_once(team: Team, tmp_path: Path) -> None:
    rid = team.request()
    team.ann.ctx.governance.approve(rid, "ok", team.ann.passphrase)
    team.bob.ctx.governance.approve(rid, "ok", team.bob.passphrase)
    with FaultProxy(team.registry.url) as proxy:
        # Both desktops reach the registry through a recording proxy.
        for desk in (team.ann, team.bob):
            desk.ctx.registries.set_url("reg", proxy.url)
            desk.close()
        results = _at_once(
            tmp_path,
            [(d, ["apply", rid, "--passphrase-env", "PP"]) for d in (team.ann, team.bob)],
        )
        alias_writes = [
            r
            for r in proxy.seen
            if r.method == "POST" and r.path.endswith("/registered-models/alias")
        ]
    assert len(alias_writes) == 1
    winners = [r for r in results if "Promotion applied." in r.stdout]
    assert len(winners) == 1, [(r.returncode, r.stdout, r.stderr) for r in results]
    (loser,) = [r for r in results if r is not winners[0]]
    told = loser.stdout + loser.stderr
    assert "already being applied by" in told or "Already applied by" in told
    assert len(_applied_events(team.ada)) == 1
    assert team.ada.reopen().governance.problems() == []
    assert team.alias() == 2


# 6 ------------------------------------------------------------------------------------


def test_simultaneous_approvals_both_count(team: Team, tmp_path: Path) -> None:
    for _attempt in range(3):
        rid = team.request()
        results = _at_once(
            tmp_path,
            [
                (d, ["approve", rid, "--comment", "ok", "--passphrase-env", "PP"])
                for d in (team.ann, team.bob)
            ],
        )
        assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
        request = team.ada.reopen().governance.request(rid)
        assert request.state is RequestState.APPROVED
        assert sorted(d.actor for d in request.approvals) == ["ann", "bob"]
    assert team.ada.ctx.governance.problems() == []


# 7 ------------------------------------------------------------------------------------


def test_a_scratch_profile_never_replaces_a_persons_key(
    team: Team, desks: DeskFactory, tmp_path: Path
) -> None:
    # Same machine, same keyring as ann; another GAVEL_HOME.
    scratch = desks("ann")
    scratch.home.joinpath("xdg-data").symlink_to(team.ann.keyring_dir, target_is_directory=True)
    with pytest.raises(UsageError, match="already has a signing key"):
        scratch.ctx.membership.init_identity("ann", "Ann", (), "scratch-passphrase")
    # A solo scratch ledger: another ledger, so another keyring entry.
    solo = desks("ann", ledger_url="")
    solo.home.joinpath("xdg-data").symlink_to(team.ann.keyring_dir, target_is_directory=True)
    solo.ctx.membership.init_identity("ann", "Ann", (), "scratch-passphrase")
    # Ann's real key still signs on the team ledger, with her own passphrase.
    rid = team.request()
    approved = team.ann.reopen().governance.approve(rid, "ok", team.ann.passphrase)
    assert [d.actor for d in approved.approvals] == ["ann"]


# 8 ------------------------------------------------------------------------------------


def test_lowering_the_risk_tier_in_the_registry_does_not_lower_the_policy(team: Team) -> None:
    rid = team.request()
    with team.client() as c:
        c.set_registered_model_tag(team.model, "risk_tier", "low")
    team.ann.ctx.sync.sync("reg")
    seen = team.ann.ctx.audit.page(
        LedgerQuery(
            actions=(LedgerAction.RISK_TIER_OBSERVED.value,), subject=f"model:reg/{team.model}"
        ),
        limit=None,
    )
    assert [e.after for e in seen][-1] == {"risk_tier": "low"}
    view = team.ann.ctx.governance.view_of(rid)
    assert view.tier == "high" and view.policy.approvals_required == 2
    assert any("stricter high-risk policy applies" in n for n in view.notes)
    team.ann.ctx.governance.approve(rid, "ok", team.ann.passphrase)
    assert team.ada.ctx.governance.request(rid).state is RequestState.PENDING
    refused = _cli(team.ann, "apply", rid, "--passphrase-env", "PP")
    assert refused.returncode == 1 and "not approved" in refused.stderr
    # A request made after the change follows it, and says the tier was lowered.
    team.ada.ctx.sync.sync("reg")
    later = team.ada.ctx.governance.view_of(team.request(3))
    assert later.policy.approvals_required == 1
    assert any("was lowered in the registry from high to low" in n for n in later.notes), (
        later.notes
    )
    assert team.alias() == 1


# 9 ------------------------------------------------------------------------------------


def test_an_approver_cannot_approve_their_own_version_by_keeping_quiet(
    team: Team, desks: DeskFactory
) -> None:
    # dave trains as "d.smith" in MLflow, and declares no registry name to Gavel.
    dave = desks("dave")
    dave.ctx.membership.init_identity("dave", "Dave", (), dave.passphrase)
    team.ada.ctx.membership.approve_key("dave", team.ada.passphrase, registry_usernames=[])
    team.ada.ctx.membership.grant("dave", Role.APPROVER, team.ada.passphrase)
    with team.client() as c:
        run = c.create_run(c.create_experiment(f"{team.model}-dave"), "d", user_id="d.smith",
                           start_time=1, tags={})  # fmt: skip
        c.update_run(run, "FINISHED", 2)
        c.create_model_version(team.model, source=f"runs:/{run}/model", run_id=run)  # v4
    dave.ctx.registries.add(team.registry.config("reg"))
    for desk in (team.ada, dave):
        desk.ctx.sync.sync("reg")
    rid = team.request(4)
    view = dave.ctx.governance.view_of(rid)
    assert any("run user 'd.smith' maps to no Gavel identity" in n for n in view.notes)
    with pytest.raises(GavelError, match="maps to no Gavel identity"):
        dave.ctx.governance.approve(rid, "ok", dave.passphrase)
    # Signed with dave's real key but written straight into the ledger: still refused.
    db = team.ledger()
    try:
        forged = append(
            db,
            "dave",
            LedgerAction.REQUEST_APPROVED,
            request_subject(rid),
            after=_approval_manifest(team, rid, "dave"),
            signer=dave.ctx.actor.signer(dave.passphrase),
        )
    finally:
        db.dispose()
    assert team.ann.reopen().governance.request(rid).approvals == []
    assert [p.seq for p in team.ann.ctx.governance.problems()] == [forged.seq]
    # Once an admin maps d.smith to dave, the rule that forbids it is the plain one.
    team.ada.ctx.membership.map_names("dave", ["d.smith"], team.ada.passphrase)
    ok, why = dave.reopen().governance.can_decide(
        dave.ctx.governance.request(rid), SignatureMeaning.APPROVAL
    )
    assert not ok and "ran the training run" in why
    assert team.alias() == 1


# Found by the standalone verifier's differential tests ----------------------------------


def test_a_forged_revocation_does_not_spoil_its_victims_later_signatures(team: Team) -> None:
    ann_key = team.ada.ctx.membership.identities()["ann"].key_id
    db = team.ledger()
    try:
        forged = append(
            db, "bob", LedgerAction.KEY_REVOKED, f"key:{ann_key}",
            after={"user": "ann", "key_id": ann_key}, reason="forged",
        )  # fmt: skip
        # A row that is not a readable event at all, under an authority action (its
        # chain link is intact: only its JSON is broken).
        junk = append_raw(
            db,
            LedgerDraft("bob", LedgerAction.ROLE_GRANTED.value, "user:bob"),
            lambda b: b.replace(b'{"event":{', b'{"event":[{', 1),
        )
    finally:
        db.dispose()
    rid = team.request()
    # ann still signs; her approval counts; every desk still pulls and verifies.
    approved = team.ann.reopen().governance.approve(rid, "ok", team.ann.passphrase)
    assert [d.actor for d in approved.approvals] == ["ann"]
    report = team.bob.reopen().authority.verify()
    assert [p.seq for p in report.open_problems] == [forged.seq, junk.seq]
    for seq in (forged.seq, junk.seq):
        team.ada.ctx.membership.acknowledge(seq, "Investigated: forged rows.", team.ada.passphrase)
    assert team.bob.reopen().authority.verify().ok
    assert team.bob.ctx.team_ledger is not None and team.bob.ctx.team_status().problem == ""


def test_a_document_without_a_canonical_form_is_refused_not_a_crash(team: Team) -> None:
    rid = team.request()
    manifest = _approval_manifest(team, rid, "ann")
    huge = {"id": "x", "actor": "ann", "action": "request.approved", "n": "__BIG__"}
    draft = LedgerDraft(
        "ann",
        LedgerAction.REQUEST_APPROVED.value,
        f"request:{rid}",
        after={**manifest, "offline": {"intent": huge, "signature": "AAAA", "key_id": "k"}},
    )
    db = team.ledger()
    try:
        # An integer beyond 2**53 has no canonical JSON form, so nobody signed it.
        forged = append_raw(db, draft, lambda b: b.replace(b'"__BIG__"', str(2**60).encode()))
    finally:
        db.dispose()
    problems = team.ann.reopen().governance.problems()
    assert [p.seq for p in problems] == [forged.seq]


def test_user_ids_are_checked_whole() -> None:
    from app.domain.authority_model import valid_user_id

    assert valid_user_id("ann") and not valid_user_id("ann\n") and not valid_user_id("a:b")
