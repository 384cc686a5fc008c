"""Audit ledger verification benchmark. One command: `make bench-ledger`
(`.venv/bin/python -m bench.bench_ledger [--events N] [--signed-share S]`).

Builds a ledger of N events (default 1,000,000) in the ledger database
(``open_ledger_database``), with every authority event validly signed by a key enrolled
and approved in the same ledger; the mix is ``bench.ledger_data``'s (default 6% signed
authority events, the rest unsigned observations). Then measures, side by side for
SQLite and PostgreSQL, best of --runs, interleaved:

  (a) AuthorityLedger.verify(): the whole audit, the hash chain with every signature
      plus a fresh authority fold over every authority event (target: <= 2x (c)); its
      signature checks run on worker processes (services.signature_pool, one per core
      but one) while the chain is read, so (a) can be less than (b) + (f);
  (b) AuditService.verify(): the chain and its signature checks only, one at a time;
  (f) the fold alone: AuthorityLedger.fresh() with every signature already memoised;
  (c) read + SHA-256: stream only the body column with the same cursor and hash each
      body, the least any verifier reading the database must do;
  (d) SHA-256 alone: the hashing part of (c), bytes already in memory;
  (e) Ed25519 checks alone: Ed25519Verifier over the signed events' (key, signature,
      digest) in a tight loop, nothing read.

and prints (a)/(c), (b)/(c) and the shares of (a) spent on signatures, (e)/(a), on the
fold, (f)/(a), and on the rest of the chain, ((b)-(e))/(a). The same figures follow, in
the same run, for a heavier mix (--heavy-share, default every event after the founder's
set-up an authority event, on --heavy-events events), and how many events' floor (c)
one signed event's full verification costs: the 2x budget pays for one signed event in
about that many. Events are bulk-loaded with LedgerStore.import_events.

PostgreSQL is the server at --pg-url (default: the local one, trust auth); scratch
databases are created and dropped. Ratios hold on a shared, noisy machine; absolute
times do not. Not a test.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.services.audit import AuditService
from app.services.authority import AuthorityLedger
from app.services.signature_pool import default_workers
from app.services.signing import Ed25519Verifier, MemoVerifier
from app.stores.engine import Database, sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database
from bench.ledger_data import (
    DEFAULT_SIGNED_SHARE,
    PG_ADMIN_URL,
    Ledger,
    build_ledger,
    pg_database,
)

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Figures:
    events: int = 0
    signed: int = 0
    load_s: float = 0.0
    stored_mb: float = 0.0
    full_s: float = float("inf")  # (a)
    chain_s: float = float("inf")  # (b)
    fold_s: float = float("inf")  # (f)
    read_hash_s: float = float("inf")  # (c)
    hash_only_s: float = float("inf")  # (d)
    sigs_s: float = float("inf")  # (e)

    @property
    def share(self) -> float:
        return self.signed / self.events


@dataclass
class _Target:
    store: LedgerStore
    figures: Figures


def _measure(target: _Target, ledger: Ledger) -> None:
    """One round of every timing on one backend; keeps each one's best."""
    store, f = target.store, target.figures
    audit = AuditService(store)

    t = time.perf_counter()
    sha256 = hashlib.sha256
    hashing = 0.0
    with closing(store.iter_bodies()) as chunks:
        for rows in chunks:
            h = time.perf_counter()
            for (body,) in rows:
                sha256(body).digest()
            hashing += time.perf_counter() - h
    f.read_hash_s = min(f.read_hash_s, time.perf_counter() - t)
    f.hash_only_s = min(f.hash_only_s, hashing)

    t = time.perf_counter()
    chain = audit.verify()
    f.chain_s = min(f.chain_s, time.perf_counter() - t)
    assert chain.ok and chain.events_checked == f.events, chain.describe()
    assert chain.signatures_checked == f.signed, chain.signatures_checked

    t = time.perf_counter()
    full = AuthorityLedger(audit).verify()
    f.full_s = min(f.full_s, time.perf_counter() - t)
    assert full.ok and not full.open_problems and not full.acknowledged, full.describe()
    assert full.events_checked == f.events and full.signatures_checked == f.signed

    memo = MemoVerifier()
    audit.verify(signatures=memo)
    t = time.perf_counter()
    state = AuthorityLedger(audit, memo).fresh()
    f.fold_s = min(f.fold_s, time.perf_counter() - t)
    assert not state.problems and state.scanned == f.events

    verify = Ed25519Verifier().verify
    t = time.perf_counter()
    for public_key, signature, digest in ledger.signed:
        if not verify(public_key, signature, digest):
            raise AssertionError("a bench signature does not verify")
    f.sigs_s = min(f.sigs_s, time.perf_counter() - t)


