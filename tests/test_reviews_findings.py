"""Periodic reviews and auditors' findings: signed, judged by the fold like every other
authority, refused for the wrong people, and impossible to forge into the ledger.
Each on a shared SQLite ledger and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from app.domain.authority_records import FindingSubject, Severity
from app.domain.errors import GavelError
from app.domain.governance import Role
from app.domain.ledger import LedgerAction
from app.services.findings import about, read_findings, write_findings
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.ledger_forgery import RandomSignature, append
from tests.test_trust_attacks import _seed

pytestmark = pytest.mark.slow


@dataclass
class Team:
    ada: Desk  # founder: admin, requester
    ann: Desk  # approver
    aud: Desk  # auditor
    model: str


@pytest.fixture
def team(desks: DeskFactory, seeded_registry: MlflowRegistry) -> Iterator[Team]:
    model = f"rev-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="medium")
    ada, ann, aud = desks("ada"), desks("ann"), desks("aud")
    enrol(ada, ada, Role.REQUESTER, Role.APPROVER, names=("carl.ml",))
    enrol(ada, ann, Role.APPROVER)
    enrol(ada, aud, Role.AUDITOR)
    for desk in (ada, ann, aud):
        desk.ctx.registries.add(seeded_registry.config("reg"))
        desk.ctx.sync.sync("reg")
    yield Team(ada, ann, aud, model)


def test_a_review_is_signed_by_an_approver_who_did_not_make_the_version(team: Team) -> None:
    event = team.ann.ctx.reviews.record(
        "reg", team.model, 1, "Drift checked, metrics stable.", team.ann.passphrase, ["DR-12"]
    )
    assert event.action == LedgerAction.REVIEW_RECORDED and event.signer is not None
    (review,) = team.ada.ctx.reviews.reviews()[("reg", team.model, 1)]
    assert (review.reviewer, review.evidence) == ("ann", ("DR-12",))
    # ada's registry name carl.ml trained every version: she may not review them.
    with pytest.raises(GavelError, match="ran the training run"):
        team.ada.ctx.reviews.record("reg", team.model, 1, "fine", team.ada.passphrase)
    # An auditor without the approver role may not attest.
    with pytest.raises(GavelError, match="approver role"):
        team.aud.ctx.reviews.record("reg", team.model, 1, "fine", team.aud.passphrase)
    # v2 is promoted through Gavel: its request recorded carl.ml as the run's user.
    rid = team.ada.ctx.governance.create_request(
        "reg", team.model, 2, "production", "Better recall.",
        {"validation_report": "VR-1", "rollback_plan": "back to v1"},
        passphrase=team.ada.passphrase,
    ).request_id  # fmt: skip
    team.ann.ctx.governance.approve(rid, "ok", team.ann.passphrase)
    assert team.ada.ctx.promotions.apply(rid, team.ada.passphrase).applied
    # ada, whose registry name is carl.ml, forges a review of v2 straight into the
    # ledger with her real key, leaving its authors out: the fold uses the request's.
    db = _ledger(team)
    try:
        forged = append(
            db,
            "ada",
            LedgerAction.REVIEW_RECORDED,
            f"model:reg/{team.model}",
            after={
                "registry": "reg",
                "model": team.model,
                "version": 2,
                "version_creator": "",
                "run_user": "",
            },
            reason="self-review, authors left out",
            signer=team.ada.ctx.actor.signer(team.ada.passphrase),
        )
    finally:
        db.dispose()
    problems = team.ann.reopen().governance.problems()
    assert [p.seq for p in problems] == [forged.seq]
    assert "ran the training run" in problems[0].reason
    assert ("reg", team.model, 2) not in team.ann.ctx.reviews.reviews()


def _ledger(team: Team):  # type: ignore[no-untyped-def]
    from app.stores.migrate import open_ledger_database

    return open_ledger_database(team.ada.ledger_url)


def test_findings_round_trip_into_the_ledger_once(team: Team, tmp_path: Path) -> None:
    head = team.aud.ctx.audit.store.head()
    assert head is not None
    signed = [
        team.aud.ctx.findings.sign(
            about(FindingSubject.MODEL, registry="reg", model=team.model),
            Severity.MINOR,
            "No rollback plan on record for v1.",
            team.aud.passphrase,
        ),
        team.aud.ctx.findings.sign(
            about(FindingSubject.EVENT, seq=head.seq, event_hash=head.hash),
            Severity.OBSERVATION,
            "Checked this event against the registry.",
            team.aud.passphrase,
        ),
    ]
    path = tmp_path / "findings.jsonl"
    write_findings(path, signed)
    first = team.ada.ctx.findings.import_findings(read_findings(path), team.ada.passphrase)
    assert len(first.added) == 2 and first.refused == ()
    again = team.ann.ctx.findings.import_findings(read_findings(path), team.ann.passphrase)
    assert again.added == () and len(again.already_recorded) == 2
    findings = team.ann.ctx.findings.findings()
    assert [f.severity for f in findings] == [Severity.MINOR, Severity.OBSERVATION]
    assert all(f.auditor == "aud" and f.entered_by == "ada" and f.open for f in findings)

    # Only an admin resolves, signed.
    with pytest.raises(GavelError, match=r"(?i)only an admin"):
        team.ann.ctx.findings.resolve(findings[0].finding_id, "Plan filed.", team.ann.passphrase)
    team.ada.ctx.findings.resolve(findings[0].finding_id, "Plan RB-9 filed.", team.ada.passphrase)
    resolved = team.ann.ctx.findings.findings()[0]
    assert not resolved.open and resolved.resolution == "Plan RB-9 filed."


def test_forged_and_foreign_findings_are_refused(team: Team) -> None:
    good = team.aud.ctx.findings.sign(
        about(FindingSubject.MODEL, registry="reg", model=team.model),
        Severity.MAJOR,
        "Unapproved alias move.",
        team.aud.passphrase,
    )
    edited = replace(good, document={**good.document, "severity": "observation"})
    not_an_auditor = team.ann.ctx.findings.sign(
        about(FindingSubject.MODEL, registry="reg", model=team.model),
        Severity.MINOR,
        "I am no auditor.",
        team.ann.passphrase,
    )
    elsewhere = team.aud.ctx.findings.sign(
        about(FindingSubject.EVENT, seq=1, event_hash="0" * 64),
        Severity.MINOR,
        "About another ledger's first event.",
        team.aud.passphrase,
    )
    result = team.ada.ctx.findings.import_findings(
        [edited, not_an_auditor, elsewhere], team.ada.passphrase
    )
    reasons = dict(result.refused)
    assert result.added == ()
    assert "does not verify" in reasons[str(edited.document["id"])]
    assert "auditor role" in reasons[str(not_an_auditor.document["id"])]
    assert "does not hold" in reasons[str(elsewhere.document["id"])]

    # Straight into the ledger with a random signature: the fold refuses it.
    db = _ledger(team)
    try:
        forged = append(
            db,
            "aud",
            LedgerAction.FINDING_RECORDED,
            "finding:x",
            after={**good.to_json(), "signature": "AAAA"},
            signer=RandomSignature(good.key_id),
        )
    finally:
        db.dispose()
    assert team.ann.reopen().findings.findings() == []
    assert [p.seq for p in team.ann.ctx.governance.problems()] == [forged.seq]


def test_an_offline_decision_counts_once_and_only_as_signed(team: Team) -> None:
    """A decision signed as an intent (domain.offline) is appended unsigned with the
    intent inside; it counts once, and only if it says exactly what was signed."""
    import base64

    from app.domain.governance import SignatureMeaning
    from app.domain.offline import intent_digest, intent_document

    rid = team.ada.ctx.governance.create_request(
        "reg", team.model, 3, "shadow", "Shadow traffic.",
        {"validation_report": "VR-2", "rollback_plan": "remove alias"},
        passphrase=team.ada.passphrase,
    ).request_id  # fmt: skip
    gov = team.ann.ctx.governance
    request = gov.request(rid)
    manifest = gov.signing_manifest(request, SignatureMeaning.APPROVAL)
    head = team.ann.ctx.audit.store.head()
    assert head is not None
    intent = intent_document(
        intent_id=uuid.uuid4().hex, actor="ann", action="request.approved",
        subject=f"request:{rid}", after=manifest, reason="Checked offline.",
        made_at="2026-12-02T10:00:00.000000Z", replica_seq=head.seq, replica_hash=head.hash,
    )  # fmt: skip
    signer = team.ann.ctx.actor.signer(team.ann.passphrase)
    offline = {
        "intent": intent,
        "signature": base64.b64encode(signer.sign(intent_digest(intent) or b"")).decode(),
        "key_id": signer.key_id,
    }
    db = _ledger(team)
    endorsed = {**manifest, "offline": offline}
    subject, why = f"request:{rid}", "Checked offline."
    try:
        counted = append(db, "ann", LedgerAction.REQUEST_APPROVED, subject, after=endorsed,
                         reason=why)  # fmt: skip
        again = append(db, "ann", LedgerAction.REQUEST_APPROVED, subject, after=endorsed,
                       reason=why)  # fmt: skip
        edited = append(db, "ann", LedgerAction.REQUEST_REJECTED, subject, after=endorsed,
                        reason=why)  # fmt: skip
    finally:
        db.dispose()
    fresh = team.ada.reopen()
    approvals = fresh.governance.request(rid).approvals
    assert [(d.actor, d.seq, d.signer) for d in approvals] == [("ann", counted.seq, signer.key_id)]
    problems = {p.seq: p.reason for p in fresh.governance.problems()}
    assert "already counted" in problems[again.seq]
    assert "differs from the offline decision" in problems[edited.seq]
