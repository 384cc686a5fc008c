"""Audit ledger: canonical form, chain, triggers, tamper detection, signatures, export, replica.

Store-level tests run on SQLite and on the real PostgreSQL (the `ledger_db` fixture
is parametrized). These exercise the hash chain and signatures, so they append
straight to the store; the authority rules are test_authority.py's. Tampering tests
drop the triggers first, as an attacker with database access would, and check that
verify() names the first bad event.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import rfc8785
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, UsageError
from app.domain.ledger import (
    GENESIS_HASH,
    KEY_ACTIONS,
    Checkpoint,
    ExportFailed,
    LedgerAction,
    LedgerDraft,
    LedgerError,
    LedgerEvent,
    LedgerTampered,
    ProblemKind,
    StoredRow,
    body_hash,
    canonical_body,
    chain_tail,
    to_epoch_us,
)
from app.domain.ledger_keys import key_enrollment, key_subject
from app.domain.ledger_query import (
    AliasMove,
    LedgerQuery,
    alias_payload,
    holder_at,
    model_subject,
)
from app.domain.ledger_verify import verify_bodies, verify_rows
from app.domain.progress import Progress
from app.services.audit import AuditService
from app.services.authority import AuthorityLedger
from app.services.ledger_export import verify_export
from app.services.signature_pool import SpeculativeVerifier
from app.services.signing import Ed25519Signer, Ed25519Verifier, MemoVerifier
from app.stores.engine import Database
from app.stores.ledger_store import DEFAULT_CHUNK, LedgerStore
from app.stores.migrate import LEDGER_SCHEMA, alembic_config

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SUBJECT = model_subject("prod", "fraud")

VECTOR_BODY = (
    '{"event":{"action":"request.approved","actor":"alice","after":{"alias":"champion",'
    '"auc":0.9125,"ratio":1e+21,"version":4},"before":{"alias":"champion","version":3},'
    '"reason":"Four-eyes review done; AUC ≥ baseline \\"ok\\"","subject":"model:prod/fraud",'
    '"ts":"2026-11-27T10:15:30.123456Z"},"format":1,'
    '"prev":"0000000000000000000000000000000000000000000000000000000000000000",'
    '"seq":1,"signer":null}'
).encode()
VECTOR_HASH = "1b4891f3a6fe41c50ab29fb2da1e03196290164967e2b6669a5c6e4552c5a253"


def _clock(start: datetime = T0) -> Callable[[], datetime]:
    ticks = itertools.count()
    return lambda: start + timedelta(seconds=next(ticks))


@pytest.fixture
def store(ledger_db: Database) -> LedgerStore:
    return LedgerStore(ledger_db, clock=_clock())


@pytest.fixture
def audit(store: LedgerStore) -> AuditService:
    return AuditService(store)


def _record(
    audit: AuditService,
    actor: str,
    action: LedgerAction,
    subject: str,
    before: object = None,
    after: object = None,
    reason: str = "",
    signer: Ed25519Signer | None = None,
) -> LedgerEvent:
    """Straight into the store: these tests are about the chain and signatures; whether
    an actor had the authority is the fold's question (test_authority.py)."""
    draft = LedgerDraft(actor, str(action), subject, before, after, reason)  # type: ignore[arg-type]
    return audit.store.append(draft, signer)


def _enrol(audit: AuditService, actor: str, key: Ed25519Signer) -> LedgerEvent:
    return audit.store.append(
        LedgerDraft(
            actor,
            LedgerAction.KEY_ENROLLED.value,
            key_subject(key.key_id),
            after=key_enrollment(key.public_key, actor),
            reason=f"{actor}'s officer key",
        ),
        key,
    )


def _fill(audit: AuditService, n: int) -> list[LedgerEvent]:
    actions = [
        LedgerAction.ALIAS_OBSERVED,
        LedgerAction.REGISTRY_CHANGE_OBSERVED,
        LedgerAction.EXPORT_MADE,
    ]
    return [
        _record(
            audit,
            actor=["alice", "bob"][i % 2],
            action=actions[i % 3],
            subject=SUBJECT if i % 2 == 0 else model_subject("prod", "churn"),
            before={"n": i - 1},
            after={"n": i, "score": i / 8},
            reason=f"event {i + 1}",
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------ canonical form


def test_canonical_body_matches_the_known_vector() -> None:
    draft = LedgerDraft(
        "alice",
        "request.approved",
        SUBJECT,
        before={"alias": "champion", "version": 3},
        after={"alias": "champion", "version": 4, "auc": 0.9125, "ratio": 1e21},
        reason='Four-eyes review done; AUC ≥ baseline "ok"',
    )
    at = datetime(2026, 11, 27, 10, 15, 30, 123456, tzinfo=UTC)
    body = canonical_body(seq=1, at=at, draft=draft, prev_hash=GENESIS_HASH)
    assert body == VECTOR_BODY
    assert body_hash(body) == VECTOR_HASH == hashlib.sha256(VECTOR_BODY).hexdigest()
    # The canonical form is a fixed point of JCS, and the link sits at the end.
    assert rfc8785.dumps(json.loads(body)) == body
    assert body.endswith(chain_tail(GENESIS_HASH, 1, None))


def test_the_same_instant_in_another_zone_gives_the_same_body() -> None:
    draft = LedgerDraft("alice", "comment.added", SUBJECT)
    paris = datetime(2026, 11, 27, 11, 15, 30, 123456, tzinfo=timezone(timedelta(hours=1)))
    utc = datetime(2026, 11, 27, 10, 15, 30, 123456, tzinfo=UTC)
    make = lambda at: canonical_body(seq=3, at=at, draft=draft, prev_hash="a" * 64)  # noqa: E731
    assert make(paris) == make(utc)


@pytest.mark.parametrize(
    ("value", "match"),
    [(float("nan"), "NaN"), (2**60, "2\\*\\*53"), ({1: "x"}, "JSON values")],
)
def test_values_without_a_canonical_form_are_refused(value: object, match: str) -> None:
    draft = LedgerDraft("alice", "comment.added", SUBJECT, after={"v": value})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match=match):
        canonical_body(seq=1, at=T0, draft=draft, prev_hash=GENESIS_HASH)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"actor": "", "action": "comment.added", "subject": SUBJECT},
        {"actor": "alice", "action": "Comment Added", "subject": SUBJECT},
        {"actor": "alice", "action": "comment.added", "subject": ""},
    ],
)
def test_drafts_are_validated(kwargs: dict[str, str]) -> None:
    with pytest.raises(UsageError):
        LedgerDraft(**kwargs)


