"""ORM rows of the audit ledger, on the cache's metadata (imported by app.stores.schema).

ledger_events holds each event's exact canonical bytes (``body``) and its hash; the
other columns are copies of body fields so the UI filters in SQL. They are an index,
not evidence: readers rebuild events from ``body``, and verification trusts only it.
Both tables refuse UPDATE and DELETE through triggers created by migration 0002
(ledger_head accepts an UPDATE that moves it forward).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.stores.schema import Base

# INTEGER PRIMARY KEY on SQLite makes seq the rowid: rows sit in sequence order and
# range scans need no separate index.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEventRow(Base):
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


class LedgerHeadRow(Base):
    """The one row every append locks, and the head it recorded.

    Locking it serialises appends from every process (a write lock on SQLite, a row
    lock on PostgreSQL); the head it records exposes a tail cut off behind Gavel's back.
    """

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
