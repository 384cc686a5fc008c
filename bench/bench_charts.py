"""Endpoint chart benchmark. One command: `.venv/bin/python -m bench.bench_charts`.

Stores 100,000 samples of one endpoint (a probe every 10 s, about 11.6 days) through
the endpoint history store, then times the console's latency chart (latency
percentiles, request rate, error rate, health timeline) from request to first paint:

  SQL path: EndpointService.series downsamples in SQL to 600 points, the chart draws
    them and the widget paints: target <= 200 ms;
  baseline: the same chart drawn from 500 points already in memory (no query), so the
    ratio says what the 100,000 stored samples cost on top of drawing;
  no downsampling: all 100,000 points read back and drawn, for contrast.

Runs offscreen (QT_QPA_PLATFORM=offscreen unless set). Medians of --runs runs after
one warm-up. Not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.domain.endpoint_metrics import WindowStats
from app.domain.endpoints import EndpointSample
from app.stores.endpoint_history import EndpointHistory
from app.stores.endpoint_store import EndpointStore
from app.stores.engine import sqlite_url
from app.stores.migrate import open_database
from app.ui.serving.endpoint_charts import EndpointCharts

ENDPOINT = "bench-endpoint"
TARGET_MS = 200.0
CHART_POINTS = 600  # what the Endpoints page asks for


def _samples(total: int, end: datetime, step_s: int = 10) -> list[EndpointSample]:
    start = end - timedelta(seconds=step_s * total)
    out = []
    for i in range(total):
        hours = i * step_s / 3600
        down = i % 5000 < 12  # a two-minute outage every ~14 hours
        p50 = 0.02 + 0.005 * math.sin(hours / 24 * 2 * math.pi)
        stats = (
            None
            if down
            else WindowStats(
                step_s,
                200,
                20 + 8 * math.sin(hours / 3),
                0.01,
                p50 * 1.1,
                p50,
                p50 * 2.3,
                p50 * 3.4,
            )
        )
        at = int((start + timedelta(seconds=step_s * i)).timestamp() * 1000)
        out.append(
            EndpointSample(at, 0, 1, 0.0 if down else 1.0, "refused" if down else "", 0.004, stats)
        )
    return out


def _median_ms(fn: Callable[[], None], runs: int) -> tuple[float, float]:
    """(first run, median of the next `runs`) in milliseconds."""
    times = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times[0], statistics.median(times[1:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--samples", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="gavel-bench-charts-") as tmp:
        db = open_database(sqlite_url(Path(tmp) / "cache.sqlite3"))
        try:
            store, history = EndpointStore(db), EndpointHistory(db)
            end = datetime.now(UTC).replace(microsecond=0)
            samples = _samples(args.samples, end)
            t0 = time.perf_counter()
            store.add_samples(ENDPOINT, samples)
            insert_s = time.perf_counter() - t0
            since, until = end - timedelta(seconds=10 * args.samples + 10), end + timedelta(1)
            label = f"last {(until - since).days} days"

            chart = EndpointCharts()
            chart.resize(1200, 640)
            chart.show()
            app.processEvents()

            def paint(points: list[EndpointSample]) -> None:
                chart.set_data(ENDPOINT, points, since, until, label)  # schedules a draw
                chart.repaint()  # the paint event renders and shows it: the first paint

            def sql_path() -> None:
                paint(history.series(ENDPOINT, since, until, CHART_POINTS))

            pre = history.series(ENDPOINT, since, until, 500)

            def baseline() -> None:
                paint(pre)

            def query_only() -> None:
                history.series(ENDPOINT, since, until, CHART_POINTS)

            def everything() -> None:
                paint(history.series(ENDPOINT, since, until, args.samples * 2))

            cold, sql_ms = _median_ms(sql_path, args.runs)
            _, query_ms = _median_ms(query_only, args.runs)
            _, base_ms = _median_ms(baseline, args.runs)
            _, all_ms = _median_ms(everything, max(1, args.runs // 2))
            chart.close()
            chart.deleteLater()
            app.processEvents()
        finally:
            db.dispose()
    stored = len(samples)
    print(f"latency chart over {stored:,} stored samples ({stored * 10 / 86400:.1f} days at 10 s):")
    print(f"  bulk insert (EndpointStore.add_samples) {insert_s:>8.2f} s")
    print(
        f"  first paint, SQL-downsampled to {CHART_POINTS} points  {sql_ms:>8.1f} ms "
        f"(median of {args.runs}; first run {cold:.1f} ms)   target <= {TARGET_MS:.0f} ms: "
        f"{'met' if sql_ms <= TARGET_MS else 'NOT met'}"
    )
    print(f"    of which the SQL query               {query_ms:>8.1f} ms")
    print(f"  first paint from 500 points in memory  {base_ms:>8.1f} ms")
    print(f"  ratio SQL path / in-memory 500 points  {sql_ms / base_ms:>8.2f} x")
    print(
        f"  first paint of all {stored:,} points    {all_ms:>8.1f} ms "
        f"({all_ms / sql_ms:.1f} x the SQL path: why the chart downsamples)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