def test_checkpoint_round_trips_and_rejects_garbage() -> None:
    cp = Checkpoint.parse(f" 12:{'AB' * 32} ")
    assert cp == Checkpoint(12, "ab" * 32)
    assert Checkpoint.parse(str(cp)) == cp
    for bad in ("12", "x:" + "a" * 64, "12:abc", "-1:" + "a" * 64):
        with pytest.raises(UsageError):
            Checkpoint.parse(bad)


def test_holder_at_follows_ledger_order() -> None:
    def move(seq: int, minutes: int, version: int | None) -> AliasMove:
        at = T0 + timedelta(minutes=minutes)
        return AliasMove(seq, at, "sync", "alias.observed", "champion", None, version)

    moves = [move(1, 0, 3), move(2, 10, 4), move(3, 20, None)]
    assert holder_at(moves, T0 - timedelta(minutes=1)) is None
    assert holder_at(moves, T0 + timedelta(minutes=5)) == 3
    assert holder_at(moves, T0 + timedelta(minutes=10)) == 4
    assert holder_at(moves, T0 + timedelta(hours=1)) is None


# ------------------------------------------------------------------ both verification paths


def _memory_ledger(n: int = 8) -> list[StoredRow]:
    """A small ledger in memory: a key enrolled (self-signed) at 2, a signed approval at 5."""
    key = Ed25519Signer.generate()
    rows: list[StoredRow] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        signer: str | None = None
        if seq == 2:
            after = key_enrollment(key.public_key, "alice")
            draft = LedgerDraft("alice", "key.enrolled", f"key:{key.key_id}", after=after)
            signer = key.key_id
        elif seq == 5:
            draft = LedgerDraft("alice", "request.approved", SUBJECT)
            signer = key.key_id
        else:
            draft = LedgerDraft("bob", "comment.added", SUBJECT, reason=f"note {seq}")
        body = canonical_body(
            seq=seq, at=T0 + timedelta(seconds=seq), draft=draft, prev_hash=prev, signer=signer
        )
        prev = body_hash(body)
        signature = key.sign(bytes.fromhex(prev)) if signer else None
        rows.append((seq, body, prev, signer, signature, draft.action))
    return rows


def _renumbered(rows: list[StoredRow]) -> list[StoredRow]:
    """Rows as a database returns them after rows moved: seq columns stay in order."""
    return [(i, *row[1:]) for i, row in enumerate(rows, 1)]


def _tamper(name: str, rows: list[StoredRow]) -> list[StoredRow]:
    r = list(rows)
    if name == "edit":
        r[3] = (4, r[3][1].replace(b"note 4", b"note X"), *r[3][2:])
    elif name == "delete":
        del r[5]
    elif name == "swap":
        r[2], r[3] = r[3], r[2]
        r = _renumbered(r)
    elif name == "forge":
        forged = Ed25519Signer.generate().sign(bytes.fromhex(r[4][2]))
        r[4] = (*r[4][:4], forged, r[4][5])
    elif name == "strip":
        r[4] = (*r[4][:3], None, None, r[4][5])
    return r


