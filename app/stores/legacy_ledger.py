"""The ledger Gavel 0.1 kept inside the cache file, read once so it can be archived
before the cache migration that removes it (0004)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from app.domain.ledger import StoredRow

_CHUNK = 10_000


def legacy_event_count(cache_path: Path) -> int:
    """Events in the cache's own ledger tables (0 when there are none, or no such file)."""
    if not cache_path.exists():
        return 0
    uri = f"file:{cache_path}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            has = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_events'"
            ).fetchone()
            if not has:
                return 0
            return int(conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0])
    except sqlite3.DatabaseError:
        return 0  # a damaged cache is reported when it is opened


def legacy_rows(cache_path: Path) -> Iterator[list[StoredRow]]:
    """The cache's ledger rows in sequence order, ``_CHUNK`` at a time."""
    uri = f"file:{cache_path}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        cur = conn.execute(
            "SELECT seq, body, hash, signer, signature, action FROM ledger_events ORDER BY seq"
        )
        while rows := cur.fetchmany(_CHUNK):
            yield rows
