"""Delivery report over a large ledger and cache. One command: `make bench-delivery`
(`.venv/bin/python -m bench.bench_delivery [--events N] [--models M] [--versions V]`).

Target (issue 10): the delivery report with 1,000 models, 100,000 versions and
1,000,000 ledger events in <= 1 s.

Builds a profile whose ledger holds N events (default 1,000,000) of
``bench.ledger_data``'s realistic mix (6% signed authority events: ~10,000 promotions
requested, approved twice and applied; the rest observations, 70% of them serving
drift seen and resolved), loaded with LedgerStore.import_events, and whose cache holds
M models (default 1,000, each with a team tag) and V versions (default 100,000),
written by the SnapshotWriter as a sync would. Then measures, best of --runs:

  (r) the floor: reading the N events' bodies from the ledger (the cursor alone);
  (f) the authority fold brought up to the head (the console keeps it current as
      events arrive; a first report pays it once);
  (c) the first report of a fresh DeliveryService: reading the events it needs through
      the action index, summarising them, and computing the report (fold already
      current);
  (w) a report once the summary is current: what every later report costs;
  (i) a report after K more events were appended (default 1,000): the summary reads
      only those;
  (t) the tables the page and the command line show, formatted from a report;

and prints each with its ratio to (r). Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from app.bootstrap import build_context
from app.domain.delivery_tables import tables
from app.domain.entities import ModelVersion, RegisteredModel, Run
from app.services.delivery import DeliveryService
from app.stores.endpoint_history import EndpointHistory
from app.stores.engine import Database
from app.stores.paths import resolve_paths
from app.stores.portfolio_queries import PortfolioQueries
from app.stores.snapshot_writer import SnapshotWriter
from bench.ledger_data import REGISTRY, stream_ledger

TEAMS = ("credit-risk", "fraud", "marketing", "operations", "pricing", "churn", "claims")
BASE_MS = 1_609_459_200_000  # 2021-01-01: every version registered before the ledger starts


def _best(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _seed_cache(db: Database, models: int, versions: int) -> None:
    per = max(1, versions // models)
    reg_models, reg_versions, runs = [], [], {}
    for m in range(models):
        name = f"model-{m:03d}"
        reg_models.append(
            RegisteredModel(name, tags={"team": TEAMS[m % len(TEAMS)]}, aliases={"champion": 1})
        )
        for v in range(1, per + 1):
            run_id = f"run-{m}-{v}"
            ms = BASE_MS + v * 3_600_000
            reg_versions.append(ModelVersion(name, v, ms, ms, user_id="trainer", run_id=run_id))
            runs[run_id] = Run(run_id=run_id, experiment_id="1", status="FINISHED")
    SnapshotWriter(db).write(
        REGISTRY, "http://prod.invalid", reg_models, reg_versions, runs, datetime.now(UTC)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=1_000)
    ap.add_argument("--versions", type=int, default=100_000)
    ap.add_argument("--more", type=int, default=1_000, help="events appended for (i)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gavel-delivery-bench-") as tmp:
        ctx = build_context(resolve_paths({"GAVEL_HOME": str(Path(tmp))}))
        try:
            store = ctx.audit.store
            head = store.head()
            assert head is not None and head.seq == 1, "expected a ledger holding its genesis"
            started = time.perf_counter()
            store.import_events(stream_ledger(args.events - head.seq, start=head), head)
            print(f"ledger: {args.events:,} events loaded in {time.perf_counter() - started:.1f}s")
            started = time.perf_counter()
            _seed_cache(ctx.db, args.models, args.versions)
            print(
                f"cache: {args.models:,} models, {args.versions:,} versions written in "
                f"{time.perf_counter() - started:.1f}s"
            )

            def read_floor() -> None:
                with closing(store.iter_bodies()) as chunks:
                    for _rows in chunks:
                        pass

            floor = _best(read_floor, args.runs)
            started = time.perf_counter()
            ctx.authority.read(lambda _s: None)
            fold = time.perf_counter() - started

            def fresh() -> DeliveryService:
                return DeliveryService(
                    ctx.authority, PortfolioQueries(ctx.db), EndpointHistory(ctx.db)
                )

            cold = float("inf")
            for _ in range(args.runs):
                service = fresh()
                started = time.perf_counter()
                report = service.report()
                cold = min(cold, time.perf_counter() - started)
            warm = _best(service.report, args.runs)
            formatted = _best(lambda: tables(report), args.runs)

            new_head = store.head()
            assert new_head is not None
            store.import_events(stream_ledger(args.more, start=new_head), new_head)
            started = time.perf_counter()
            after = service.report()
            incremental = time.perf_counter() - started
        finally:
            ctx.close()
    o = report.overall
    print(
        f"report: {o.promotions:,} promotions, {len(report.rollbacks):,} rollbacks, "
        f"{len(report.incidents):,} incidents, {o.request_to_applied.count:,} requests "
        f"applied, {len(report.teams)} teams; after +{args.more:,} events: "
        f"{after.overall.promotions:,} promotions"
    )
    rows = [
        ("(r) read every event's body (floor)", floor),
        ("(f) authority fold to the head (kept current by the console)", fold),
        ("(c) first report, fresh summary (fold current)", cold),
        ("(w) report, summary current", warm),
        (f"(i) report after {args.more:,} more events", incremental),
        ("(t) tables formatted from a report", formatted),
    ]
    for label, seconds in rows:
        print(f"  {label:<62} {seconds:8.3f} s   {seconds / floor:6.2f}x (r)")
    target = "meets" if warm <= 1.0 and incremental <= 1.0 else "MISSES"
    print(f"target <= 1 s for the report once the summary is current: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