@pytest.mark.parametrize(
    ("tamper", "seq", "full_kind"),
    [
        ("none", 0, None),
        ("edit", 4, ProblemKind.EDITED),
        ("delete", 6, ProblemKind.MISSING),
        ("swap", 3, ProblemKind.REORDERED),
        ("forge", 5, ProblemKind.BAD_SIGNATURE),
        ("strip", 5, ProblemKind.BAD_SIGNATURE),
    ],
)
def test_fast_and_full_paths_agree_on_where(
    tamper: str, seq: int, full_kind: ProblemKind | None
) -> None:
    rows = _tamper(tamper, _memory_ledger())
    full = verify_rows([rows], Ed25519Verifier())
    key_seqs = [r[0] for r in rows if r[5] in KEY_ACTIONS]
    bodies = [(r[1], r[2], r[4]) for r in rows]
    # Chunks of 3 put key and signed events on both sides of chunk boundaries.
    chunks = [bodies[i : i + 3] for i in range(0, len(bodies), 3)]
    fast = verify_bodies(chunks, key_seqs, Ed25519Verifier())
    if full_kind is None:
        assert full.ok and fast.ok
        assert full.head == fast.head and full.signatures_checked == fast.signatures_checked == 2
        return
    assert full.problem is not None and fast.problem is not None
    assert (full.problem.kind, full.problem.seq) == (full_kind, seq)
    assert fast.problem.seq == seq
    if tamper == "forge":
        # A bad signature spoils one event, not the chain: verification goes on to the end.
        assert not full.chain_broken and not fast.chain_broken
        assert fast.events_checked == full.events_checked == len(rows)
    else:
        assert full.chain_broken and fast.chain_broken
        assert fast.events_checked == full.events_checked == seq - 1


# ------------------------------------------------------------------ chain and queries


def test_appends_form_a_gapless_chain_that_verifies(
    audit: AuditService, store: LedgerStore
) -> None:
    events = _fill(audit, 30)
    assert [e.seq for e in events] == list(range(1, 31))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert store.head() == events[-1].checkpoint
    seen: list[Progress] = []
    report = audit.verify(progress=seen.append)
    assert report.ok, report.describe()
    assert (report.events_checked, report.head) == (30, events[-1].checkpoint)
    assert seen[-1].done == 30
    assert audit.verify(checkpoint=events[9].checkpoint).ok
    # Reading back gives exactly what append returned.
    assert audit.events([1, 30]) == [events[0], events[-1]]


def test_queries_filter_in_sql(audit: AuditService) -> None:
    _fill(audit, 12)
    assert audit.count() == 12
    assert audit.count(LedgerQuery(subject=SUBJECT)) == 6
    assert audit.count(LedgerQuery(subject_prefix="model:prod/")) == 12
    assert audit.count(LedgerQuery(subject_prefix="model:prod_")) == 0  # '_' is not a wildcard
    assert audit.seqs(LedgerQuery(actor="bob")) == [2, 4, 6, 8, 10, 12]
    assert audit.seqs(LedgerQuery(actions=(LedgerAction.EXPORT_MADE,))) == [3, 6, 9, 12]
    window = LedgerQuery(since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4))
    assert audit.seqs(window) == [3, 4, 5]
    page = audit.page(LedgerQuery(from_seq=5, to_seq=9, actor="alice"), limit=2)
    assert [e.seq for e in page] == [5, 7]
    newest = audit.page(limit=3, descending=True)
    assert [e.seq for e in newest] == [12, 11, 10]
    assert newest[0].after == {"n": 11, "score": 1.375}


def test_alias_history_and_holder_at(ledger_db: Database) -> None:
    audit = AuditService(LedgerStore(ledger_db, clock=_clock()))
    fraud, churn = model_subject("prod", "fraud"), model_subject("prod", "churn")

    def moved(subject: str, alias: str, before: int | None, after: int | None) -> None:
        _record(
            audit,
            "sync",
            LedgerAction.ALIAS_OBSERVED,
            subject,
            alias_payload(alias, before),
            alias_payload(alias, after),
        )

    moved(fraud, "champion", None, 1)  # T0
    moved(churn, "champion", None, 7)  # T0 + 1s
    moved(fraud, "challenger", None, 2)  # T0 + 2s
    _record(
        audit,  # T0 + 3s
        "alice",
        LedgerAction.PROMOTION_APPLIED,
        fraud,
        alias_payload("champion", 1),
        alias_payload("champion", 2) | {"request": 17},
    )
    moved(fraud, "champion", 2, None)  # T0 + 4s

    history = audit.alias_history("prod", "fraud", "champion")
    assert [(m.seq, m.before, m.after, m.action) for m in history] == [
        (1, None, 1, "alias.observed"),
        (4, 1, 2, "promotion.applied"),
        (5, 2, None, "alias.observed"),
    ]
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    assert audit.holder_at("prod", "fraud", "champion", at(-1)) is None
    assert audit.holder_at("prod", "fraud", "champion", at(2.5)) == 1
    assert audit.holder_at("prod", "fraud", "champion", at(3)) == 2
    assert audit.holder_at("prod", "fraud", "champion", at(10)) is None
    assert audit.holder_at("prod", "churn", "champion", at(10)) == 7


def test_verify_can_be_cancelled(audit: AuditService, store: LedgerStore) -> None:
    _fill(audit, 3)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        audit.verify(cancel=cancel)


# ------------------------------------------------------------------ triggers


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_events SET at_us = 1",
        "UPDATE ledger_events SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM ledger_events WHERE seq = 3",
        "DELETE FROM ledger_events",
        "DELETE FROM ledger_head",
        "UPDATE ledger_head SET seq = 1",
        "UPDATE ledger_head SET hash = '" + "f" * 64 + "'",
    ],
)
def test_triggers_refuse_changes(audit: AuditService, ledger_db: Database, statement: str) -> None:
    _fill(audit, 4)
    with pytest.raises(IntegrityError, match="append-only"), ledger_db.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert audit.verify().ok
    assert audit.count() == 4


