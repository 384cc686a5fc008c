"""Audit trail view over a large ledger: first paint and memory while scrolling.

    .venv/bin/python -m bench.bench_audit_view [--events 1000000]

Targets (governance issue): first paint <= 300 ms with 1,000,000 events; memory
stays flat while scrolling (the table model holds a count and fetched blocks, not
rows). The ledger is the profile's own ledger database (ctx.audit.store), filled after
its genesis event with ``bench.ledger_data``'s realistic mix (6% signed authority
events, all valid), streamed so loading holds no more than a batch. The console folds
that ledger in the background as it opens, as it would at a customer's. Prints
figures; not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.bootstrap import build_context
from app.stores.paths import resolve_paths
from app.ui.console import build_console
from bench.ledger_data import stream_ledger


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    app = QApplication([])
    with tempfile.TemporaryDirectory(prefix="gavel-audit-bench-") as tmp:
        ctx = build_context(resolve_paths({"GAVEL_HOME": str(Path(tmp))}))
        store = ctx.audit.store
        head = store.head()
        assert head is not None and head.seq == 1, "expected a ledger holding its genesis only"
        started = time.perf_counter()
        store.import_events(stream_ledger(args.events - head.seq, start=head), head)
        assert store.count() == args.events
        print(f"loaded {args.events:,} events in {time.perf_counter() - started:.1f}s")
        console = build_console(ctx)
        window = console.window
        window.resize(1360, 860)
        window.show()
        app.processEvents()
        page = console.audit.page
        rss_before = _rss_mb()

        started = time.perf_counter()
        window.pages.select("audit")
        page.model.reload()
        while not (page.model.rowCount() == args.events and page.model.is_loaded(0)):
            app.processEvents()
        page.table.viewport().repaint()
        first_paint = time.perf_counter() - started
        rss_painted = _rss_mb()

        # Scroll the whole table in 200 screenfuls, letting each page load; twice, so
        # growth that is only the allocator's high-water mark shows as a flat second pass.
        model, bar = page.model, page.table.verticalScrollBar()
        peaks = []
        started = time.perf_counter()
        for _ in range(2):
            peak = _rss_mb()
            for step in range(201):
                bar.setValue(bar.maximum() * step // 200)
                row = page.table.rowAt(10)
                # event_at asks for the row's block as the view's paint would; a block
                # evicted by later ones is asked for again rather than waited on forever.
                while row >= 0 and model.event_at(row) is None:
                    app.processEvents()
                app.processEvents()
                peak = max(peak, _rss_mb())
            peaks.append(peak)
        scroll_s = (time.perf_counter() - started) / 2
        window.close()
        ctx.close()

    print(f"{'first paint of the audit trail':<44} {first_paint * 1000:8.0f} ms   target <= 300 ms")
    print(f"{'RSS before opening the page':<44} {rss_before:8.0f} MB")
    print(f"{'RSS after first paint':<44} {rss_painted:8.0f} MB")
    first, second = peaks
    print(f"{'peak RSS, first scroll':<44} {first:8.0f} MB   (+{first - rss_painted:.0f} MB)")
    print(f"{'peak RSS, second scroll':<44} {second:8.0f} MB   (+{second - first:.0f} MB)")
    print(f"{'scrolling 200 screenfuls':<44} {scroll_s:8.1f} s")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{'process peak RSS (incl. loading the ledger)':<44} {peak_kb / 1024:8.0f} MB")


if __name__ == "__main__":
    main()
