"""ORM rows of the audit ledger, on a metadata of its own.

The ledger lives in its own database: ``ledger.sqlite3`` beside the cache (a solo
ledger, or a team ledger's verified replica), or the team's shared PostgreSQL. The
cache can be thrown away and rebuilt by a sync; the ledger never.

ledger_events holds each event's exact canonical bytes (``body``) and its hash; the
other columns are copies of body fields so the UI filters in SQL. They are an index,
not evidence: readers rebuild events from ``body``, and verification trusts only it.
Both event tables refuse UPDATE and DELETE through triggers created by the ledger's
first migration (ledger_head accepts an UPDATE that moves it forward).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.stores.schema import NAMING_CONVENTION

# INTEGER PRIMARY KEY on SQLite makes seq the rowid: rows sit in sequence order and
# range scans need no separate index.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class LedgerBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SqlLedgerEvent(LedgerBase):
    __tablename__ = "ledger_events"
    __table_args__ = (
        Index("ix_ledger_events_subject_seq", "subject", "seq"),
        Index("ix_ledger_events_actor_seq", "actor", "seq"),
        Index("ix_ledger_events_action_seq", "action", "seq"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Copies of body fields for filtering (see the module docstring).
    at_us: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(500))


class SqlLedgerHead(LedgerBase):
    """The one row every append locks, and the head it recorded.

    Locking it serialises appends from every process (a write lock on SQLite, a row
    lock on PostgreSQL); the head it records exposes a tail cut off behind Gavel's back.
    """

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class SqlLedgerMeta(LedgerBase):
    """Facts about this copy of the ledger that are not ledger events (e.g. when a
    replica was last pulled). Never evidence: nothing authoritative is read here."""

    __tablename__ = "ledger_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