@pytest.mark.integration
def test_truncate_is_refused_on_postgresql(make_ledger_db: Callable[[str], Database]) -> None:
    ledger_db = make_ledger_db("postgresql")
    _record(AuditService(LedgerStore(ledger_db)), "alice", LedgerAction.ALIAS_OBSERVED, SUBJECT)
    for table in ("ledger_events", "ledger_head"):
        with pytest.raises(IntegrityError, match="append-only"), ledger_db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table}")


def test_migration_downgrades_and_upgrades_cleanly(ledger_db: Database) -> None:
    from alembic import command

    cfg = alembic_config(LEDGER_SCHEMA)
    with ledger_db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with ledger_db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _record(AuditService(LedgerStore(ledger_db)), "alice", LedgerAction.ALIAS_OBSERVED, SUBJECT)
    with pytest.raises(IntegrityError, match="append-only"), ledger_db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM ledger_events")


# ------------------------------------------------------------------ tampering


def _drop_triggers(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for name in (
                "ledger_events_no_update",
                "ledger_events_no_delete",
                "ledger_head_forward_only",
                "ledger_head_no_delete",
            ):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            for name, table in (
                ("ledger_events_append_only", "ledger_events"),
                ("ledger_head_forward_only", "ledger_head"),
            ):
                conn.exec_driver_sql(f"DROP TRIGGER {name} ON {table}")


def _sql(db: Database, statement: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _insert_raw(db: Database, seq: int, body: bytes) -> None:
    doc = json.loads(body)
    _sql(
        db,
        "INSERT INTO ledger_events (seq, body, hash, signer, signature, at_us, actor, action,"
        " subject) VALUES (:seq, :body, :hash, NULL, NULL, 0, :actor, :action, :subject)",
        seq=seq,
        body=body,
        hash=body_hash(body),
        actor=doc["event"]["actor"],
        action=doc["event"]["action"],
        subject=doc["event"]["subject"],
    )


def _forged_body(seq: int, prev: str, reason: str = "forged") -> bytes:
    draft = LedgerDraft("mallory", "request.approved", SUBJECT, reason=reason)
    return canonical_body(seq=seq, at=T0, draft=draft, prev_hash=prev)


def _move_head(db: Database, event: LedgerEvent) -> None:
    _sql(db, "UPDATE ledger_head SET seq = :s, hash = :h", s=event.seq, h=event.hash)


def test_edited_payload_is_named_and_the_first_edit_wins(
    audit: AuditService, ledger_db: Database
) -> None:
    _fill(audit, 10)
    _drop_triggers(ledger_db)
    for seq in (7, 4):
        row_body = audit.events([seq])[0]
        tampered = canonical_body(
            seq=seq,
            at=row_body.at,
            draft=LedgerDraft(row_body.actor, row_body.action, row_body.subject, reason="nicer"),
            prev_hash=row_body.prev_hash,
        )
        _sql(ledger_db, "UPDATE ledger_events SET body = :b WHERE seq = :s", b=tampered, s=seq)
    report = audit.verify()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == (ProblemKind.EDITED, 4)
    assert "Event 4 was altered" in report.problem.message
    assert report.head is not None and report.head.seq == 3


def test_deleted_event_is_missing(audit: AuditService, ledger_db: Database) -> None:
    _fill(audit, 10)
    _drop_triggers(ledger_db)
    _sql(ledger_db, "DELETE FROM ledger_events WHERE seq = 6")
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.MISSING, 6)
    assert problem.message == "Event 6 is missing: the ledger goes from event 5 to event 7."


def test_forged_event_appended_without_the_chain_is_inserted(
    audit: AuditService, ledger_db: Database
) -> None:
    _fill(audit, 5)
    _drop_triggers(ledger_db)
    _insert_raw(ledger_db, 6, _forged_body(6, prev="e" * 64))
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.INSERTED, 6)


def test_event_inserted_mid_chain_is_named(audit: AuditService, ledger_db: Database) -> None:
    events = _fill(audit, 8)
    _drop_triggers(ledger_db)
    # Make room at 5 (two steps: PostgreSQL checks the primary key row by row).
    _sql(ledger_db, "UPDATE ledger_events SET seq = -seq WHERE seq >= 5")
    _sql(ledger_db, "UPDATE ledger_events SET seq = 1 - seq WHERE seq < 0")
    # A well-formed event that links correctly to event 4.
    _insert_raw(ledger_db, 5, _forged_body(5, prev=events[3].hash))
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.INSERTED, 5)


def test_swapped_events_are_reordered(audit: AuditService, ledger_db: Database) -> None:
    _fill(audit, 8)
    _drop_triggers(ledger_db)
    _sql(ledger_db, "UPDATE ledger_events SET seq = -1 WHERE seq = 3")
    _sql(ledger_db, "UPDATE ledger_events SET seq = 3 WHERE seq = 4")
    _sql(ledger_db, "UPDATE ledger_events SET seq = 4 WHERE seq = -1")
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.REORDERED, 3)
    assert "holds the recorded event 4" in problem.message