@contextmanager
def _ledger_db(backend: str, tmp: Path, name: str, pg_admin: str) -> Iterator[Database]:
    with ExitStack() as stack:
        if backend == "sqlite":
            url = sqlite_url(tmp / f"{name}.sqlite3")
        else:
            url = stack.enter_context(pg_database(pg_admin))
        db = open_ledger_database(url)
        stack.callback(db.dispose)
        yield db


def _bench_mix(
    label: str,
    events: int,
    share: float,
    backends: list[str],
    runs: int,
    tmp: Path,
    pg_admin: str,
) -> dict[str, Figures]:
    print(f"{label}: building {events:,} events ({share:.0%} signed) ...", flush=True)
    started = time.perf_counter()
    ledger = build_ledger(events, share)
    signed = len(ledger.signed)
    print(f"  built in {time.perf_counter() - started:.1f}s: {signed:,} signed", flush=True)
    results: dict[str, Figures] = {}
    with ExitStack() as stack:
        targets = []
        for backend in backends:
            db = stack.enter_context(_ledger_db(backend, tmp, label, pg_admin))
            store = LedgerStore(db)
            figures = results.setdefault(backend, Figures(events=ledger.events, signed=signed))
            print(f"  {backend}: loading ...", flush=True)
            started = time.perf_counter()
            assert store.import_events(ledger.batches, expected_head=None) == ledger.events
            figures.load_s = time.perf_counter() - started
            with closing(store.iter_bodies()) as chunks:
                figures.stored_mb = sum(len(b) for rows in chunks for (b,) in rows) / 1e6
            targets.append(_Target(store, figures))
        ledger.batches.clear()
        gc.collect()
        for run in range(runs):
            for target in targets:
                print(f"  run {run + 1}/{runs}: {_name_of(target, results)} ...", flush=True)
                _measure(target, ledger)
    return results


def _name_of(target: _Target, results: dict[str, Figures]) -> str:
    return next(n for n, f in results.items() if f is target.figures)


