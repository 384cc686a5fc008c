"""The audit ledger's repository: serialised appends, streaming reads, SQL-side filters.

Appends from any number of processes form one gapless chain: every append first
updates the single ledger_head row, which takes SQLite's write lock (the statement
is the transaction's first, so it waits like BEGIN IMMEDIATE instead of failing on
a stale snapshot) or PostgreSQL's row lock; the sequence number and previous hash
are read only once that lock is held.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from app.domain.errors import CacheError
from app.domain.ledger import (
    GENESIS_HASH,
    KEY_ACTIONS,
    BodyRow,
    Checkpoint,
    LedgerDraft,
    LedgerError,
    LedgerEvent,
    LedgerTampered,
    StoredRow,
    body_hash,
    canonical_body,
    chain_tail,
    parse_event,
    stored_to_event,
    to_epoch_us,
)
from app.domain.ledger_keys import EnrolledKey, EventSigner, apply_key_event
from app.domain.ledger_query import LedgerQuery
from app.stores.engine import Database, translate_db_error, unreachable
from app.stores.ledger_schema import SqlLedgerEvent, SqlLedgerHead, SqlLedgerMeta

DEFAULT_CHUNK = 10_000

_E = SqlLedgerEvent
_H = SqlLedgerHead
_STREAM_COLUMNS = "seq, body, hash, signer, signature, action"


class LedgerStore:
    """The ledger tables of one database (the local cache or a shared PostgreSQL)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def is_sqlite(self) -> bool:
        return self._db.is_sqlite

    # ------------------------------------------------------------------ writing

    def append(self, draft: LedgerDraft, signer: EventSigner | None = None) -> LedgerEvent:
        """Number, chain, hash (and sign) the draft and store it, under the append lock."""
        with self.appending() as tx:
            return tx.add(draft, signer)

    @contextmanager
    def appending(self) -> Iterator[LedgerAppend]:
        """Hold the append lock for one transaction: read what others appended, decide,
        append. Everything added commits together, or nothing does.

        This is where claims serialise: a writer reads the events after what it has
        folded (``LedgerAppend.events``) with the lock held, so no other process can
        append between its check and its event.
        """
        with self._db.session() as s:
            conn = s.connection()
            head = _lock_head(conn)
            tx = LedgerAppend(conn, head, self._clock)
            yield tx
            if tx.head != head:
                _move_head(conn, tx.head.seq, tx.head.hash)

    @contextmanager
    def importing(
        self, expected_head: Checkpoint | None, record_head_as: str = ""
    ) -> Iterator[LedgerImport]:
        """Hold the append lock while verified events are copied in; one transaction.

        expected_head: the head the caller verified against; if another process
            moved it meanwhile, LedgerError and nothing is imported.
        record_head_as: a ledger_meta key that receives the new head's seq in the same
            transaction (a reader of the head, then the key, never sees the head ahead).
        """
        with self._db.session() as s:
            conn = s.connection()
            head = _lock_head(conn)
            if (expected_head or Checkpoint(0, GENESIS_HASH)) != head:
                raise LedgerError(
                    "The local copy of the ledger changed while pulling (another Gavel is "
                    "pulling too). Pull again."
                )
            sink = LedgerImport(conn, head)
            yield sink
            if sink.head != head:
                _move_head(conn, sink.head.seq, sink.head.hash)
            if record_head_as:
                s.merge(SqlLedgerMeta(key=record_head_as, value=str(sink.head.seq)))

    def import_events(
        self, chunks: Iterable[Sequence[StoredRow]], expected_head: Checkpoint | None
    ) -> int:
        """Add verified stored events after ``expected_head`` in one transaction; the count."""
        with self.importing(expected_head) as sink:
            for rows in chunks:
                sink.add(rows)
        return sink.added

    # ------------------------------------------------------------------ reading

    @property
    def where(self) -> str:
        """The ledger's file or server, as shown to people."""
        return self._db.where

    def damage(self) -> str | None:
        """On SQLite, what ``PRAGMA quick_check`` finds wrong with the file; None if sound.

        A damaged page can hide rows from a read, which would look like events removed
        behind Gavel's back; verification asks this first so it reports damage as damage.
        """
        if not self._db.is_sqlite:
            return None
        try:
            with self._db.engine.connect() as conn:
                rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check").all()]
        except Exception as exc:  # a file too damaged to check is damaged
            return str(getattr(exc, "orig", exc)).splitlines()[0]
        return None if rows == ["ok"] else "; ".join(str(r) for r in rows[:3])

    def genesis_hash(self) -> str | None:
        """The hash of event 1, which names this ledger; None while it is empty."""
        with self._db.session() as s:
            return s.execute(select(_E.hash).where(_E.seq == 1)).scalar_one_or_none()

    def meta(self, key: str) -> str | None:
        """A fact about this copy of the ledger (ledger_meta); never evidence."""
        with self._db.session() as s:
            row = s.get(SqlLedgerMeta, key)
            return row.value if row is not None else None

    def set_meta(self, key: str, value: str) -> None:
        with self._db.session() as s:
            s.merge(SqlLedgerMeta(key=key, value=value))

    def head(self) -> Checkpoint | None:
        """The last stored event's (seq, hash); None when the ledger is empty."""
        with self._db.session() as s:
            row = s.execute(select(_E.seq, _E.hash).order_by(_E.seq.desc()).limit(1)).first()
        return Checkpoint(row.seq, row.hash) if row else None

    def bounds(self) -> tuple[Checkpoint | None, int]:
        """(head recorded by the last append, last stored seq), read in one statement."""
        last = select(func.coalesce(func.max(_E.seq), 0)).scalar_subquery()
        with self._db.session() as s:
            row = s.execute(select(_H.seq, _H.hash, last).where(_H.id == 1)).first()
            if row is None:
                return None, s.execute(select(last)).scalar_one()
        return Checkpoint(row[0], row[1]), row[2]

    def iter_rows(
        self, from_seq: int = 1, to_seq: int | None = None, chunk: int = DEFAULT_CHUNK
    ) -> Generator[list[StoredRow], None, None]:
        """Stream stored rows in seq order, ``chunk`` at a time, as plain tuples.

        Goes straight to the driver (a server-side cursor on PostgreSQL): at a million
        rows, building SQLAlchemy rows would cost more than verifying them.
        """
        return cast(
            Generator[list[StoredRow], None, None],
            self._stream(_STREAM_COLUMNS, from_seq, to_seq, chunk),
        )

    def iter_body_rows(
        self, to_seq: int | None = None, chunk: int = DEFAULT_CHUNK
    ) -> Generator[list[BodyRow], None, None]:
        """Stream (body, hash, signature) from event 1 in seq order: verification's fast path.

        Three columns (the signature almost always NULL) instead of six keep the fetch
        nearly as cheap as reading the bodies alone.
        """
        return cast(
            Generator[list[BodyRow], None, None],
            self._stream("body, hash, signature", 1, to_seq, chunk),
        )

    def key_event_seqs(self, to_seq: int | None = None) -> list[int]:
        """Sequence numbers of key enrolments and revocations (an index-only scan)."""
        stmt = select(_E.seq).where(_E.action.in_(sorted(KEY_ACTIONS))).order_by(_E.seq)
        if to_seq is not None:
            stmt = stmt.where(_E.seq <= to_seq)
        with self._db.session() as s:
            return list(s.execute(stmt).scalars())

    def iter_hashes(
        self, from_seq: int = 1, to_seq: int | None = None, chunk: int = DEFAULT_CHUNK
    ) -> Generator[list[tuple[int, str]], None, None]:
        return cast(
            Generator[list[tuple[int, str]], None, None],
            self._stream("seq, hash", from_seq, to_seq, chunk),
        )

    def iter_bodies(
        self, from_seq: int = 1, to_seq: int | None = None, chunk: int = DEFAULT_CHUNK
    ) -> Generator[list[tuple[bytes]], None, None]:
        """Only the stored bytes: the baseline a verification's speed is measured against."""
        return cast(
            Generator[list[tuple[bytes]], None, None], self._stream("body", from_seq, to_seq, chunk)
        )

    def iter_action_bodies(
        self,
        actions: Sequence[str],
        from_seq: int = 1,
        to_seq: int | None = None,
        chunk: int = DEFAULT_CHUNK,
    ) -> Generator[list[tuple[int, bytes]], None, None]:
        """Stream (seq, body) of the events of ``actions`` in seq order, unparsed, through
        the action index: a report that needs a few kinds of event out of a million reads
        only those, without building SQLAlchemy rows."""
        return cast(
            Generator[list[tuple[int, bytes]], None, None],
            self._stream("seq, body", from_seq, to_seq, chunk, actions),
        )

    def _stream(
        self,
        columns: str,
        from_seq: int,
        to_seq: int | None,
        chunk: int,
        actions: Sequence[str] = (),
    ) -> Generator[list[tuple[Any, ...]], None, None]:
        upper = to_seq if to_seq is not None else 2**62
        mark = "?" if self._db.is_sqlite else "%s"
        only = f" AND action IN ({', '.join([mark] * len(actions))})" if actions else ""
        params = (from_seq, upper, *actions)
        # Raw driver errors bypass the session scope's translation: translate here.
        driver_error = self._db.engine.dialect.loaded_dbapi.Error
        try:
            with self._db.engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None  # a checked-out connection always has its driver's
                if self._db.is_sqlite:
                    # Autocommit mode (see engine.py): one SELECT is one consistent snapshot.
                    cur = raw.cursor()
                    try:
                        cur.execute(
                            f"SELECT {columns} FROM ledger_events "
                            f"WHERE seq >= ? AND seq <= ?{only} ORDER BY seq",
                            params,
                        )
                        while rows := cur.fetchmany(chunk):
                            yield rows
                    finally:
                        cur.close()
                else:
                    name = f"gavel_ledger_{uuid.uuid4().hex}"
                    # The pool rolls back on return, which ends the cursor's transaction.
                    with raw.cursor(name=name, binary=True) as cur:
                        cur.itersize = chunk
                        cur.execute(
                            f"SELECT {columns} FROM ledger_events "
                            f"WHERE seq >= %s AND seq <= %s{only} ORDER BY seq",
                            params,
                        )
                        while rows := cur.fetchmany(chunk):
                            yield rows
        except DBAPIError as exc:  # connecting, through SQLAlchemy's pool
            translated = translate_db_error(exc, self._db.kind, self._db.where)
            if translated is not None:
                raise translated from None
            raise
        except driver_error as exc:
            gone = unreachable(str(exc), self._db.kind, self._db.where)
            if gone is not None:
                raise gone from None
            first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            raise CacheError(
                f"The audit ledger could not be read ({first_line}). Check that its "
                "database is reachable and not busy, then retry."
            ) from None

    def iter_events(
        self, from_seq: int = 1, to_seq: int | None = None, chunk: int = DEFAULT_CHUNK
    ) -> Generator[list[LedgerEvent], None, None]:
        """Events read back from their bodies in seq order, ``chunk`` at a time."""
        with closing(self.iter_rows(from_seq, to_seq, chunk)) as chunks:
            for rows in chunks:
                yield [stored_to_event(row) for row in rows]

    def count(self, query: LedgerQuery | None = None) -> int:
        with self._db.session() as s:
            stmt = select(func.count()).select_from(_E).where(*_conditions(query))
            return s.execute(stmt).scalar_one()

    def seqs(self, query: LedgerQuery | None = None, limit: int | None = None) -> list[int]:
        """Sequence numbers of matching events, ascending: what a lazy table model holds."""
        with self._db.session() as s:
            stmt = select(_E.seq).where(*_conditions(query)).order_by(_E.seq).limit(limit)
            return list(s.execute(stmt).scalars())

    def page(
        self, query: LedgerQuery | None = None, limit: int | None = 200, descending: bool = False
    ) -> list[LedgerEvent]:
        """Matching events in seq order (newest first when descending), read from their bodies.

        limit: None reads every match.
        """
        order = _E.seq.desc() if descending else _E.seq
        stmt = (
            select(_E.seq, _E.body, _E.hash, _E.signer, _E.signature)
            .where(*_conditions(query))
            .order_by(order)
            .limit(limit)
        )
        with self._db.session() as s:
            rows = s.execute(stmt).all()
        return [parse_event(*row) for row in rows]

    def fold_rows(self, from_seq: int, to_seq: int, actions: Sequence[str]) -> list[FoldRow]:
        """Rows of the given actions in a seq range, not yet parsed: the authority fold
        parses each itself, so one unreadable row becomes a problem, not an exception."""
        stmt = (
            select(_E.seq, _E.body, _E.hash, _E.signer, _E.signature, _E.action, _E.actor)
            .where(_E.seq >= from_seq, _E.seq <= to_seq, _E.action.in_(list(actions)))
            .order_by(_E.seq)
        )
        with self._db.session() as s:
            return [FoldRow(*row) for row in s.execute(stmt).all()]

    def get(self, seqs: Sequence[int]) -> list[LedgerEvent]:
        """The events with these sequence numbers (those that exist), in seq order."""
        if not seqs:
            return []
        stmt = (
            select(_E.seq, _E.body, _E.hash, _E.signer, _E.signature)
            .where(_E.seq.in_(list(seqs)))
            .order_by(_E.seq)
        )
        with self._db.session() as s:
            rows = s.execute(stmt).all()
        return [parse_event(*row) for row in rows]

    def enrolled_keys(self, to_seq: int | None = None) -> dict[str, EnrolledKey]:
        """Signing keys enrolled (and revocations) up to ``to_seq``, from the key events."""
        stmt = select(_E.seq, _E.body).where(_E.action.in_(sorted(KEY_ACTIONS))).order_by(_E.seq)
        if to_seq is not None:
            stmt = stmt.where(_E.seq <= to_seq)
        keys: dict[str, EnrolledKey] = {}
        with self._db.session() as s:
            for seq, body in s.execute(stmt):
                try:
                    doc = json.loads(body)
                    event, signer = doc["event"], doc["signer"]
                except (ValueError, KeyError, TypeError):
                    continue  # verify() reports malformed key events; here they enrol nothing
                apply_key_event(keys, seq, event, signer=signer)
        return keys