def test_cut_tail_is_caught_by_the_head_record(audit: AuditService, ledger_db: Database) -> None:
    _fill(audit, 8)
    _drop_triggers(ledger_db)
    _sql(ledger_db, "DELETE FROM ledger_events WHERE seq > 6")
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.TRUNCATED, 7)
    # Appending would hide the cut behind a fresh head: refused.
    with pytest.raises(LedgerTampered, match="altered outside Gavel"):
        _record(audit, "alice", LedgerAction.ALIAS_OBSERVED, SUBJECT)


def test_cut_tail_with_head_rewound_is_caught_by_a_checkpoint(
    audit: AuditService, ledger_db: Database
) -> None:
    events = _fill(audit, 8)
    kept = audit.verify().head
    assert kept == events[-1].checkpoint
    _drop_triggers(ledger_db)
    _sql(ledger_db, "DELETE FROM ledger_events WHERE seq > 5")
    _move_head(ledger_db, events[4])
    assert audit.verify().ok  # without an outside anchor, a clean cut is invisible
    problem = audit.verify(checkpoint=Checkpoint.parse(str(kept))).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.TRUNCATED, 6)
    assert "earlier audit saw it reach event 8" in problem.message


def test_consistently_rewritten_history_is_caught_by_a_checkpoint(
    audit: AuditService, ledger_db: Database
) -> None:
    events = _fill(audit, 8)
    kept = events[5].checkpoint
    _drop_triggers(ledger_db)
    # Rewrite event 4 and re-chain everything after it: the chain itself is valid.
    _sql(ledger_db, "DELETE FROM ledger_events WHERE seq >= 4")
    prev = events[2].hash
    for seq in range(4, 9):
        body = _forged_body(seq, prev, reason=f"rewritten {seq}")
        _insert_raw(ledger_db, seq, body)
        prev = body_hash(body)
    _sql(ledger_db, "UPDATE ledger_head SET seq = 8, hash = :h", h=prev)
    assert audit.verify().ok
    problem = audit.verify(checkpoint=kept).problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.CHECKPOINT_MISMATCH, 6)


def test_rehashed_last_event_is_caught_by_the_head_record(
    audit: AuditService, ledger_db: Database
) -> None:
    events = _fill(audit, 4)
    _drop_triggers(ledger_db)
    body = _forged_body(4, events[2].hash)
    _sql(
        ledger_db,
        "UPDATE ledger_events SET body = :b, hash = :h WHERE seq = 4",
        b=body,
        h=body_hash(body),
    )
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.EDITED, 4)


# ------------------------------------------------------------------ signatures


@pytest.fixture
def alice_key(audit: AuditService) -> Ed25519Signer:
    key = Ed25519Signer.generate()
    _enrol(audit, "alice", key)
    return key


def test_signed_events_verify_offline_from_the_ledger(
    audit: AuditService, alice_key: Ed25519Signer
) -> None:
    signed = _record(
        audit, "alice", LedgerAction.EXPORT_MADE, SUBJECT, reason="ok", signer=alice_key
    )
    assert signed.signer == alice_key.key_id and signed.signature is not None
    report = audit.verify()
    assert report.ok, report.describe()
    assert report.signatures_checked == 2  # the self-signed enrolment and the approval


def test_signing_is_refused_for_unknown_foreign_or_revoked_keys(
    audit: AuditService, alice_key: Ed25519Signer
) -> None:
    # record() signs only what carries no authority (authority goes through the fold).
    action = LedgerAction.EXPORT_MADE
    with pytest.raises(UsageError, match="not enrolled"):
        audit.record("alice", action, SUBJECT, signer=Ed25519Signer.generate())
    with pytest.raises(UsageError, match="belongs to 'alice'"):
        audit.record("bob", action, SUBJECT, signer=alice_key)
    with pytest.raises(UsageError, match="carries authority"):
        audit.record("alice", LedgerAction.REQUEST_APPROVED, SUBJECT, signer=alice_key)
    _record(
        audit,
        "security",
        LedgerAction.KEY_REVOKED,
        key_subject(alice_key.key_id),
        after={"key_id": alice_key.key_id},
        reason="laptop lost",
    )
    with pytest.raises(UsageError, match="revoked"):
        audit.record("alice", action, SUBJECT, signer=alice_key)
    assert audit.verify().ok


def test_forged_signature_is_rejected(
    audit: AuditService, alice_key: Ed25519Signer, ledger_db: Database
) -> None:
    event = _record(audit, "alice", LedgerAction.EXPORT_MADE, SUBJECT, signer=alice_key)
    _record(audit, "bob", LedgerAction.ALIAS_OBSERVED, SUBJECT)
    _drop_triggers(ledger_db)
    forged = Ed25519Signer.generate().sign(bytes.fromhex(event.hash))
    _sql(ledger_db, "UPDATE ledger_events SET signature = :s WHERE seq = :q", s=forged, q=event.seq)
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.BAD_SIGNATURE, event.seq)
    assert "does not verify" in problem.message


