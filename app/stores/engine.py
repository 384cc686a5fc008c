"""Engine construction, per-connection PRAGMAs and a managed session scope.

Database errors are translated here into the app's own: environment problems
(busy, full, read-only, corrupt) become CacheError/CacheCorrupt with a sentence;
anything else is a bug and propagates to the crash handler.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.domain.errors import CacheCorrupt, CacheError

SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


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
    return create_engine(url, pool_pre_ping=True)


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


class Database:
    """An engine plus a session factory; the one handle stores are given."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
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
            translated = translate_db_error(exc)
            if translated is not None:
                raise translated from None
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def translate_db_error(exc: BaseException) -> CacheError | None:
    """Map environment failures to CacheError; return None for bugs."""
    if not isinstance(exc, DatabaseError):
        return None
    orig = getattr(exc, "orig", None)
    text = str(orig or exc).lower()
    if isinstance(orig, sqlite3.DatabaseError) and (
        "file is not a database" in text or "malformed" in text
    ):
        return CacheCorrupt(
            "The local cache file is damaged or is not a Gavel cache. "
            "Move it aside (Gavel will build a new one on the next sync)."
        )
    if isinstance(exc, OperationalError):
        if "locked" in text or "busy" in text:
            return CacheError(
                "The local cache is busy (another Gavel may be syncing). Try again in a moment."
            )
        if "disk" in text and "full" in text:
            return CacheError("The disk holding the local cache is full. Free space and retry.")
        if "readonly" in text or "read-only" in text:
            return CacheError("The local cache is read-only. Check the file's permissions.")
        if "unable to open" in text:
            return CacheError("The local cache file cannot be opened. Check its folder exists.")
        if "could not connect" in text or "connection refused" in text:
            return CacheError("The database server cannot be reached. Check it is running.")
    return None