def main(argv: list[str] | None = None) -> None:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(prog="bench.bench_ledger", description=doc.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to verify")
    parser.add_argument(
        "--signed-share",
        type=float,
        default=DEFAULT_SIGNED_SHARE,
        help="share of signed authority events in the realistic mix (default %(default)s)",
    )
    parser.add_argument(
        "--heavy-events", type=int, default=30_000, help="events of the heavier mix's ledger"
    )
    parser.add_argument(
        "--heavy-share", type=float, default=1.0, help="signed share of the heavier mix"
    )
    parser.add_argument("--runs", type=int, default=3, help="repeat timings, keep the best")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    backends = [b for b in BACKENDS if not (b == "postgresql" and args.no_pg)]

    with tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp:
        mixes = {
            "realistic": _bench_mix(
                "realistic",
                args.events,
                args.signed_share,
                backends,
                args.runs,
                Path(tmp),
                args.pg_url,
            ),
            "heavy": _bench_mix(
                "heavy",
                args.heavy_events,
                args.heavy_share,
                backends,
                args.runs,
                Path(tmp),
                args.pg_url,
            ),
        }
    print(f"\n(a) checked signatures on {default_workers()} worker process(es) beside its pass")
    _print(mixes, backends)


def _print(mixes: dict[str, dict[str, Figures]], backends: list[str]) -> None:
    def row(label: str, value: Callable[[Figures], str], mix: str = "realistic") -> None:
        cells = "".join(f"{value(mixes[mix][b]):>14}" for b in backends)
        print(f"{label:<58}{cells}")

    real = mixes["realistic"][backends[0]]
    heavy = mixes["heavy"][backends[0]]
    print()
    print(f"{'':58}" + "".join(f"{b:>14}" for b in backends))
    print(
        f"realistic mix: {real.events:,} events, {real.signed:,} signed "
        f"({real.share:.1%}), best of the runs"
    )
    row("  bulk load (s)", lambda r: f"{r.load_s:.1f}")
    row("  stored body bytes (MB)", lambda r: f"{r.stored_mb:.0f}")
    row("  (a) AuthorityLedger.verify: chain + fold (s)", lambda r: f"{r.full_s:.2f}")
    row("  (b) AuditService.verify: chain + signatures (s)", lambda r: f"{r.chain_s:.2f}")
    row("  (f) fold alone, signatures memoised (s)", lambda r: f"{r.fold_s:.2f}")
    row("  (c) baseline: read + SHA-256 bodies (s)", lambda r: f"{r.read_hash_s:.2f}")
    row("  (d) baseline: SHA-256 alone (s)", lambda r: f"{r.hash_only_s:.2f}")
    row(f"  (e) Ed25519 checks alone, {real.signed:,} (s)", lambda r: f"{r.sigs_s:.2f}")
    _ratios(row, "realistic")
    row("  one Ed25519 check (µs)", lambda r: f"{r.sigs_s / r.signed * 1e6:.0f}")
    print(
        f"heavier mix: {heavy.events:,} events, {heavy.signed:,} signed ({heavy.share:.1%}), "
        "same run"
    )
    _ratios(row, "heavy")
    row(
        "  (a) per event, all but the set-up signed (µs)",
        lambda r: f"{r.full_s / r.events * 1e6:.0f}",
        "heavy",
    )
    print("both mixes")
    row("  (c) per event, realistic mix (µs)", lambda r: f"{r.read_hash_s / r.events * 1e6:.1f}")
    row(
        "  one signed event's (a), heavy, in events of (c), realistic",
        lambda r: _signed_in_floor_events(mixes, r),
    )


def _ratios(row: Callable[..., None], mix: str) -> None:
    row("  (a) / (c)   target <= 2", lambda r: f"{r.full_s / r.read_hash_s:.2f}", mix)
    row("  (b) / (c)", lambda r: f"{r.chain_s / r.read_hash_s:.2f}", mix)
    row("  (a) / (d)", lambda r: f"{r.full_s / r.hash_only_s:.2f}", mix)
    row("  share of (a): signature checks, (e) / (a)", lambda r: f"{r.sigs_s / r.full_s:.0%}", mix)
    row("  share of (a): authority fold, (f) / (a)", lambda r: f"{r.fold_s / r.full_s:.0%}", mix)
    row(
        "  share of (a): chain read, hash, JSON, ((b) - (e)) / (a)",
        lambda r: f"{(r.chain_s - r.sigs_s) / r.full_s:.0%}",
        mix,
    )
    row(
        "  ((b) + (f)) / (a)   above 1: the workers overlapped the pass",
        lambda r: f"{(r.chain_s + r.fold_s) / r.full_s:.2f}",
        mix,
    )


def _signed_in_floor_events(mixes: dict[str, dict[str, Figures]], fig: Figures) -> str:
    """How many events' read + SHA-256 floor one signed event's full verification costs:
    the 2x budget pays for about one signed event in that many."""
    backend = next(b for b, f in mixes["realistic"].items() if f is fig)
    heavy, real = mixes["heavy"][backend], mixes["realistic"][backend]
    return f"{(heavy.full_s / heavy.events) / (real.read_hash_s / real.events):.0f}"


if __name__ == "__main__":
    main()