def test_stripped_signature_is_rejected(
    audit: AuditService, alice_key: Ed25519Signer, ledger_db: Database
) -> None:
    event = _record(audit, "alice", LedgerAction.EXPORT_MADE, SUBJECT, signer=alice_key)
    _drop_triggers(ledger_db)
    _sql(
        ledger_db,
        "UPDATE ledger_events SET signer = NULL, signature = NULL WHERE seq = :q",
        q=event.seq,
    )
    problem = audit.verify().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.BAD_SIGNATURE, event.seq)


# ------------------------------------------------------------------ export


def test_jsonl_export_verifies_offline_and_is_recorded(
    audit: AuditService, alice_key: Ed25519Signer, tmp_path: Path
) -> None:
    _fill(audit, 20)
    _record(audit, "alice", LedgerAction.EXPORT_MADE, SUBJECT, signer=alice_key)
    out = tmp_path / "ledger.jsonl"
    result = audit.export(out, "jsonl", actor="auditor")
    assert result.events == 22 and result.head is not None and result.head.seq == 22
    assert not (tmp_path / "ledger.jsonl.partial").exists()

    lines = out.read_bytes().splitlines()
    assert len(lines) == 22
    prev = GENESIS_HASH
    for line in lines:  # what a third party's script would do, with rfc8785 only
        rec = json.loads(line)
        assert rfc8785.dumps(rec) == line
        assert hashlib.sha256(rfc8785.dumps(rec["body"])).hexdigest() == rec["hash"]
        assert rec["body"]["prev"] == prev
        prev = rec["hash"]

    report = verify_export(out, checkpoint=result.head)
    assert report.ok, report.describe()
    assert (report.events_checked, report.signatures_checked, report.head) == (22, 2, result.head)

    record = result.record
    assert record.action == LedgerAction.EXPORT_MADE and record.seq == 23
    assert record.after == {
        "events": 22,
        "file": "ledger.jsonl",
        "format": "jsonl",
        "head": str(result.head),
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }


def _rewrite_lines(path: Path, edit: Callable[[list[bytes]], object]) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    edit(lines)
    path.write_bytes(b"".join(lines))


def test_tampered_export_is_caught_offline(audit: AuditService, tmp_path: Path) -> None:
    _fill(audit, 10)
    out = tmp_path / "ledger.jsonl"
    head = audit.export(out, actor="auditor").head

    def reword(lines: list[bytes]) -> None:
        lines[4] = lines[4].replace(b'"reason":"event 5"', b'"reason":"event V"')

    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(out.read_bytes())
    _rewrite_lines(edited, reword)
    problem = verify_export(edited).problem
    assert problem is not None and (problem.kind, problem.seq) == (ProblemKind.EDITED, 5)

    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(out.read_bytes())
    _rewrite_lines(cut, lambda lines: lines.pop(3))
    problem = verify_export(cut).problem
    assert problem is not None and (problem.kind, problem.seq) == (ProblemKind.MISSING, 4)

    short = tmp_path / "short.jsonl"
    short.write_bytes(out.read_bytes())
    _rewrite_lines(short, lambda lines: lines.pop())
    assert verify_export(short).ok
    problem = verify_export(short, checkpoint=head).problem
    assert problem is not None and problem.kind == ProblemKind.TRUNCATED

    garbled = tmp_path / "garbled.jsonl"
    garbled.write_bytes(out.read_bytes())
    _rewrite_lines(garbled, lambda lines: lines.insert(2, b'{"body": 1}\n'))
    problem = verify_export(garbled).problem
    assert problem is not None and (problem.kind, problem.seq) == (ProblemKind.EDITED, 3)


def test_an_export_that_cannot_be_written_leaves_no_file_and_keeps_the_last_one(
    audit: AuditService, tmp_path: Path
) -> None:
    _fill(audit, 5)
    out = tmp_path / "ledger.jsonl"
    audit.export(out, actor="auditor")
    kept, events = out.read_bytes(), audit.count()

    # The whole file is written, then it cannot take its name: a folder has it.
    taken = tmp_path / "taken.jsonl"
    taken.mkdir()
    with pytest.raises(ExportFailed, match="Cannot write the export"):
        audit.export(taken, actor="auditor")
    with pytest.raises(ExportFailed, match="Cannot write the export"):
        audit.export(tmp_path / "no-such-folder" / "ledger.jsonl", actor="auditor")
    # Cancelled before the first chunk is written, over the earlier export's name.
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        audit.export(out, actor="auditor", cancel=cancel)

    assert sorted(p.name for p in tmp_path.iterdir() if "jsonl" in p.name) == [
        "ledger.jsonl",
        "taken.jsonl",
    ]
    assert list(taken.iterdir()) == []
    assert out.read_bytes() == kept
    assert audit.count() == events  # no export.made for an export that was not made


def test_an_export_cancelled_midway_leaves_no_file(
    make_ledger_db: Callable[[str], Database], tmp_path: Path
) -> None:
    audit = AuditService(LedgerStore(make_ledger_db("sqlite"), clock=_clock()))
    # One event more than a read chunk, so the export writes one chunk and then stops.
    with audit.appending() as tx:
        for i in range(DEFAULT_CHUNK + 1):
            tx.add(LedgerDraft("sync", LedgerAction.ALIAS_OBSERVED.value, SUBJECT, after={"n": i}))
    exports = tmp_path / "exports"
    exports.mkdir()
    cancel = CancelToken()
    written: list[int] = []

    def progress(p: Progress) -> None:
        written.append(p.done)
        if p.done:  # the user presses Cancel once the first chunk is in the file
            cancel.cancel()

    with pytest.raises(Cancelled):
        audit.export(exports / "ledger.jsonl", actor="auditor", progress=progress, cancel=cancel)
    assert written == [DEFAULT_CHUNK]
    assert list(exports.iterdir()) == []
    assert audit.count() == DEFAULT_CHUNK + 1


