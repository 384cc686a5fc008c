"""Audit bundles: made from a desk synced from a real MLflow registry, verified headless,
every kind of tampering named by the part it touched; findings carried from an audit
session into the team ledger (SQLite and the real PostgreSQL), idempotently."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.bootstrap import build_session_context
from app.domain.authority_records import FindingSubject, Severity
from app.domain.bundle import BundleError, BundlePart, BundleScope, manifest_bytes
from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.governance import Role
from app.domain.ledger import LedgerAction
from app.domain.progress import Progress
from app.services.bundles import verify_bundle
from app.services.findings import about, read_findings
from app.stores import bundle_file
from app.stores.paths import AppPaths, resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import assert_one_line_error, gavel
from tests.test_delivery_integration import CHECKLIST
from tests.test_trust_attacks import _seed

pytestmark = pytest.mark.slow


@dataclass
class Audit:
    ada: Desk  # founder, admin; makes the bundle
    aud: Desk  # auditor
    model: str
    bundle: Path
    tmp: Path


@pytest.fixture
def audit(desks: DeskFactory, seeded_registry: MlflowRegistry, tmp_path: Path) -> Iterator[Audit]:
    model = f"bun-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="medium")
    ada, aud = desks("ada"), desks("aud")
    enrol(ada, ada, Role.REQUESTER, Role.APPROVER)
    enrol(ada, aud, Role.AUDITOR)
    ada.ctx.registries.add(seeded_registry.config("reg"))
    ada.ctx.sync.sync("reg")
    bundle = tmp_path / "audit.gavelbundle"
    ada.ctx.bundles.create(bundle, BundleScope(), ada.passphrase)
    yield Audit(ada, aud, model, bundle, tmp_path)


def _tampered(audit: Audit, name: str, edit: Callable[[sqlite3.Connection], None]) -> Path:
    """A copy of the bundle edited by someone with SQLite and zlib at hand."""
    plain = audit.tmp / f"{name}.sqlite3"
    bundle_file.unpack(audit.bundle, plain)
    conn = sqlite3.connect(plain, isolation_level=None)
    try:
        edit(conn)
    finally:
        conn.close()
    copy = audit.tmp / f"{name}.gavelbundle"
    bundle_file.pack(plain, copy)
    return copy


def _edit_ledger_event(conn: sqlite3.Connection) -> None:
    # The ledger's triggers refuse edits; someone with the file drops them first.
    triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE ledger_events SET body = replace(body, 'ada', 'eve') WHERE seq = 2")


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_bundle_verifies_and_names_each_part_that_was_tampered_with(audit: Audit) -> None:
    report = verify_bundle(audit.bundle)
    assert report.ok, report.problems
    assert report.manifest["made_by"] == "ada"
    assert report.manifest["registries"][0]["name"] == "reg"
    parts = report.manifest["parts"]
    assert parts[BundlePart.SNAPSHOT.value]["models"]["rows"] >= 1
    assert (
        parts[BundlePart.LEDGER.value]["ledger_events"]["rows"]
        == (report.manifest["ledger"]["head"]["seq"])
    )
    assert "manifest verified" in report.describe()
    ok = gavel(audit.ada.home, "bundle", "verify", str(audit.bundle))
    assert ok.returncode == 0 and "manifest verified" in ok.stdout, ok.stderr

    cases: dict[str, tuple[Callable[[sqlite3.Connection], None], str]] = {
        "snapshot-row": (
            lambda c: c.execute(
                "UPDATE versions SET current_stage = 'Production' WHERE version = 2"
            ),
            "registry snapshot differs from the manifest: table versions",
        ),
        "ledger-event": (_edit_ledger_event, "audit ledger differs from the manifest"),
        "endpoint-definitions": (
            lambda c: c.execute(
                "INSERT INTO bundle_endpoints VALUES ('shadow', '{\"name\":\"shadow\"}')"
            ),
            "endpoint definitions differs from the manifest: table bundle_endpoints",
        ),
        "manifest": (
            lambda c: c.execute(
                "UPDATE bundle_manifest SET manifest = "
                'CAST(replace(CAST(manifest AS TEXT), \'"made_by":"ada"\', '
                '\'"made_by":"aud"\') AS BLOB)'
            ),
            "the manifest was edited after it was signed",
        ),
        "signature": (
            lambda c: c.execute("UPDATE bundle_manifest SET signature = zeroblob(64)"),
            "the signature does not verify with ada's key",
        ),
    }
    for name, (edit, named) in cases.items():
        bad = _tampered(audit, name, edit)
        found = verify_bundle(bad)
        assert not found.ok, name
        assert any(named in p.message for p in found.problems), (name, found.problems)
        proc = gavel(audit.ada.home, "bundle", "verify", str(bad))
        assert proc.returncode == 1 and named in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
    # Each tampered bundle named only what was touched (the ledger edit also breaks its chain).
    endpoints = verify_bundle(audit.tmp / "endpoint-definitions.gavelbundle")
    assert endpoints.failed_parts() == {BundlePart.ENDPOINT_DEFS} and endpoints.trusted
    snapshot = verify_bundle(audit.tmp / "snapshot-row.gavelbundle")
    assert snapshot.failed_parts() == {BundlePart.SNAPSHOT} and snapshot.trusted
    ledger = verify_bundle(audit.tmp / "ledger-event.gavelbundle")
    assert ledger.failed_parts() == {BundlePart.LEDGER}
    assert any("event 2" in p.message.lower() for p in ledger.problems), ledger.problems


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_bundle_create_reports_progress_cancels_cleanly_and_refuses_bad_input(
    audit: Audit,
) -> None:
    seen: list[Progress] = []
    token = CancelToken()

    def watch(p: Progress) -> None:
        seen.append(p)
        if p.phase.startswith("Copying the audit ledger"):
            token.cancel()

    out = audit.tmp / "cancelled.gavelbundle"
    with pytest.raises(Cancelled):
        audit.ada.ctx.bundles.create(out, BundleScope(), audit.ada.passphrase, watch, token)
    assert seen and not out.exists()
    assert not list(audit.tmp.glob("cancelled.gavelbundle*"))
    with pytest.raises(BundleError, match="no registry named nope"):
        audit.ada.ctx.bundles.create(out, BundleScope(("nope",)), audit.ada.passphrase)
    with pytest.raises(BundleError, match="YYYY-MM-DD"):
        audit.ada.ctx.bundles.create(out, BundleScope(since="last week"), audit.ada.passphrase)
    # A scoped bundle holds only that model's rows.
    scoped = audit.tmp / "scoped.gavelbundle"
    summary = audit.ada.ctx.bundles.create(
        scoped, BundleScope(("reg",), (audit.model,)), audit.ada.passphrase
    )
    assert summary.counts["models"] == 1 and summary.counts["versions"] == 3
    assert verify_bundle(scoped).ok
    with bundle_file.unpacked(scoped) as plain, closing(sqlite3.connect(plain)) as conn:
        assert conn.execute("SELECT name FROM models").fetchall() == [(audit.model,)]
    # The same from the command line, signed with the passphrase from the environment.
    cli = audit.tmp / "cli.gavelbundle"
    proc = gavel(
        audit.ada.home, "bundle", "create", "--out", str(cli), "--model", audit.model,
        "--passphrase-env", "PP", "--json", env=audit.ada.env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert made["counts"]["models"] == 1 and made["bytes"] == cli.stat().st_size
    assert verify_bundle(cli).ok
    bad = gavel(
        audit.ada.home, "bundle", "create", "--out", str(cli), "--since", "soon",
        "--passphrase-env", "PP", env=audit.ada.env(),
    )  # fmt: skip
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr
    assert verify_bundle(cli).ok  # a refused create leaves the earlier bundle as it was


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_tampered_bundle_opens_no_session(audit: Audit, tmp_path: Path) -> None:
    bad = _tampered(
        audit, "for-session", lambda c: c.execute("UPDATE models SET owner = 'mallory'")
    )
    before = bad.read_bytes()
    with pytest.raises(BundleError, match="does not verify, so nothing of it was opened"):
        build_session_context(bad, _fresh_profile(tmp_path / "auditor", "aud"))
    assert bad.read_bytes() == before


def _fresh_profile(home: Path, user: str) -> AppPaths:
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(user_id=user))
    return paths


def test_findings_from_an_audit_session_enter_the_team_ledger_once(
    audit: Audit, tmp_path: Path
) -> None:
    """Runs on a shared SQLite ledger and on the real PostgreSQL."""
    # The auditor's laptop: a fresh profile, no registry, no team ledger; the bundle.
    laptop = audit.aud.home
    session = build_session_context(
        audit.bundle, resolve_paths({"GAVEL_HOME": str(laptop)}), audit.aud.credentials()
    )
    try:
        assert session.session is not None and session.team_ledger is None
        assert session.registries.configs() == []
        # The session's ledger is read-only: nothing can be decided or recorded in it.
        with pytest.raises(GavelError, match="audit session over a bundle"):
            session.audit.record("aud", LedgerAction.REGISTRY_CHANGE_OBSERVED, "registry:reg")
        head = session.audit.store.head()
        assert head is not None
        (event,) = session.audit.store.get([2])
        signed = [
            session.findings.record(
                about(FindingSubject.VERSION, registry="reg", model=audit.model, version=2),
                Severity.MINOR,
                "Version 2 has no validation report.",
                audit.aud.passphrase,
            ),
            session.findings.record(
                about(FindingSubject.EVENT, seq=event.seq, event_hash=event.hash),
                Severity.OBSERVATION,
                "Key enrolled before the policy was written.",
                audit.aud.passphrase,
            ),
        ]
    finally:
        session.close()
    # Nothing of the session is left but the findings, in the auditor's own profile.
    out = tmp_path / "findings.jsonl"
    proc = gavel(laptop, "findings", "export", "--out", str(out), env=audit.aud.env())
    assert proc.returncode == 0, proc.stderr
    assert [f.document["id"] for f in read_findings(out)] == [s.document["id"] for s in signed]
    # Back at the office, the auditor imports them into the team ledger, twice.
    first = gavel(
        audit.aud.home, "findings", "import", str(out), "--passphrase-env", "PP",
        env=audit.aud.env(),
    )  # fmt: skip
    assert first.returncode == 0 and "2 finding(s) added" in first.stdout, first.stderr
    before = audit.ada.reopen().audit.store.head()
    again = gavel(
        audit.aud.home, "findings", "import", str(out), "--passphrase-env", "PP",
        env=audit.aud.env(),
    )  # fmt: skip
    assert again.returncode == 0 and "0 finding(s) added to the ledger, 2 already" in again.stdout
    assert audit.ada.reopen().audit.store.head() == before
    found = {f.finding_id: f for f in audit.ada.ctx.findings.findings()}
    assert set(found) == {s.document["id"] for s in signed}
    assert all(f.open and f.auditor == "aud" for f in found.values())


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_every_read_model_of_a_session_matches_the_live_profile(
    audit: Audit, tmp_path: Path, seeded_registry: MlflowRegistry
) -> None:
    live = audit.ada.reopen()
    laptop = _fresh_profile(tmp_path / "laptop", "aud")
    session = build_session_context(audit.bundle, laptop, audit.aud.credentials())
    try:
        assert session.portfolio.all_rows() == live.portfolio.all_rows()
        for name in (audit.model, "credit-default-scorer"):
            here, there = (
                live.portfolio.find_model(name, "reg"),
                session.portfolio.find_model(name, "reg"),
            )
            assert there == here
            assert session.performance.model_metrics(there.model_key) == (
                live.performance.model_metrics(here.model_key)
            )
            for v in (1, 2):
                assert session.lineage.lineage("reg", name, v) == live.lineage.lineage(
                    "reg", name, v
                )
        assert session.observer.violations() == live.observer.violations()
        # The managers' Overview reads the bundle as it reads the live profile (every
        # figure but "endpoints down", which only a poller of this session could tell).
        here, there = live.overview.overview(), session.overview.overview()
        assert there.models == here.models > 0
        assert {f.key: f.value for f in there.figures if f.key != "endpoints.down"} == {
            f.key: f.value for f in here.figures if f.key != "endpoints.down"
        }
        assert there.teams == here.teams
        assert session.audit.alias_history("reg", audit.model, "production") == (
            live.audit.alias_history("reg", audit.model, "production")
        )
        assert session.audit.verify().ok
        # Nothing reaches the network, even a registry the auditor adds and syncs.
        cfg = seeded_registry.config("again")
        with pytest.raises(GavelError, match="contacts no registry"):
            session.registries.test_connection(cfg, None)
        session.registries.add(cfg)
        with pytest.raises(GavelError, match="contacts no registry"):
            session.sync.sync("again")
        assert session.authority.read(lambda s: sorted(s.identities())) == live.authority.read(
            lambda s: sorted(s.identities())
        )
    finally:
        session.close()


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_findings_record_and_resolve_from_the_command_line(audit: Audit, tmp_path: Path) -> None:
    ada, aud, model = audit.ada, audit.aud, audit.model
    rid = ada.ctx.governance.create_request(
        "reg", model, 2, "production", "Better recall.", CHECKLIST, passphrase=ada.passphrase
    ).request_id

    def record(desk: Desk, *args: str) -> dict[str, object]:
        proc = gavel(
            desk.home, "findings", "record", *args, "--passphrase-env", "PP", "--json",
            env=desk.env(),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        out: dict[str, object] = json.loads(proc.stdout)
        return out

    # Ada's desk holds the registry snapshot: findings about a model and a version.
    on_version = record(ada, "--severity", "major", "--model", model, "--version", "2",
                        "--note", "No validation report for v2.")  # fmt: skip
    assert on_version["about"] == {"kind": "version", "registry": "reg", "model": model,
                                   "version": 2}  # fmt: skip
    on_model = record(ada, "--severity", "minor", "--model", model, "--note", "No owner team.")
    assert on_model["about"] == {"kind": "model", "registry": "reg", "model": model}
    # The auditor's desk: a request (by the start of its id) and a ledger event.
    on_request = record(aud, "--severity", "observation", "--request", rid[:8],
                        "--note", "Justification is one sentence.")  # fmt: skip
    assert on_request["about"] == {"kind": "request", "registry": "reg", "model": model,
                                   "version": 2, "request_id": rid}  # fmt: skip
    (event,) = aud.ctx.audit.store.get([2])
    on_event = record(aud, "--severity", "minor", "--event", "2", "--note", "Enrolled late.")
    assert on_event["about"] == {"kind": "event", "seq": 2, "hash": event.hash}

    # Bad input: one sentence, exit 2, nothing signed.
    kept = len(ada.ctx.findings.pending()), len(aud.ctx.findings.pending())
    bad = {
        ("--model", model, "--event", "2"): "A finding is about one thing",
        ("--event", "99999"): "has no event 99999",
        ("--model", model, "--version", "99"): "has no version 99",
        ("--version", "2"): "give --model too",
        ("--request", "nope"): "There is no promotion request 'nope'",
    }
    for args, said in bad.items():
        desk = ada if "--model" in args else aud
        proc = gavel(desk.home, "findings", "record", "--severity", "minor", *args,
                     "--note", "x", "--passphrase-env", "PP", env=desk.env())  # fmt: skip
        assert said in assert_one_line_error(proc, 2), (args, proc.stderr)
    assert (len(ada.ctx.findings.pending()), len(aud.ctx.findings.pending())) == kept

    # Into the ledger, then Ada (admin) resolves one, signed; twice is refused.
    for desk in (ada, aud):
        out = tmp_path / f"{desk.user}.jsonl"
        assert gavel(desk.home, "findings", "export", "--out", str(out)).returncode == 0
        imported = gavel(desk.home, "findings", "import", str(out), "--passphrase-env", "PP",
                         env=desk.env())  # fmt: skip
        assert imported.returncode == 0, imported.stderr
    fid = str(on_version["id"])
    done = gavel(ada.home, "findings", "resolve", fid[:8], "--resolution", "VR-7 attached.",
                 "--passphrase-env", "PP", env=ada.env())  # fmt: skip
    assert done.returncode == 0 and f"Resolved finding {fid[:8]}" in done.stdout, done.stderr
    found = {f.finding_id: f for f in ada.reopen().findings.findings()}
    assert len(found) == 4
    assert not found[fid].open and found[fid].resolved_by == "ada"
    assert found[fid].resolution == "VR-7 attached."
    again = gavel(ada.home, "findings", "resolve", fid[:8], "--resolution", "again",
                  "--passphrase-env", "PP", env=ada.env())  # fmt: skip
    assert "already resolved by ada" in assert_one_line_error(again, 2)
    # An auditor resolves nothing: the ledger's fold refuses, in a sentence.
    other = str(on_event["id"])
    refused = gavel(aud.home, "findings", "resolve", other[:8], "--resolution", "fine",
                    "--passphrase-env", "PP", env=aud.env())  # fmt: skip
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert {f.finding_id: f for f in aud.reopen().findings.findings()}[other].open


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_bundle_is_compressed_without_indexes_and_a_session_rebuilds_them(
    audit: Audit, tmp_path: Path
) -> None:
    raw = audit.bundle.read_bytes()
    assert raw.startswith(bundle_file.PACKED_MAGIC)
    plain = tmp_path / "plain.sqlite3"
    bundle_file.unpack(audit.bundle, plain)
    assert len(raw) < plain.stat().st_size / 3  # deflate on ledger JSON and the snapshot

    def indexes(path: Path) -> set[str]:
        with closing(sqlite3.connect(path)) as conn:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
            return {r[0] for r in rows}

    assert indexes(plain) == set()
    # The session's copies have the indexes every query of the console relies on.
    live = audit.ada.ctx.paths
    session = build_session_context(audit.bundle, _fresh_profile(tmp_path / "l", "aud"))
    try:
        assert indexes(live.cache_db) <= indexes(session.paths.cache_db)
        assert indexes(live.ledger_db) <= indexes(session.paths.ledger_db)
        assert "ix_ledger_events_subject_seq" in indexes(session.paths.ledger_db)
    finally:
        session.close()
    # A cut-short or foreign file is refused in one sentence.
    cut = tmp_path / "cut.gavelbundle"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BundleError, match="is cut short"):
        verify_bundle(cut)
    other = tmp_path / "other.gavelbundle"
    other.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(BundleError, match="is not an audit bundle"):
        verify_bundle(other)


@pytest.mark.parametrize("shared_ledger_url", ["sqlite"], indirect=True)
def test_a_bundle_of_the_first_format_still_verifies_and_opens(
    audit: Audit, tmp_path: Path
) -> None:
    """gavel-bundle/1 (made before endpoint definitions were bundled) is what auditors
    received until this format: it verifies and opens, with no endpoints; a format this
    Gavel does not know is named, not guessed at."""
    signer = audit.ada.ctx.actor.signer(audit.ada.passphrase)

    def as_first_format(conn: sqlite3.Connection) -> None:
        raw, _sha, _sig, key_id = bundle_file.read_manifest(conn) or (b"", "", b"", "")
        manifest = json.loads(raw)
        assert manifest["format"] == "gavel-bundle/2"
        manifest["format"] = "gavel-bundle/1"
        del manifest["parts"][BundlePart.ENDPOINT_DEFS.value]
        conn.execute("DROP TABLE bundle_endpoints")
        conn.execute("DELETE FROM bundle_manifest")
        again = manifest_bytes(manifest)
        bundle_file.write_manifest(conn, again, signer.sign(hashlib.sha256(again).digest()), key_id)

    old = _tampered(audit, "first-format", as_first_format)
    report = verify_bundle(old)
    assert report.ok, report.problems
    session = build_session_context(
        old, _fresh_profile(tmp_path / "old", "aud"), audit.aud.credentials()
    )
    try:
        assert session.endpoints.configs() == []
        assert session.portfolio.find_model(audit.model, "reg") is not None
    finally:
        session.close()

    def as_future_format(conn: sqlite3.Connection) -> None:
        raw, _sha, _sig, key_id = bundle_file.read_manifest(conn) or (b"", "", b"", "")
        manifest = {**json.loads(raw), "format": "gavel-bundle/9"}
        conn.execute("DELETE FROM bundle_manifest")
        again = manifest_bytes(manifest)
        bundle_file.write_manifest(conn, again, signer.sign(hashlib.sha256(again).digest()), key_id)

    future = verify_bundle(_tampered(audit, "future-format", as_future_format))
    assert not future.ok
    assert "'gavel-bundle/9' is not one this Gavel reads" in future.problems[0].message
