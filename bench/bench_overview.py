"""The managers' Overview at scale: 1,000 models, 100,000 versions, 1,000,000 events.

    .venv/bin/python -m bench.bench_overview [--models 1000] [--versions-per-model 100]
                                             [--events 1000000]

Target (issue 10): overview first paint <= 300 ms. The cache holds the models (tagged
with team, owner and tier; a production alias on most, stage Production on some); the
profile's own ledger is filled with ``bench.ledger_data``'s realistic mix (6% signed
authority events, the rest sync and endpoint observations).

Precomputed, as the console keeps them while it runs: the authority fold (kept
current by ``AuthorityLedger``) and the observation index (``ObservationIndex``),
each caught up once at start-up on a worker and then only by what is appended. So the
figures show the cold start (catching both up) and the first paint of the page once
the console is running, after a sync appended new observations. Prints figures; not
a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.bootstrap import build_context
from app.domain.entities import ModelVersion, RegisteredModel
from app.stores.paths import resolve_paths
from app.stores.snapshot_writer import SnapshotWriter
from app.ui.console import build_console
from app.ui.overview.overview_ui import OVERVIEW_PAGE, OverviewUi
from app.ui.settings.settings_page import SETTINGS_PAGE
from bench.ledger_data import stream_ledger

TEAMS = ("credit-risk", "fraud", "marketing", "operations", "pricing", "")
TIERS = ("high", "medium", "low", "")
BASE_MS = 1_736_154_000_000


def portfolio(models: int, per_model: int) -> tuple[list[RegisteredModel], list[ModelVersion]]:
    out_models, out_versions = [], []
    for i in range(models):
        name = f"model-{i:05d}"
        tags = {"team": TEAMS[i % len(TEAMS)], "risk_tier": TIERS[i % len(TIERS)]}
        if i % 9:
            tags["owner"] = f"owner{i % 17}@example.com"
        aliases = {"production": per_model - 1} if i % 5 else {}
        aliases |= {"champion": per_model} if i % 3 == 0 else {}
        out_models.append(
            RegisteredModel(
                name=name,
                creation_timestamp=BASE_MS,
                last_updated_timestamp=BASE_MS + i * 60_000,
                tags=tags,
                aliases=aliases,
            )
        )
        for v in range(1, per_model + 1):
            stage = "Production" if (i % 5 == 0 and v == per_model) else ""
            out_versions.append(
                ModelVersion(
                    model_name=name,
                    version=v,
                    creation_timestamp=BASE_MS + v * 60_000,
                    user_id=f"trainer{i % 7}",
                    source=f"models:/{name}/{v}",
                    status="READY",
                    current_stage=stage,
                )
            )
    return out_models, out_versions


def wait_idle(ui: OverviewUi) -> None:
    """Wait for the page's read as the console does: idle in Qt's event loop until the
    page says it loaded. (A loop spinning on processEvents() takes the interpreter lock
    from the worker over and over; it made the read look up to 60% slower than it is.)"""
    loop = QEventLoop()
    ui.loaded.connect(loop.quit)
    QTimer.singleShot(120_000, loop.quit)  # a read that failed emits no `loaded`
    if not ui.settled:
        loop.exec()
    ui.loaded.disconnect(loop.quit)
    failed = ui.page.as_of.text().startswith("Could not read")
    assert ui.settled and not failed, f"the overview was not read: {ui.page.as_of.text()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--versions-per-model", type=int, default=100)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    app = QApplication([])
    with tempfile.TemporaryDirectory(prefix="gavel-overview-bench-") as tmp:
        ctx = build_context(resolve_paths({"GAVEL_HOME": str(Path(tmp))}))
        started = time.perf_counter()
        models, versions = portfolio(args.models, args.versions_per_model)
        SnapshotWriter(ctx.db).write(
            "fleet", "http://fleet.invalid", models, versions, {}, datetime.now(UTC)
        )
        print(f"cached {len(models):,} models, {len(versions):,} versions "
              f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
        store = ctx.audit.store
        head = store.head()
        assert head is not None and head.seq == 1, "expected a ledger holding its genesis only"
        started = time.perf_counter()
        store.import_events(stream_ledger(args.events - head.seq, start=head), head)
        print(f"loaded {store.count():,} events in {time.perf_counter() - started:.1f}s")

        # Cold: the fold and the observation index catch up from event 1.
        started = time.perf_counter()
        overview = ctx.overview.overview()
        cold = time.perf_counter() - started

        # A sync appends observations; the page is read again (warm service read).
        aliases = {m.name: dict(m.aliases) for m in models}
        warm = []
        for r in range(args.rounds):
            aliases["model-00001"]["production"] = 1 + r % 3
            ctx.observer.observe("fleet", aliases)
            started = time.perf_counter()
            overview = ctx.overview.overview()
            warm.append(time.perf_counter() - started)

        # First paint of the page in the running console (state kept current).
        console = build_console(ctx)
        window = console.window
        window.resize(1400, 900)
        window.show()
        ui = console.overview
        while not (ui.overview is not None and ui.settled):
            app.processEvents()
        paints, bare = [], []
        for r in range(args.rounds):
            aliases["model-00002"]["production"] = 1 + r % 3
            ctx.observer.observe("fleet", aliases)
            window.select_page("portfolio")
            app.processEvents()
            started = time.perf_counter()
            window.select_page(OVERVIEW_PAGE)  # re-reads on a worker, then renders
            wait_idle(ui)
            ui.page.repaint()
            paints.append(time.perf_counter() - started)
            # Side by side, the same moment's floor: switching to a page that reads
            # nothing and painting it (what any page costs on this machine right now).
            window.select_page("portfolio")
            app.processEvents()
            started = time.perf_counter()
            window.select_page(SETTINGS_PAGE)
            app.processEvents()
            window.repaint()
            bare.append(time.perf_counter() - started)
        window.close()
        figures = {f.key: f.value for f in overview.figures}
        ctx.close()

    print(f"{'figures':<48} {figures}")
    print(f"{'cold read (fold + observation index from 0)':<48} {cold * 1000:8.0f} ms")
    print(f"{'warm service read after a sync, median':<48} "
          f"{statistics.median(warm) * 1000:8.0f} ms")  # fmt: skip
    print(f"{'overview first paint (running console), median':<48} "
          f"{statistics.median(paints) * 1000:8.0f} ms   target <= 300 ms")  # fmt: skip
    print(f"{'overview first paint, worst of ' + str(len(paints)):<48} "
          f"{max(paints) * 1000:8.0f} ms")  # fmt: skip
    print(f"{'each round, in order':<48} "
          f"{' '.join(f'{p * 1000:.0f}' for p in paints)} ms")  # fmt: skip
    print(f"{'bare page switch (Settings, reads nothing)':<48} "
          f"{statistics.median(bare) * 1000:8.0f} ms")  # fmt: skip
    print(f"{'overview first paint / bare page switch':<48} "
          f"{statistics.median(paints) / statistics.median(bare):8.1f} x")  # fmt: skip


if __name__ == "__main__":
    main()
