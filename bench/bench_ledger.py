"""Audit ledger benchmark. One command: `.venv/bin/python -m bench.bench_ledger [--events N]`.

Prints, side by side for SQLite and PostgreSQL:

  append throughput: AuditService.record, one transaction per event, as the console does;
  verify of N events (default 1,000,000) against two baselines over the same stored bytes:
    - read + SHA-256: stream only the body column with the same cursor and hash each body
      (the least any verifier reading the database must do), target: verify <= 2x;
    - SHA-256 alone: the hashing part of that pass, bytes already in memory.

The N events are bulk-loaded through LedgerStore.importing (chain built in Python,
inserted in batches). PostgreSQL is the server at GAVEL_BENCH_PG_URL (default: the
local one, trust auth); a scratch database is created and dropped. Ratios hold on a
shared, noisy machine; absolute times do not. Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from app.domain.ledger import (
    GENESIS_HASH,
    LedgerAction,
    LedgerDraft,
    StoredRow,
    canonical_body,
    format_ts,
)
from app.domain.ledger_query import alias_payload, model_subject
from app.services.audit import AuditService
from app.stores.engine import Database, sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_database

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOAD_BATCH = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# Exactly canonical_body's output for a promotion-style event (checked at start-up):
# building a million bodies through rfc8785 would take longer than the benchmark.
_TEMPLATE = (
    b'{"event":{"action":"promotion.applied","actor":"%b",'
    b'"after":{"alias":"champion","version":%d},"before":{"alias":"champion","version":%d},'
    b'"reason":"Promotion %d applied after two approvals (policy P-7).",'
    b'"subject":"%b","ts":"%b"},"format":1,"prev":"%b","seq":%d,"signer":null}'
)
_ACTORS = ("alice", "bob", "carol", "dave")


@dataclass
class Figures:
    appends_per_s: float = 0.0
    load_s: float = 0.0
    verify_s: float = 0.0
    read_hash_s: float = 0.0
    hash_only_s: float = 0.0
    stored_mb: float = 0.0


def _fast_body(seq: int, prev: str) -> bytes:
    actor = _ACTORS[seq % len(_ACTORS)]
    subject = model_subject("bench", f"model-{seq % 500}")
    at = format_ts(T0 + timedelta(milliseconds=seq))
    return _TEMPLATE % (
        actor.encode(),
        seq + 1,
        seq,
        seq,
        subject.encode(),
        at.encode(),
        prev.encode(),
        seq,
    )


def _check_template() -> None:
    for seq in (1, 2, 999_999):
        draft = LedgerDraft(
            _ACTORS[seq % len(_ACTORS)],
            LedgerAction.PROMOTION_APPLIED.value,
            model_subject("bench", f"model-{seq % 500}"),
            alias_payload("champion", seq),
            alias_payload("champion", seq + 1),
            f"Promotion {seq} applied after two approvals (policy P-7).",
        )
        at = T0 + timedelta(milliseconds=seq)
        expected = canonical_body(seq=seq, at=at, draft=draft, prev_hash="ab" * 32)
        assert _fast_body(seq, "ab" * 32) == expected, "bench template drifted from format 1"


def _chain(n: int) -> Iterator[list[StoredRow]]:
    prev = GENESIS_HASH
    batch: list[StoredRow] = []
    sha256 = hashlib.sha256
    action = LedgerAction.PROMOTION_APPLIED.value
    for seq in range(1, n + 1):
        body = _fast_body(seq, prev)
        prev = sha256(body).hexdigest()
        batch.append((seq, body, prev, None, None, action))
        if len(batch) == LOAD_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def _pg_database(admin_url: str) -> Iterator[str]:
    name = f"gavel_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _best_of(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def _bench_appends(db: Database, n: int) -> float:
    audit = AuditService(LedgerStore(db))
    started = time.perf_counter()
    for i in range(n):
        audit.record(
            _ACTORS[i % 4],
            LedgerAction.COMMENT_ADDED,
            model_subject("bench", "fraud"),
            after={"comment": i},
            reason="benchmark append",
        )
    return n / (time.perf_counter() - started)


def _bench_verify(db: Database, n: int, runs: int, figures: Figures) -> None:
    store = LedgerStore(db)
    started = time.perf_counter()
    store.import_events(_chain(n), expected_head=None)
    figures.load_s = time.perf_counter() - started

    audit = AuditService(store)

    def verify() -> float:
        t = time.perf_counter()
        report = audit.verify()
        elapsed = time.perf_counter() - t
        assert report.ok and report.events_checked == n, report.describe()
        return elapsed

    def read_and_hash() -> float:
        sha256 = hashlib.sha256
        hashing = 0.0
        t = time.perf_counter()
        with closing(store.iter_bodies()) as chunks:
            for rows in chunks:
                h = time.perf_counter()
                for (body,) in rows:
                    sha256(body).digest()
                hashing += time.perf_counter() - h
        elapsed = time.perf_counter() - t
        figures.hash_only_s = min(figures.hash_only_s or hashing, hashing)
        return elapsed

    with closing(store.iter_bodies()) as chunks:
        figures.stored_mb = sum(len(body) for rows in chunks for (body,) in rows) / 1e6
    figures.read_hash_s = _best_of(runs, read_and_hash)
    figures.verify_s = _best_of(runs, verify)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.bench_ledger", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to verify")
    parser.add_argument("--appends", type=int, default=2_000, help="events to append one by one")
    parser.add_argument("--runs", type=int, default=3, help="repeat timings, keep the best")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    _check_template()

    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp:
        for backend in ("sqlite", "postgresql"):
            if backend == "postgresql" and args.no_pg:
                continue
            figures = results.setdefault(backend, Figures())
            for phase in ("append", "verify"):
                with _scratch(backend, Path(tmp), phase, args.pg_url) as db:
                    print(f"{backend}: {phase} ...", flush=True)
                    if phase == "append":
                        figures.appends_per_s = _bench_appends(db, args.appends)
                    else:
                        _bench_verify(db, args.events, args.runs, figures)
    _print(results, args.events, args.appends)


@contextmanager
def _scratch(backend: str, tmp: Path, phase: str, pg_admin: str) -> Iterator[Database]:
    if backend == "sqlite":
        db = open_database(sqlite_url(tmp / f"{phase}.sqlite3"))
        try:
            yield db
        finally:
            db.dispose()
        return
    with _pg_database(pg_admin) as url:
        db = open_database(url)
        try:
            yield db
        finally:
            db.dispose()


def _print(results: dict[str, Figures], events: int, appends: int) -> None:
    names = list(results)
    col = lambda f: "".join(f"{f(results[n]):>16}" for n in names)  # noqa: E731
    print()
    print(f"{'':44}" + "".join(f"{n:>16}" for n in names))
    print(
        f"{f'append, {appends:,} events (events/s)':44}" + col(lambda r: f"{r.appends_per_s:,.0f}")
    )
    print(f"{f'bulk load {events:,} events (s)':44}" + col(lambda r: f"{r.load_s:.1f}"))
    print(f"{'stored body bytes (MB)':44}" + col(lambda r: f"{r.stored_mb:.0f}"))
    print(f"{'verify (s)':44}" + col(lambda r: f"{r.verify_s:.2f}"))
    print(f"{'baseline: read + SHA-256 bodies (s)':44}" + col(lambda r: f"{r.read_hash_s:.2f}"))
    print(f"{'baseline: SHA-256 alone (s)':44}" + col(lambda r: f"{r.hash_only_s:.2f}"))
    print(
        f"{'verify / (read + SHA-256)   target <= 2':44}"
        + col(lambda r: f"{r.verify_s / r.read_hash_s:.2f}")
    )
    print(f"{'verify / SHA-256 alone':44}" + col(lambda r: f"{r.verify_s / r.hash_only_s:.2f}"))


if __name__ == "__main__":
    main()