class LedgerAppend:
    """Appends inside ``LedgerStore.appending()``, with the append lock held."""

    def __init__(self, conn: Connection, head: Checkpoint, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock
        self.head = head

    def events(self, after_seq: int, actions: Sequence[str] = ()) -> list[FoldRow]:
        """Rows after ``after_seq`` up to the locked head (those with ``actions``, if
        given), unparsed: everything committed before this transaction took the lock."""
        stmt = select(_E.seq, _E.body, _E.hash, _E.signer, _E.signature, _E.action, _E.actor).where(
            _E.seq > after_seq, _E.seq <= self.head.seq
        )
        if actions:
            stmt = stmt.where(_E.action.in_(list(actions)))
        return [FoldRow(*row) for row in self._conn.execute(stmt.order_by(_E.seq)).all()]

    def prepare(self, draft: LedgerDraft, signer: EventSigner | None = None) -> _Prepared:
        """The next event as it would be stored (numbered, chained, hashed, signed).

        The timestamp is taken with the lock held, so time follows sequence order on
        one machine.
        """
        seq = self.head.seq + 1
        key_id = signer.key_id if signer is not None else None
        body = canonical_body(
            seq=seq, at=self._clock(), draft=draft, prev_hash=self.head.hash, signer=key_id
        )
        digest = body_hash(body)
        signature = signer.sign(bytes.fromhex(digest)) if signer is not None else None
        return _Prepared(parse_event(seq, body, digest, key_id, signature), body, signature)

    def store(self, prepared: _Prepared) -> LedgerEvent:
        """Insert an event ``prepare`` built for the current head."""
        event = prepared.event
        if event.seq != self.head.seq + 1 or event.prev_hash != self.head.hash:
            raise LedgerError("An event was prepared for another position of the ledger.")
        self._conn.execute(insert(_E), [_row_values(event, prepared.body, prepared.signature)])
        self.head = Checkpoint(event.seq, event.hash)
        return event

    def add(self, draft: LedgerDraft, signer: EventSigner | None = None) -> LedgerEvent:
        return self.store(self.prepare(draft, signer))


@dataclass(frozen=True)
class FoldRow:
    """A stored event as the authority fold reads it: the bytes, and the index columns
    that name it even when the bytes cannot be read."""

    seq: int
    body: bytes
    hash: str
    signer: str | None
    signature: bytes | None
    action: str
    actor: str

    def event(self) -> LedgerEvent:
        """The event; LedgerTampered when the bytes are not a readable event."""
        return parse_event(self.seq, self.body, self.hash, self.signer, self.signature)


@dataclass(frozen=True)
class _Prepared:
    event: LedgerEvent
    body: bytes
    signature: bytes | None


class LedgerImport:
    """Adds already-verified stored events after the head, inside ``importing()``."""

    def __init__(self, conn: Connection, head: Checkpoint) -> None:
        self._conn = conn
        self.head = head
        self.added = 0

    def add(self, rows: Sequence[StoredRow]) -> None:
        """Insert rows that continue the chain from ``head``; LedgerTampered if not."""
        if not rows:
            return
        values = []
        seq, prev = self.head.seq, self.head.hash
        for row in rows:
            number, body, hash_, signer, signature, action = row
            digest = body_hash(body)
            # The caller verified the chain; re-checking the link is cheap insurance.
            if (
                number != seq + 1
                or digest != hash_
                or not body.endswith(chain_tail(prev, number, signer))
            ):
                raise LedgerTampered(
                    f"Event {number} does not continue the local ledger at event {seq}; "
                    "nothing was imported."
                )
            try:
                values.append(_row_values(parse_event(number, body, hash_, signer, signature),
                                          body, signature))  # fmt: skip
            except LedgerTampered:
                # Chained but not a readable event (forged or damaged at the source): the
                # bytes are kept as they are, so every desk names the same row; only the
                # index columns, which are never evidence, are left blank.
                values.append(
                    {
                        "seq": number,
                        "body": body,
                        "hash": digest,
                        "signer": signer,
                        "signature": signature,
                        "at_us": 0,
                        "actor": "",
                        "action": action,
                        "subject": "",
                    }
                )
            seq, prev = number, digest
        self._conn.execute(insert(_E), values)
        self.head = Checkpoint(seq, prev)
        self.added += len(values)


def _lock_head(conn: Connection) -> Checkpoint:
    """Take the append lock and return the head, after checking it against the last row."""
    locked = conn.execute(
        update(_H).where(_H.id == 1).values(seq=_H.seq).returning(_H.seq, _H.hash)
    ).first()
    last = conn.execute(select(_E.seq, _E.hash).order_by(_E.seq.desc()).limit(1)).first()
    actual = Checkpoint(last.seq, last.hash) if last else Checkpoint(0, GENESIS_HASH)
    if locked is None or (locked.seq, locked.hash) != (actual.seq, actual.hash):
        # Appending now would hide the damage behind a fresh, consistent head.
        raise LedgerTampered(
            "The audit ledger was altered outside Gavel (its last event does not match the "
            "head it recorded), so nothing more is appended to it. Run 'gavel audit "
            "verify' and report the result to your auditor."
        )
    return actual


def _move_head(conn: Connection, seq: int, digest: str) -> None:
    conn.execute(update(_H).where(_H.id == 1).values(seq=seq, hash=digest))


def _row_values(event: LedgerEvent, body: bytes, signature: bytes | None) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "body": body,
        "hash": event.hash,
        "signer": event.signer,
        "signature": signature,
        "at_us": to_epoch_us(event.at),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
    }


def _conditions(query: LedgerQuery | None) -> list[ColumnElement[bool]]:
    if query is None:
        return []
    conds: list[ColumnElement[bool]] = []
    if query.from_seq is not None:
        conds.append(_E.seq >= query.from_seq)
    if query.to_seq is not None:
        conds.append(_E.seq <= query.to_seq)
    if query.subject is not None:
        conds.append(_E.subject == query.subject)
    if query.subject_prefix:
        conds.append(_E.subject.startswith(query.subject_prefix, autoescape=True))
    if query.actor is not None:
        conds.append(_E.actor == query.actor)
    if query.actions:
        conds.append(_E.action.in_([str(a) for a in query.actions]))
    if query.since is not None:
        conds.append(_E.at_us >= to_epoch_us(query.since))
    if query.until is not None:
        conds.append(_E.at_us <= to_epoch_us(query.until))
    return conds