def test_csv_export(audit: AuditService, tmp_path: Path) -> None:
    import csv

    _fill(audit, 3)
    out = tmp_path / "ledger.csv"
    result = audit.export(out, "csv", actor="auditor")
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert result.events == 3 and [r["seq"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["ts"] == "2026-11-27T09:00:00.000000Z"
    assert json.loads(rows[1]["after"]) == {"n": 1, "score": 0.125}
    with pytest.raises(UsageError, match="not an export format"):
        audit.export(tmp_path / "x.xml", "xml", actor="auditor")


# ------------------------------------------------------------------ team mode


@pytest.fixture
def replica(make_ledger_db: Callable[[str], Database]) -> LedgerStore:
    return LedgerStore(make_ledger_db("sqlite"))


def test_pull_copies_new_events_and_the_replica_verifies(
    audit: AuditService, store: LedgerStore, replica: LedgerStore, alice_key: Ed25519Signer
) -> None:
    _fill(audit, 5)
    first = audit.pull_replica(store, replica)
    assert (first.imported, first.compared) == (6, 0)
    _record(audit, "alice", LedgerAction.EXPORT_MADE, SUBJECT, signer=alice_key)
    _fill(audit, 2)
    second = audit.pull_replica(store, replica)
    assert (second.imported, second.compared) == (3, 6)
    assert second.head == store.head() == replica.head()
    report = AuditService(replica).verify()
    assert report.ok and report.signatures_checked == 2
    assert replica.page(limit=None) == store.page(limit=None)
    assert audit.pull_replica(store, replica).imported == 0


def test_pull_refuses_a_rewritten_shared_ledger(
    audit: AuditService, store: LedgerStore, replica: LedgerStore, ledger_db: Database
) -> None:
    events = _fill(audit, 6)
    audit.pull_replica(store, replica)
    _fill(audit, 2)
    _drop_triggers(ledger_db)
    # Rewrite a held event and re-hash it: its successor's link would break, but the
    # pull already knows the original.
    body = _forged_body(3, events[1].hash)
    _sql(
        ledger_db,
        "UPDATE ledger_events SET body = :b, hash = :h WHERE seq = 3",
        b=body,
        h=body_hash(body),
    )
    with pytest.raises(LedgerTampered, match="event 3 differs") as caught:
        audit.pull_replica(store, replica)
    assert caught.value.problem is not None and caught.value.problem.seq == 3
    assert replica.head() == events[-1].checkpoint  # nothing imported


def test_pull_refuses_a_broken_chain_in_new_events(
    audit: AuditService, store: LedgerStore, replica: LedgerStore, ledger_db: Database
) -> None:
    _fill(audit, 4)
    audit.pull_replica(store, replica)
    _fill(audit, 4)
    _drop_triggers(ledger_db)
    _sql(ledger_db, "DELETE FROM ledger_events WHERE seq = 6")
    with pytest.raises(LedgerTampered, match="Nothing was imported") as caught:
        audit.pull_replica(store, replica)
    assert caught.value.problem is not None
    assert (caught.value.problem.kind, caught.value.problem.seq) == (ProblemKind.MISSING, 6)
    assert replica.count() == 4


def test_pull_refuses_a_shared_ledger_that_lost_held_events(
    audit: AuditService, store: LedgerStore, replica: LedgerStore, ledger_db: Database
) -> None:
    _fill(audit, 4)
    audit.pull_replica(store, replica)
    _drop_triggers(ledger_db)
    _sql(ledger_db, "DELETE FROM ledger_events WHERE seq >= 3")
    with pytest.raises(LedgerTampered, match="no longer holds event 3"):
        audit.pull_replica(store, replica)
    assert replica.count() == 4


def test_import_events_continues_the_head_only(
    audit: AuditService, store: LedgerStore, replica: LedgerStore
) -> None:
    _fill(audit, 5)
    with closing(store.iter_rows(1, 3, chunk=2)) as chunks:
        assert replica.import_events(chunks, expected_head=None) == 3
    assert replica.head() == audit.events([3])[0].checkpoint
    with (
        pytest.raises(LedgerError, match="changed while pulling"),
        closing(store.iter_rows(4)) as rest,
    ):
        replica.import_events(rest, expected_head=None)
    with (
        pytest.raises(LedgerTampered, match="does not continue"),
        closing(store.iter_rows(5)) as gap,
    ):
        replica.import_events(gap, expected_head=replica.head())
    with closing(store.iter_rows(4)) as rest:
        replica.import_events(rest, expected_head=replica.head())
    events = [e for chunk in replica.iter_events(chunk=2) for e in chunk]
    assert events == audit.page(limit=None)
    assert AuditService(replica).verify().ok


def test_signature_helpers_round_trip() -> None:
    key = Ed25519Signer.generate()
    again = Ed25519Signer.from_private_bytes(key.private_bytes())
    assert again.key_id == key.key_id and again.public_key_b64 == key.public_key_b64
    assert base64.b64decode(key.public_key_b64) == key.public_key
    with pytest.raises(UsageError):
        key.sign(b"short")
    with pytest.raises(UsageError):
        Ed25519Signer.from_private_bytes(b"x")


def test_epoch_microseconds_are_exact() -> None:
    at = datetime(2026, 11, 27, 10, 15, 30, 123456, tzinfo=UTC)
    assert to_epoch_us(at) == int(at.timestamp()) * 1_000_000 + 123_456


def test_ledger_migrations_have_one_head_and_match_the_models(ledger_db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.stores.ledger_schema import LedgerBase
    from app.stores.migrate import heads

    assert heads(LEDGER_SCHEMA) == [LEDGER_SCHEMA.head]
    with ledger_db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": LEDGER_SCHEMA.version_table})
        assert compare_metadata(ctx, LedgerBase.metadata) == []


# ------------------------------------------------------------------ signatures on other cores


def _signed_run(audit: AuditService, key: Ed25519Signer, n: int) -> list[LedgerEvent]:
    return [
        _record(audit, "alice", LedgerAction.EXPORT_MADE, SUBJECT, reason=f"export {i}", signer=key)
        for i in range(n)
    ]


def _forge_signature(db: Database, event: LedgerEvent) -> None:
    _drop_triggers(db)
    forged = Ed25519Signer.generate().sign(bytes.fromhex(event.hash))
    _sql(db, "UPDATE ledger_events SET signature = :s WHERE seq = :q", s=forged, q=event.seq)


def test_signature_workers_say_no_when_any_check_fails_and_the_memo_names_it(
    audit: AuditService, alice_key: Ed25519Signer, ledger_db: Database
) -> None:
    events = _signed_run(audit, alice_key, 7)
    memo = MemoVerifier()
    with SpeculativeVerifier(memo, batch=2) as speculative:
        assert audit.verify(signatures=speculative).ok
        assert speculative.settle() is True
        assert speculative.batches_sent >= 3  # the checks ran in worker processes
    assert speculative.checks == 8  # the enrolment and the seven exports

    _forge_signature(ledger_db, events[4])
    memo = MemoVerifier()
    with SpeculativeVerifier(memo, batch=2) as speculative:
        optimistic = audit.verify(signatures=speculative)
        assert speculative.settle() is False
        assert speculative.batches_sent >= 3
    assert optimistic.problem is None  # the first pass only guessed: settle() said no
    with SpeculativeVerifier(MemoVerifier(), batch=2, workers=0) as on_one_core:
        audit.verify(signatures=on_one_core)
        assert on_one_core.settle() is False  # checked here, still caught
        assert on_one_core.batches_sent == 0
    exact = audit.verify(signatures=memo)
    one_at_a_time = audit.verify()
    assert exact.problem is not None
    assert (exact.problem.kind, exact.problem.seq) == (ProblemKind.BAD_SIGNATURE, events[4].seq)
    assert exact.describe() == one_at_a_time.describe()


def test_whole_audit_on_worker_processes_reports_what_one_at_a_time_does(
    audit: AuditService, alice_key: Ed25519Signer, ledger_db: Database
) -> None:
    events = _signed_run(audit, alice_key, 9)
    on_workers = AuthorityLedger(audit)
    on_workers.signature_batch = 2
    here = AuthorityLedger(audit)
    here.signature_batch = 10**9  # never starts the workers
    good = on_workers.verify()
    assert good.ok and good.signatures_checked == 10
    _forge_signature(ledger_db, events[6])
    bad, expected = on_workers.verify(), here.verify()
    assert not bad.ok and bad.problem is not None
    assert (bad.problem.kind, bad.problem.seq) == (ProblemKind.BAD_SIGNATURE, events[6].seq)
    assert bad.describe() == expected.describe()
    assert bad.signatures_checked == expected.signatures_checked


def test_iter_action_bodies_streams_only_those_actions(
    store: LedgerStore, audit: AuditService
) -> None:
    """The delivery report's read: (seq, body) of a few actions, in seq order, in a seq
    range, on SQLite and PostgreSQL alike."""
    kinds = [
        LedgerAction.ALIAS_OBSERVED,
        LedgerAction.EXPORT_MADE,
        LedgerAction.SERVING_DRIFT_OBSERVED,
    ]
    for i in range(9):
        _record(audit, "alice", kinds[i % 3], SUBJECT, after={"i": i})
    wanted = (LedgerAction.ALIAS_OBSERVED.value, LedgerAction.SERVING_DRIFT_OBSERVED.value)
    rows = [r for chunk in store.iter_action_bodies(wanted, chunk=2) for r in chunk]
    assert [seq for seq, _ in rows] == [1, 3, 4, 6, 7, 9]
    assert all(isinstance(bytes(body), bytes) for _, body in rows)
    assert b'"i":3' in bytes(rows[2][1])
    ranged = [s for chunk in store.iter_action_bodies(wanted, 3, 7) for s, _ in chunk]
    assert ranged == [3, 4, 6, 7]
