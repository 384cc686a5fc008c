"""tools/verify_ledger.py, the standalone verifier, against Gavel's own on real exports.

Ledgers are built with Gavel's services (a team of desks on a shared SQLite ledger and
on the real PostgreSQL, with a real MLflow registry), exported the way 'gavel audit
export' exports (AuditService.export), then verified twice: by the standalone
verifier, run as an auditor runs it (a subprocess in isolated mode, nothing of Gavel
imported), and by Gavel's verify_export. They are independent implementations of
docs/ledger-format.md, so for every export, clean, tampered or forged, they must agree
on whether it verifies, on the first event they name, and on what was acknowledged.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rfc8785

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.authority_records import FindingSubject, Severity
from app.domain.entities import MetricPoint
from app.domain.governance import (
    MetricThreshold,
    Policy,
    RequestState,
    Role,
    SignatureMeaning,
    request_subject,
)
from app.domain.ledger import (
    Checkpoint,
    LedgerAction,
    LedgerDraft,
    LedgerEvent,
    canonical_body,
)
from app.domain.offline import intent_digest, intent_document
from app.services.audit import ExportResult
from app.services.findings import about
from app.services.ledger_export import jsonl_line, verify_export
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.ledger_forgery import RandomSignature, append, enrol_own_key
from tests.test_cli import ROOT, gavel

VERIFIER = ROOT / "tools" / "verify_ledger.py"
DOC = ROOT / "docs" / "ledger-format.md"
CHECKLIST = {
    "validation_report": "VR-2026-031",
    "metrics_reviewed": "AUC, recall at 1% FPR",
    "bias_review": "BR-77",
    "rollback_plan": "move the alias back",
}


# ------------------------------------------------------------------- the two verdicts


@dataclass(frozen=True)
class Verdict:
    ok: bool
    first: int | None  # the first event named
    head: str | None
    events: int
    signatures: int
    acknowledged: tuple[int, ...]
    text: str


def run_standalone(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The verifier as an auditor runs it: outside the repository, in isolated mode."""
    return subprocess.run(
        [sys.executable, "-I", str(VERIFIER), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def standalone(path: Path, checkpoint: str | None = None) -> Verdict:
    more = ["--checkpoint", checkpoint] if checkpoint else []
    proc = run_standalone(str(path), "--json", *more, cwd=path.parent)
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert proc.returncode == (0 if out["ok"] else 1)
    problems = out["problems"]
    return Verdict(
        out["ok"],
        problems[0]["seq"] if problems else None,
        out["head"],
        out["events"],
        out["signatures"],
        tuple(p["seq"] for p in out["acknowledged"]),
        "; ".join(f"event {p['seq']}: {p['message']}" for p in problems) or "OK",
    )


def gavels(path: Path, checkpoint: str | None = None) -> Verdict:
    report = verify_export(path, checkpoint=Checkpoint.parse(checkpoint) if checkpoint else None)
    return Verdict(
        report.ok,
        report.problem.seq if report.problem else None,
        str(report.head) if report.head else None,
        report.events_checked,
        report.signatures_checked,
        tuple(p.seq for p in report.acknowledged),
        report.describe(),
    )


def both(path: Path, checkpoint: str | None = None) -> Verdict:
    """Both verdicts, which must agree; returns the standalone one."""
    mine, theirs = standalone(path, checkpoint), gavels(path, checkpoint)
    assert (mine.ok, mine.first, mine.acknowledged) == (
        theirs.ok,
        theirs.first,
        theirs.acknowledged,
    ), f"{path.name}: the standalone verifier says {mine.text!r}; Gavel says {theirs.text!r}"
    return mine


# ------------------------------------------------------------------ without a ledger


def _doc_example(tmp_path: Path) -> tuple[Path, str, str]:
    """The worked example's export, its head and its SHA-256, as the document gives them."""
    doc = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- example-export.*?-->\n```jsonl\n(.*?)```", doc, re.S)
    head = re.search(r"--checkpoint (\d+:[0-9a-f]{64})", doc)
    digest = re.search(r"SHA-256\s+`([0-9a-f]{64})`", doc)
    assert block and head and digest, "the worked example of docs/ledger-format.md moved"
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(block.group(1).encode("utf-8"))
    return path, head.group(1), digest.group(1)


def test_the_documented_example_is_a_real_export_that_verifies(tmp_path: Path) -> None:
    path, head, digest = _doc_example(tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    mine, theirs = both(path, head), gavels(path, head)
    assert mine.ok
    assert (mine.head, mine.events, mine.signatures) == (head, 10, 9)
    assert (theirs.head, theirs.events, theirs.signatures) == (head, 10, 9)
    # What an auditor reads.
    proc = run_standalone(str(path), "--checkpoint", head, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"OK: 10 events, 9 signatures; head {head}\n")


def test_bad_usage_and_unreadable_files_exit_2(tmp_path: Path) -> None:
    path, _head, _digest = _doc_example(tmp_path)
    for args in (
        [],
        [str(tmp_path / "missing.jsonl")],
        [str(tmp_path)],  # a folder
        [str(path), "--checkpoint", "10:beef"],
    ):
        proc = run_standalone(*args, cwd=tmp_path)
        assert (proc.returncode, proc.stdout) == (2, ""), args
        assert proc.stderr.strip() and "Traceback" not in proc.stderr, args


def test_a_record_that_is_not_a_format_1_body_breaks_the_chain(tmp_path: Path) -> None:
    path, _head, _digest = _doc_example(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    prev = json.loads(lines[-1])["hash"]
    event = (
        '"action":"alias.observed","actor":"gavel-sync","after":null,"before":null,'
        '"reason":"","subject":"model:reg/m","ts":"2026-12-02T10:43:00.000000Z"'
    )
    tail = f'"prev":"{prev}","seq":11,"signer":null}}'
    bodies = {
        "missing-reason": '{"event":{' + event.replace('"reason":"",', "") + '},"format":1,' + tail,
        "repeated-member": '{"event":{' + event + ',"actor":"ada"},"format":1,' + tail,
        "format-2": '{"event":{' + event + '},"format":2,' + tail,
        "time-spelling": '{"event":{' + event.replace(".000000Z", "Z") + '},"format":1,' + tail,
    }
    for name, body in bodies.items():
        # Hashed and chained correctly: only the record itself is wrong.
        data = body.encode()
        row = (11, data, hashlib.sha256(data).hexdigest(), None, None, "alias.observed")
        forged = tmp_path / f"{name}.jsonl"
        forged.write_bytes(b"".join(lines) + jsonl_line(row))
        verdict = standalone(forged)
        assert (verdict.ok, verdict.first, verdict.events) == (False, 11, 10), name


def test_the_verifier_needs_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    roots = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    roots |= {
        n.module.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
    }
    assert roots - sys.stdlib_module_names == {"cryptography"}


def _verifier_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_ledger", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while loading
    spec.loader.exec_module(module)
    return module


def test_documents_signed_inside_events_are_canonicalised_as_rfc8785_does() -> None:
    """Offline intents and findings are signed over their RFC 8785 form, which the
    standalone verifier computes without the rfc8785 package."""
    canonical_json = _verifier_module().canonical_json
    values: list[Any] = [
        {"b": [1, 2.5, -0.0, 1e21, 1e-7, 1e20, 0.000001, 5e-324, 1.7976931348623157e308]},
        {"\U0001f600": "emoji sorts by UTF-16", "\uff61": "after it", "a": None, "é": True},
        ['\u2028 \x7f \x01 " \\ \n \t é', 2**53 - 1, -(2**53 - 1), 123456789012345680000.0],
        [x / 7 * 10**e for x in range(1, 30) for e in range(-25, 25, 3)],
    ]
    for value in values:
        assert canonical_json(value) == rfc8785.dumps(value)


# ------------------------------------------------------------------------- the team


@dataclass
class Team:
    ada: Desk  # founder: admin, requester
    ann: Desk  # approver
    bob: Desk  # approver and requester
    carl: Desk  # approver who trains the models (registry user carl.ml)
    aud: Desk  # auditor
    model: str
    registry: MlflowRegistry

    def client(self) -> MlflowRegistryClient:
        return MlflowRegistryClient(self.registry.config(), None)

    def alias(self, alias: str) -> int | None:
        with self.client() as c:
            return c.get_registered_model(self.model).aliases.get(alias)

    def request(self, desk: Desk, version: int, alias: str) -> str:
        r = desk.ctx.governance.create_request(
            "reg", self.model, version, alias, "Better recall.", CHECKLIST,
            passphrase=desk.passphrase,
        )  # fmt: skip
        return r.request_id

    def export(self, path: Path) -> ExportResult:
        return self.ada.ctx.audit.export(path, actor="ada")


def _seed(registry: MlflowRegistry, name: str) -> None:
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
def team(desks: DeskFactory, seeded_registry: MlflowRegistry) -> Iterator[Team]:
    model = f"verify-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model)
    ada, ann, bob, carl, aud, dave = (
        desks(u) for u in ("ada", "ann", "bob", "carl", "aud", "dave")
    )
    enrol(ada, ada, Role.REQUESTER)
    enrol(ada, ann, Role.APPROVER)
    enrol(ada, bob, Role.APPROVER, Role.REQUESTER)
    enrol(ada, carl, Role.APPROVER, names=("carl.ml",))
    enrol(ada, aud, Role.AUDITOR)
    # A member who left: enrolled and approved, then their role and key revoked.
    enrol(ada, dave, Role.VIEWER)
    ada.ctx.membership.revoke("dave", Role.VIEWER, ada.passphrase, "Left the team.")
    ada.ctx.membership.revoke_key("dave", ada.passphrase, "Left the team.")
    ada.ctx.membership.map_names("bob", ["bob.ml", "b.builder"], ada.passphrase)
    high = Policy(
        "high", 2, Role.APPROVER, tuple(CHECKLIST), (MetricThreshold.parse("auc >= 0.8"),),
        request_expiry_days=30, review_interval_days=60,
    )  # fmt: skip
    ada.ctx.membership.set_policy(high, ada.passphrase, "Thresholds and expiry for high risk.")
    for desk in (ada, ann, bob):
        desk.ctx.registries.add(seeded_registry.config("reg"))
        desk.ctx.sync.sync("reg")
    yield Team(ada, ann, bob, carl, aud, model, seeded_registry)


def _history(team: Team) -> str:
    """A working month: a key rotation, an apply, a conflict, a rejection, a withdrawal.
    Returns the id of the applied request."""
    ada, ann, bob = team.ada, team.ann, team.bob
    # Bob replaces his key; an admin approves the rotation; he signs with the new key.
    bob.ctx.membership.rotate_key(bob.passphrase)
    ada.ctx.membership.approve_key("bob", ada.passphrase)

    applied = team.request(ada, 2, "production")
    ann.ctx.governance.approve(applied, "Metrics reviewed.", ann.passphrase)
    bob.ctx.governance.approve(applied, "Rollback plan checked.", bob.passphrase)
    assert ada.ctx.promotions.apply(applied, ada.passphrase).applied
    assert team.alias("production") == 2

    # Approved, but the alias moved in the registry before the apply: a conflict.
    moved = team.request(ada, 3, "champion")
    ann.ctx.governance.approve(moved, "ok", ann.passphrase)
    bob.ctx.governance.approve(moved, "ok", bob.passphrase)
    with team.client() as c:
        c.set_registered_model_alias(team.model, "champion", 1)
    assert not ada.ctx.promotions.apply(moved, ada.passphrase).applied
    assert ada.ctx.governance.request(moved).state is RequestState.CONFLICT

    rejected = team.request(bob, 3, "production")
    ann.ctx.governance.reject(rejected, "The bias review is incomplete.", ann.passphrase)
    withdrawn = team.request(ada, 1, "staging")
    bob.ctx.governance.comment(withdrawn, "Why version 1?", bob.passphrase)
    _offline(ann, LedgerAction.COMMENT_ADDED, withdrawn, None, "Agreed, written on a train.")
    ada.ctx.governance.withdraw(withdrawn, "Wrong version.", ada.passphrase)
    ada.ctx.sync.sync("reg")  # records the champion alias no request explains

    ann.ctx.reviews.record("reg", team.model, 2, "Drift checked.", ann.passphrase, ["DR-1"])
    signed = team.aud.ctx.findings.sign(
        about(FindingSubject.MODEL, registry="reg", model=team.model),
        Severity.MINOR,
        "The champion alias moved outside the workflow.",
        team.aud.passphrase,
    )
    assert ada.ctx.findings.import_findings([signed], ada.passphrase).added
    ada.ctx.findings.resolve(str(signed.document["id"]), "Alias reset.", ada.passphrase)
    return applied


def _offline(
    desk: Desk, action: LedgerAction, rid: str, after: dict[str, Any] | None, reason: str
) -> LedgerEvent:
    """A decision signed offline as an intent, then appended unsigned with the intent in
    it, as domain.offline describes (no service appends them yet)."""
    endorsed = _intent(desk, action, rid, after, reason)
    db = open_ledger_database(desk.ledger_url)
    try:
        return append(db, desk.user, action, request_subject(rid), after=endorsed, reason=reason)
    finally:
        db.dispose()


def _intent(
    desk: Desk, action: LedgerAction, rid: str, after: dict[str, Any] | None, reason: str
) -> dict[str, Any]:
    """The "after" of a decision made offline: the decision's, with the signed intent."""
    head = desk.ctx.audit.store.head()
    assert head is not None
    intent = intent_document(
        intent_id=uuid.uuid4().hex, actor=desk.user, action=action.value,
        subject=request_subject(rid), after=after, reason=reason,
        made_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        replica_seq=head.seq, replica_hash=head.hash,
    )  # fmt: skip
    signer = desk.ctx.actor.signer(desk.passphrase)
    offline = {
        "intent": intent,
        "signature": base64.b64encode(signer.sign(intent_digest(intent) or b"")).decode("ascii"),
        "key_id": signer.key_id,
    }
    return {**(after or {}), "offline": offline}


def _copy(clean: Path, name: str, edit: Callable[[list[bytes]], object]) -> Path:
    lines = clean.read_bytes().splitlines(keepends=True)
    edit(lines)
    path = clean.with_name(f"{name}.jsonl")
    path.write_bytes(b"".join(lines))
    return path


def _appended(
    lines: list[bytes], action: LedgerAction, actor: str, subject: str, after: Any
) -> bytes:
    """A line that continues the file's chain correctly: what a forger with the file writes."""
    last = json.loads(lines[-1])
    seq = last["body"]["seq"] + 1
    draft = LedgerDraft(actor, action.value, subject, after=after)
    body = canonical_body(seq=seq, at=datetime.now(UTC), draft=draft, prev_hash=last["hash"])
    return jsonl_line((seq, body, hashlib.sha256(body).hexdigest(), None, None, action.value))


def _set_signature(line: bytes, signature: bytes | None) -> bytes:
    sig = b"null" if signature is None else b'"' + base64.b64encode(signature) + b'"'
    changed, n = re.subn(
        rb'"signature":"[A-Za-z0-9+/=]+"}\n$', b'"signature":' + sig + b"}\n", line
    )
    assert n == 1
    return changed


@pytest.mark.slow
def test_a_teams_export_verifies_alike_clean_and_tampered(team: Team, tmp_path: Path) -> None:
    _history(team)
    clean = tmp_path / "ledger.jsonl"
    result = team.export(clean)
    head = str(result.head)
    mine, theirs = both(clean, head), gavels(clean, head)
    assert mine.ok, mine.text
    assert (mine.head, mine.events, mine.signatures) == (head, result.events, theirs.signatures)
    cli = gavel(
        team.ada.home, "audit", "verify", "--file", str(clean), "--json", env=team.ada.env()
    )
    assert cli.returncode == 0, cli.stderr
    cli_head = json.loads(cli.stdout)["head"]
    assert f"{cli_head['seq']}:{cli_head['hash']}" == head

    lines = clean.read_bytes().splitlines(keepends=True)
    actions = [json.loads(line)["body"]["event"]["action"] for line in lines]
    # The export exercises every rule the two verifiers fold, not just the chain.
    assert {a.value for a in LedgerAction} - set(actions) == {
        "promotion.apply_failed",
        "identity.declared",
        "ledger.problem_acknowledged",
        "decision.superseded",
        "export.made",
        "serving.drift_observed",
        "serving.drift_resolved",
    }
    approval = actions.index("request.approved") + 1  # line n holds event n
    last = len(lines)

    def reword(ls: list[bytes]) -> None:
        ls[approval - 1] = ls[approval - 1].replace(b"Metrics reviewed.", b"Metrics skipped.")

    def delete(ls: list[bytes]) -> None:
        del ls[approval - 1]

    def swap(ls: list[bytes]) -> None:
        ls[approval - 1], ls[approval] = ls[approval], ls[approval - 1]

    def forge_signature(ls: list[bytes]) -> None:
        ls[approval - 1] = _set_signature(ls[approval - 1], os.urandom(64))

    def strip_signature(ls: list[bytes]) -> None:
        ls[approval - 1] = _set_signature(ls[approval - 1], None)

    def cut_tail(ls: list[bytes]) -> None:
        del ls[-3:]

    def repeat_last(ls: list[bytes]) -> None:
        ls.append(ls[-1])

    def append_grant(ls: list[bytes]) -> None:
        ls.append(_appended(ls, LedgerAction.ROLE_GRANTED, "ada", "user:carl",
                            {"user": "carl", "role": "admin"}))  # fmt: skip

    cases: list[tuple[str, Callable[[list[bytes]], object], str | None, int]] = [
        ("edited-body", reword, None, approval),
        ("deleted-line", delete, None, approval),
        ("swapped-lines", swap, None, approval),
        ("forged-signature", forge_signature, None, approval),
        ("stripped-signature", strip_signature, None, approval),
        ("cut-tail", cut_tail, head, last - 2),
        ("repeated-last-line", repeat_last, None, last),
        ("appended-unsigned-grant", append_grant, None, last + 1),
    ]
    for name, edit, checkpoint, first in cases:
        verdict = both(_copy(clean, name, edit), checkpoint)
        assert (verdict.ok, verdict.first) == (False, first), (name, verdict.text)

    # Without a checkpoint a clean cut of the tail is invisible: that is what one is for.
    assert both(clean.with_name("cut-tail.jsonl")).ok
    # An unsigned observation appended with a correct link grants nothing and verifies;
    # only the head moved, and the file no longer has the SHA-256 export.made recorded.
    observed = _copy(clean, "appended-observation", lambda ls: ls.append(
        _appended(ls, LedgerAction.ALIAS_OBSERVED, "gavel-sync", f"model:reg/{team.model}",
                  {"alias": "production", "version": 3, "unapproved": True})))  # fmt: skip
    verdict = both(observed, head)
    assert verdict.ok and verdict.head is not None and verdict.head.startswith(f"{last + 1}:")
    assert hashlib.sha256(observed.read_bytes()).hexdigest() != result.sha256


@pytest.mark.slow
def test_forged_authority_is_refused_alike_until_an_admin_acknowledges_it(
    team: Team, tmp_path: Path
) -> None:
    rid = team.request(team.bob, 2, "production")
    request = team.ann.ctx.governance.request(rid)

    def approval(user: str) -> dict[str, object]:
        return {
            "request_id": rid,
            "request_hash": request.created_hash,
            "version": request.identity.to_json(),
            "alias": request.alias,
            "evidence_digest": request.evidence_digest,
            "manifestation": {"printed_name": user.title(), "user_id": user, "meaning": "approval"},
        }

    ann_key = team.ada.ctx.membership.identities()["ann"].key_id
    assert ann_key is not None
    db = open_ledger_database(team.ada.ledger_url)
    admin_for = {"user": "bob", "role": "admin"}

    def unsigned_grant() -> LedgerEvent:
        return append(db, "ada", LedgerAction.ROLE_GRANTED, "user:bob", after=admin_for)

    def grant_by_pending_key() -> LedgerEvent:
        key = enrol_own_key(db, "ada")  # another key enrolled as ada: it waits for an admin
        return append(db, "ada", LedgerAction.ROLE_GRANTED, "user:bob", after=admin_for, signer=key)

    def signed_approval(desk: Desk) -> LedgerEvent:
        signer = desk.ctx.actor.signer(desk.passphrase)
        subject = request_subject(rid)
        return append(db, desk.user, approved, subject, after=approval(desk.user), signer=signer)

    def replayed_intent() -> LedgerEvent:
        manifest = team.ann.ctx.governance.signing_manifest(request, SignatureMeaning.APPROVAL)
        counted = _offline(team.ann, approved, rid, manifest, "Approved on the train.")
        # The same signed intent appended a second time.
        subject, why = request_subject(rid), counted.reason
        return append(db, "ann", approved, subject, after=counted.after, reason=why)

    def edited_intent() -> LedgerEvent:
        comment = _intent(team.bob, LedgerAction.COMMENT_ADDED, rid, None, "Fine by me.")
        rejected = LedgerAction.REQUEST_REJECTED  # what bob signed was a comment
        return append(
            db, "bob", rejected, request_subject(rid), after=comment, reason="Fine by me."
        )

    def finding_with_a_forged_signature() -> LedgerEvent:
        signed = team.aud.ctx.findings.sign(
            about(FindingSubject.REQUEST, request_id=rid), Severity.MAJOR, "No review.",
            team.aud.passphrase,
        )  # fmt: skip
        forged = replace(signed, signature=os.urandom(64)).to_json()
        subject, signer = f"finding:{signed.document['id']}", ada.actor.signer(team.ada.passphrase)
        return append(
            db, "ada", LedgerAction.FINDING_RECORDED, subject, after=forged, signer=signer
        )

    def approval_after_expiry() -> LedgerEvent:
        late = team.ann.ctx.governance.request(team.request(team.bob, 3, "staging"))
        manifest = team.ann.ctx.governance.signing_manifest(late, SignatureMeaning.APPROVAL)
        draft = LedgerDraft("ann", approved.value, request_subject(late.request_id), after=manifest)
        # Ann's desktop clock runs a month ahead: by it, the policy's 30 days are over.
        month_on = datetime.now(UTC) + timedelta(days=31)
        signer = team.ann.ctx.actor.signer(team.ann.passphrase)
        return LedgerStore(db, clock=lambda: month_on).append(draft, signer)

    ada = team.ada.ctx
    approved = LedgerAction.REQUEST_APPROVED
    forgeries: list[tuple[str, Callable[[], LedgerEvent]]] = [
        ("an unsigned role grant", unsigned_grant),
        ("a grant signed by a pending key", grant_by_pending_key),
        ("a self-approval signed with the requester's key", lambda: signed_approval(team.bob)),
        ("an approval signed by the version's author", lambda: signed_approval(team.carl)),
        ("an offline approval appended twice", replayed_intent),
        ("an offline decision that is not what was signed", edited_intent),
        ("a finding whose auditor's signature is forged", finding_with_a_forged_signature),
        ("an approval after the request expired", approval_after_expiry),
    ]
    try:
        acknowledged = []
        for n, (name, forge) in enumerate(forgeries):
            forged = forge()
            verdict = both(_export(team, tmp_path, n))
            assert (verdict.ok, verdict.first) == (False, forged.seq), (name, verdict.text)
            team.ada.ctx.membership.acknowledge(
                forged.seq, f"Investigated {name}.", team.ada.passphrase
            )
            acknowledged.append(forged.seq)
            verdict = both(_export(team, tmp_path, n, "acknowledged"))
            assert verdict.ok and verdict.acknowledged == tuple(acknowledged), name
        # Random bytes under a real key id (last: a bad signature also stops replica pulls).
        forged = append(
            db, "ann", approved, request_subject(rid), after=approval("ann"),
            signer=RandomSignature(ann_key),
        )  # fmt: skip
    finally:
        db.dispose()
    verdict = both(_export(team, tmp_path, len(forgeries)))
    assert (verdict.ok, verdict.first) == (False, forged.seq), verdict.text
    assert verdict.acknowledged == tuple(acknowledged)
    # Only the offline approval counted, once.
    assert [d.actor for d in team.ann.reopen().governance.request(rid).approvals] == ["ann"]


def _export(team: Team, tmp_path: Path, n: int, what: str = "forged") -> Path:
    path = tmp_path / f"{what}-{n}.jsonl"
    team.export(path)
    return path
