"""Engine construction, per-connection PRAGMAs and a managed session scope.

Database errors are translated here into the app's own: environment problems
(busy, full, read-only, corrupt) become CacheError/CacheCorrupt with a sentence;
anything else is a bug and propagates to the crash handler.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import CacheCorrupt, CacheError, ConfigError, StoreUnreachable

SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def check_ledger_url(url: str) -> None:
    """A team ledger URL: PostgreSQL (or a local SQLite file), with no password in it."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError(
            "The team ledger URL is not a database URL; write it like "
            "postgresql+psycopg://user@host/database."
        ) from None
    if parsed.password:
        raise ConfigError(
            "The team ledger URL contains a password; give the URL without it and pass the "
            "password with 'gavel team join URL --user U --password-env VAR' (it is kept in "
            "the keyring)."
        )
    # SQLite serves profiles on one machine sharing a file (local disk only: SQLite's
    # locks are not safe over network file systems).
    if parsed.get_backend_name() not in ("postgresql", "sqlite"):
        raise ConfigError(
            "A team ledger is a PostgreSQL database (postgresql+psycopg://user@host/database), "
            "or a SQLite file on this machine (sqlite+pysqlite:////path/ledger.sqlite3)."
        )


# Seconds a PostgreSQL connection attempt may take before the server counts as out of reach.
PG_CONNECT_TIMEOUT_S = 10
# What psycopg says when the server is gone, in lower case.
_GONE = (
    "could not connect",
    "connection refused",
    "server closed the connection",
    "connection timeout",
    "timeout expired",
    "connection is closed",
    "terminating connection",
    "no route to host",
    "network is unreachable",
    "could not receive data",
    "could not send data",
)


def make_engine(url: str) -> Engine:
    """Build an engine for SQLite (embedded cache) or PostgreSQL (team mode)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so a
        # snapshot write takes the write lock up front instead of failing halfway.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    # A server that stops answering (a dropped network, not a refusal) must fail a call
    # in seconds, not after the system's TCP timeout of minutes.
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S}
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy drive transactions (see the "begin" listener).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


@dataclass(frozen=True)
class StoreKind:
    """Which of Gavel's databases an engine serves, for error sentences that say which
    file holds what and what to do with it."""

    name: str  # "local cache" / "audit ledger"
    damaged: str  # what to do when the file is damaged


CACHE = StoreKind(
    "local cache",
    "It only holds a copy of your registries: move it aside and Gavel builds a new one at "
    "the next sync. The audit ledger (ledger.sqlite3) is a separate file and is not "
    "affected.",
)
LEDGER = StoreKind(
    "audit ledger",
    "It holds the record of every decision and cannot be rebuilt: do not delete it. Keep "
    "a copy, run 'gavel audit verify', and restore it from a backup or an export (in team "
    "mode the shared ledger still holds every event: move the file aside and Gavel pulls "
    "a new replica).",
)


class Database:
    """An engine plus a session factory; the one handle stores are given.

    kind: which database this is (the cache or the ledger), for error sentences.
    where: its file or server, as shown to people (never with a password).
    """

    def __init__(self, engine: Engine, kind: StoreKind = CACHE, where: str = "") -> None:
        self.engine = engine
        self.kind = kind
        self.where = where or engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Commit on success, roll back on error, translate environment errors."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            translated = translate_db_error(exc, self.kind, self.where)
            if translated is not None:
                raise translated from None
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def translate_db_error(
    exc: BaseException, kind: StoreKind = CACHE, where: str = ""
) -> CacheError | None:
    """Map environment failures to CacheError (StoreUnreachable for a server that does not
    answer); return None for bugs."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).lower()
    the = f"The {kind.name}" + (f" ({where})" if where else "")
    if isinstance(orig, sqlite3.DatabaseError) and (
        "file is not a database" in text or "malformed" in text
    ):
        return CacheCorrupt(f"{the} is damaged or is not a Gavel {kind.name}. {kind.damaged}")
    if isinstance(exc, OperationalError):
        if "locked" in text or "busy" in text:
            return CacheError(
                f"{the} is busy (another Gavel may be writing to it). Try again in a moment."
            )
        if "disk" in text and "full" in text:
            return CacheError(f"The disk holding the {kind.name} is full. Free space and retry.")
        if "readonly" in text or "read-only" in text:
            return CacheError(f"{the} is read-only. Check the file's permissions.")
        if "unable to open" in text:
            return CacheError(f"{the} cannot be opened. Check its folder exists.")
    # connection_invalidated: SQLAlchemy saw the connection die under a statement.
    talking = isinstance(exc, OperationalError | InterfaceError)
    if exc.connection_invalidated or talking:
        return unreachable(text, kind, where, exc.connection_invalidated)
    return None


def unreachable(
    message: str, kind: StoreKind, where: str = "", known: bool = False
) -> StoreUnreachable | None:
    """StoreUnreachable if ``message`` (a driver's error) says the server is gone (or
    ``known`` says so already); None for any other error."""
    if not known and not any(g in message.lower() for g in _GONE):
        return None
    at = f" at {where}" if where else ""
    return StoreUnreachable(
        f"The database server of the {kind.name}{at} cannot be reached. Check it is "
        "running and this computer's network."
    )
