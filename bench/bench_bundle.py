"""Audit bundles at scale: create, verify and open a bundle of a 1,000 x 10 registry
with a 100,000-event ledger.

    .venv/bin/python -m bench.bench_bundle [--models 1000] [--versions 10] [--events 100000]

The cache is written straight through SnapshotWriter (each version with its run: five
params, five metrics with a 20-point history, a dataset); the ledger is
``bench.ledger_data``'s realistic mix, whose founder "ada" signs the bundle with her
bench key. Prints the time to create (with the progress reports it gave) and to
verify, the bundle's size against the cache's, and open-to-first-paint of an audit
session (verify a copy, then the console with its first portfolio rows) as a ratio of
opening the live cache the same way. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from app.bootstrap import AppContext, build_context, build_session_context
from app.domain.bundle import BundleScope
from app.domain.entities import DatasetInput, MetricPoint, ModelVersion, RegisteredModel, Run
from app.domain.progress import Progress
from app.services.bundles import verify_bundle
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from app.stores.snapshot_writer import SnapshotWriter
from app.ui.console import build_console
from bench.ledger_data import FOUNDER, bench_signer, stream_ledger

BASE_MS = 1_736_154_000_000


def snapshot(
    models: int, versions: int
) -> tuple[list[RegisteredModel], list[ModelVersion], dict[str, Run]]:
    out_models, out_versions, runs = [], [], {}
    for i in range(models):
        name = f"model-{i:04d}"
        out_models.append(
            RegisteredModel(
                name=name,
                description=f"Model {i} of the bench portfolio.",
                creation_timestamp=BASE_MS,
                last_updated_timestamp=BASE_MS + i,
                tags={
                    "team": f"team-{i % 9}",
                    "owner": f"owner{i % 13}@example.com",
                    "risk_tier": ("high", "medium", "low")[i % 3],
                },
                aliases={"champion": versions, "challenger": max(1, versions - 1)},
            )
        )
        for v in range(1, versions + 1):
            run_id = f"{i:04d}{v:03d}".ljust(32, "0")
            out_versions.append(
                ModelVersion(
                    model_name=name,
                    version=v,
                    creation_timestamp=BASE_MS + v * 60_000,
                    user_id="trainer",
                    source=f"runs:/{run_id}/model",
                    run_id=run_id,
                    status="READY",
                )
            )
            metrics = {
                k: MetricPoint(k, 0.5 + (i * v % 50) / 100, 19, BASE_MS)
                for k in ("auc", "precision", "recall", "f1", "logloss")
            }
            runs[run_id] = Run(
                run_id=run_id,
                experiment_id=str(i % 20),
                run_name=f"{name}-v{v}",
                user_id="trainer",
                status="FINISHED",
                start_time=BASE_MS,
                end_time=BASE_MS + 60_000,
                params={f"p{k}": str(k * v) for k in range(5)},
                metrics=metrics,
                datasets=(
                    DatasetInput(f"train-{i % 40}", f"{i % 40:064x}", "s3", f"s3://d/{i}", "train"),
                ),
                metric_history={
                    "auc": tuple(MetricPoint("auc", 0.5 + s / 100, s, BASE_MS) for s in range(20))
                },
            )
    return out_models, out_versions, runs


def first_paint(app: QApplication, make: object) -> tuple[float, AppContext]:
    """Seconds from nothing to the console showing its first portfolio rows."""
    started = time.perf_counter()
    ctx = make()  # type: ignore[operator]
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    portfolio = console.portfolio
    while not (portfolio.settled and portfolio.portfolio_model.rowCount() > 0):
        app.processEvents()
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return elapsed, ctx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=1_000)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--events", type=int, default=100_000)
    args = ap.parse_args()
    app = QApplication([])
    with tempfile.TemporaryDirectory(prefix="gavel-bundle-bench-") as tmp:
        paths = resolve_paths({"GAVEL_HOME": str(Path(tmp) / "live")})
        paths.ensure()
        ctx = build_context(paths)
        store = ctx.audit.store
        head = store.head()
        assert head is not None and head.seq == 1
        store.import_events(stream_ledger(args.events - 1, start=head), head)
        models, versions, runs = snapshot(args.models, args.versions)
        SnapshotWriter(ctx.db).write(
            "bench", "http://bench.invalid", models, versions, runs, datetime.now(UTC)
        )
        with sqlite3.connect(paths.cache_db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(
            f"cache: {args.models:,} models x {args.versions} versions; "
            f"ledger: {args.events:,} events"
        )

        out = Path(tmp) / "bench.gavelbundle"
        reports: list[tuple[float, Progress]] = []
        started = time.perf_counter()
        summary = ctx.bundles.write(
            out,
            BundleScope(),
            FOUNDER,
            bench_signer(FOUNDER),
            lambda p: reports.append((time.perf_counter() - started, p)),
        )
        created = time.perf_counter() - started
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(reports)]
        print(
            f"create: {created:.1f}s, {len(reports)} progress reports "
            f"(longest gap {max(gaps, default=0):.2f}s)"
        )
        print(
            f"size: bundle {summary.size / 1e6:.1f} MB, cache {summary.cache_size / 1e6:.1f} MB"
            f", ledger {paths.ledger_db.stat().st_size / 1e6:.1f} MB; bundle / (cache + "
            f"ledger) = {summary.size / (summary.cache_size + paths.ledger_db.stat().st_size):.2f}"
        )

        started = time.perf_counter()
        report = verify_bundle(out)
        assert report.ok, report.problems
        print(f"verify: {time.perf_counter() - started:.1f}s")

        laptop = resolve_paths({"GAVEL_HOME": str(Path(tmp) / "laptop")})
        laptop.ensure()
        ProfileFile(laptop.profile_file).save(Profile(user_id="auditor"))
        ctx.close()
        live_s, live = first_paint(app, lambda: build_context(paths))
        live.close()
        session_s, session = first_paint(app, lambda: build_session_context(out, laptop))
        session.close()
        print(
            f"open to first paint: live cache {live_s:.2f}s, audit session {session_s:.2f}s "
            f"(ratio {session_s / live_s:.1f}x; the session verifies the whole bundle first)"
        )


if __name__ == "__main__":
    main()
