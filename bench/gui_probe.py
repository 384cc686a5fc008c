"""GUI measurements for bench_sync, each run in a fresh process.

    python -m bench.gui_probe bare T0      first paint of a bare window with an empty table
    python -m bench.gui_probe console T0   first paint of the console's first page, the
                                           Overview's first screen (cache only)
    python -m bench.gui_probe rss          peak RSS of the console after showing everything
    python -m bench.gui_probe stall URL    longest event-loop stall while the console syncs
    python -m bench.gui_probe scale MODEL  scrolling, opening MODEL's detail, peak RSS

T0 is the parent's time.time() just before it started this process, so both first-paint
figures include interpreter start-up and imports alike. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QApplication, QMainWindow, QTableView, QWidget


class _FirstPaint(QObject):
    """Quits the app at the first paint of `watched` once `ready()` holds (a table with
    rows; the Overview's first screen with its figures; anything, if bare)."""

    def __init__(self, watched: QWidget, t0: float, ready: Callable[[], bool]) -> None:
        super().__init__()
        self.t0, self.ready = t0, ready
        self.elapsed: float | None = None
        self.cpu: float | None = None
        watched.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.elapsed is None and self.ready():
            self.elapsed = time.time() - self.t0
            usage = resource.getrusage(resource.RUSAGE_SELF)
            self.cpu = usage.ru_utime + usage.ru_stime
            QTimer.singleShot(0, QApplication.quit)
        return False


def _peak_rss_mb() -> float:
    """This process's peak resident set, from /proc's VmHWM where there is one.

    getrusage's ru_maxrss survives exec on Linux: a probe started by a bench that had
    just synced 30,000 versions in-process reported the bench's peak, not its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _portfolio_view(window: QMainWindow) -> QTableView:
    views = window.findChildren(QTableView)
    for v in views:
        if "portfolio" in (v.objectName() + type(v.model()).__name__).lower() and v.isVisibleTo(
            window
        ):
            return v
    return views[0]


def bare(t0: float) -> None:
    app = QApplication(sys.argv)
    window = QMainWindow()
    view = QTableView()
    view.setModel(QStandardItemModel(0, 8))
    window.setCentralWidget(view)
    probe = _FirstPaint(view.viewport(), t0, lambda: True)
    window.resize(1280, 800)
    window.show()
    app.exec()
    print(json.dumps({"first_paint_s": probe.elapsed, "first_paint_cpu_s": probe.cpu}))


def _console() -> tuple[QApplication, QMainWindow, object, object]:
    from app.bootstrap import build_context
    from app.ui.console import build_console

    app = QApplication(sys.argv)
    ctx = build_context()
    built = build_console(ctx)
    window = built.window
    window.resize(1280, 800)
    return app, window, ctx, built


def console(t0: float) -> None:
    """Stage one of the console's start, as app.ui.main.run_console runs it."""
    from app.stores.paths import resolve_paths
    from app.ui.console import open_first_screen

    app = QApplication(sys.argv)
    window, _ = open_first_screen(resolve_paths())
    window.resize(1280, 800)
    # The console opens on the Overview: its first screen, with the cache's figures.
    first = window.pages.stack.currentWidget()
    assert first is not None, "stage one shows no page"
    counts = getattr(first, "counts", None)
    probe = _FirstPaint(first, t0, lambda: counts is not None and counts.total > 0)
    window.show()
    app.exec()
    heavy = sorted(m for m in ("sqlalchemy", "requests", "matplotlib") if m in sys.modules)
    window.close()
    print(
        json.dumps(
            {"first_paint_s": probe.elapsed, "first_paint_cpu_s": probe.cpu, "heavy_modules": heavy}
        )
    )


def rss() -> None:
    app, window, ctx, _ = _console()
    # The console opens on the Overview: scroll the portfolio where a person sees it.
    window.select_page("portfolio")  # type: ignore[attr-defined]
    view = _portfolio_view(window)
    window.show()

    def scroll_through() -> None:
        # Touch every row once, as a person scrolling the whole portfolio would.
        model = view.model()
        for row in range(0, model.rowCount(), 25):
            view.scrollTo(model.index(row, 0))
            app.processEvents()
        app.quit()

    QTimer.singleShot(200, scroll_through)
    app.exec()
    window.close()
    ctx.close()  # type: ignore[attr-defined]
    print(json.dumps({"peak_rss_mb": _peak_rss_mb()}))


def stall(url: str) -> None:
    """The longest gap between 5 ms heartbeats from the sync's start until its results
    are on screen (the sync finished, no task left running) plus 500 ms."""
    from app.domain.registry import RegistryConfig

    app, window, ctx, built = _console()
    if not ctx.registries.configs():  # type: ignore[attr-defined]
        ctx.registries.add(RegistryConfig(name="bench", url=url))  # type: ignore[attr-defined]
    portfolio = built.portfolio  # type: ignore[attr-defined]
    runner = built.runner  # type: ignore[attr-defined]
    window.show()
    gaps: list[float] = []
    last = [time.perf_counter()]
    measuring = {"on": False, "done_at": 0.0}

    def beat() -> None:
        now = time.perf_counter()
        if measuring["on"]:
            gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(beat)
    heartbeat.start(5)
    done = {"flag": False}
    portfolio.syncer.sync_finished.connect(lambda *_: done.update(flag=True))
    portfolio.syncer.sync_failed.connect(lambda *_: done.update(flag=True))

    def check() -> None:
        if not done["flag"] or runner.running():
            return
        now = time.perf_counter()
        if not measuring["done_at"]:
            measuring["done_at"] = now
        elif now - measuring["done_at"] > 0.5:
            app.quit()

    def start() -> None:
        last[0] = time.perf_counter()
        measuring["on"] = True
        portfolio.sync_now()

    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(50)
    # Start once the window painted and the start-up refreshes are over.
    QTimer.singleShot(1500, start)
    app.exec()
    heartbeat.stop()
    window.close()
    ctx.close()  # type: ignore[attr-defined]
    worst = max(gaps, default=0.0)
    print(json.dumps({"max_stall_ms": (worst - 0.005) * 1000, "beats": len(gaps)}))


def _page_times(view: QTableView, app: QApplication, max_pages: int = 400) -> list[float]:
    """Seconds to scroll one page further and paint it, for pages spread evenly over
    the whole table (all of them when there are at most max_pages)."""
    bar = view.verticalScrollBar()
    step = max(1, bar.pageStep())
    pages = list(range(0, bar.maximum() + step, step))
    if len(pages) > max_pages:
        stride = len(pages) / max_pages
        pages = [pages[int(i * stride)] for i in range(max_pages)]
    times = []
    for value in pages:
        started = time.perf_counter()
        bar.setValue(value)
        view.viewport().repaint()
        times.append(time.perf_counter() - started)
        app.processEvents()
    return times


def scale(model_name: str) -> None:
    """Scroll the portfolio, open `model_name`'s detail, scroll its versions; peak RSS."""
    app, window, ctx, built = _console()
    portfolio = built.portfolio  # type: ignore[attr-defined]
    # The console opens on the Overview; a hidden table scrolls and "paints" for free.
    window.select_page("portfolio")  # type: ignore[attr-defined]
    window.show()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not window.first_paint.opened:  # type: ignore[attr-defined]
        app.processEvents()
    rss_started = _peak_rss_mb()
    table = portfolio.portfolio_view.table
    portfolio_pages = _page_times(table, app)
    rss_scrolled = _peak_rss_mb()
    key = ctx.portfolio.find_model(model_name).model_key  # type: ignore[attr-defined]
    versions = portfolio.detail_view.versions
    started = time.perf_counter()
    portfolio.portfolio_view.select_key(key)
    versions.viewport().repaint()
    open_detail = time.perf_counter() - started
    # The newest versions paint first; wait until a worker listed all of them.
    detail_view = portfolio.detail_view
    while detail_view.detail is not None and not detail_view.detail.versions_complete:
        app.processEvents()
        time.sleep(0.002)
    all_listed = time.perf_counter() - started
    count = versions.model().rowCount()
    app.processEvents()
    version_pages = _page_times(versions, app)
    window.close()
    ctx.close()  # type: ignore[attr-defined]
    peak_mb = _peak_rss_mb()
    print(
        json.dumps(
            {
                "portfolio_page_s": sorted(portfolio_pages)[len(portfolio_pages) // 2],
                "portfolio_page_max_s": max(portfolio_pages),
                "portfolio_pages": len(portfolio_pages),
                "open_detail_s": open_detail,
                "all_versions_listed_s": all_listed,
                "versions_shown": count,
                "versions_page_s": sorted(version_pages)[len(version_pages) // 2],
                "versions_page_max_s": max(version_pages),
                "versions_pages": len(version_pages),
                "peak_rss_mb": peak_mb,
                "peak_rss_after_start_mb": rss_started,
                "peak_rss_after_portfolio_scroll_mb": rss_scrolled,
            }
        )
    )


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "bare":
        bare(float(sys.argv[2]))
    elif mode == "console":
        console(float(sys.argv[2]))
    elif mode == "rss":
        rss()
    elif mode == "stall":
        stall(sys.argv[2])
    elif mode == "scale":
        scale(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {mode}")
