"""Performance and endpoint charts render offscreen from the cache, follow the palette
(light and dark) and export non-blank PNGs; the Metrics and Compare tabs load them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtGui import QColor, QImage, QPalette
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.endpoint_metrics import WindowStats
from app.domain.endpoint_timeline import HealthBand, health_bands, outages
from app.domain.endpoints import EndpointSample
from app.domain.performance import HistoryAxis, metric_across_versions
from app.ui.console import Console, build_console
from app.ui.insights.performance_charts import (
    ComparisonChart,
    HistorySeries,
    MetricHistoryChart,
    MetricsAcrossVersionsChart,
)
from app.ui.serving.endpoint_charts import EndpointCharts
from tests import lineage_data as data
from tests.test_ui_lineage import pixel_spread
from tests.ui_helpers import make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    data.seed_lineage_model(context)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def model_key(ctx: AppContext) -> int:
    return ctx.portfolio.find_model(data.MODEL, data.REGISTRY).model_key


def _show(qtbot: QtBot, chart: object, width: int = 900, height: int = 420) -> None:
    qtbot.addWidget(chart)
    chart.resize(width, height)  # type: ignore[attr-defined]
    chart.show()  # type: ignore[attr-defined]
    qtbot.waitExposed(chart)


def test_metric_across_versions_highlights_production(
    ctx: AppContext, model_key: int, qtbot: QtBot, tmp_path: Path
) -> None:
    chart = MetricsAcrossVersionsChart()
    _show(qtbot, chart)
    metrics = ctx.performance.model_metrics(model_key)
    series = metric_across_versions(metrics, "test_auc")
    assert series.highlight == ("production", 3)
    assert series.best_version == 4
    chart.set_data(series)
    chart.draw()
    ax = chart.figure.axes[0]
    assert ax.get_title(loc="left").startswith("test_auc across versions of mortgage-pd")
    assert ax.get_xlabel() and ax.get_ylabel() == "test_auc (score)"
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["v1", "v2", "v3\nproduction", "v4\nchampion"]
    png = chart.export_png(tmp_path / "across.png")
    assert pixel_spread(png) > 10
    save_screenshot(chart, "charts_metric_across_versions")

    missing = metric_across_versions(metrics, "not_logged")
    chart.set_data(missing)
    assert not chart.has_chart and "logged not_logged" in chart.title


def test_run_history_by_step_and_by_time(ctx: AppContext, qtbot: QtBot, tmp_path: Path) -> None:
    chart = MetricHistoryChart()
    _show(qtbot, chart)
    run4 = ctx.performance.run(data.REGISTRY, data.run_id(data.MODEL, 4))
    run3 = ctx.performance.run(data.REGISTRY, data.run_id(data.MODEL, 3))
    assert run4 is not None and run3 is not None
    series = [
        HistorySeries(
            "v4 (champion)",
            tuple(ctx.performance.history(data.REGISTRY, run4.run_id, "val_auc")),
            run4.start_time,
        ),
        HistorySeries(
            "v3 (production)",
            tuple(ctx.performance.history(data.REGISTRY, run3.run_id, "val_auc")),
            run3.start_time,
            emphasis=False,
        ),
    ]
    chart.set_data("val_auc", series, HistoryAxis.STEP)
    chart.draw()
    ax = chart.figure.axes[0]
    assert ax.get_xlabel() == "Training step"
    line = ax.get_lines()[0]
    assert list(line.get_xdata())[:3] == [0.0, 1.0, 2.0]
    assert len(line.get_xdata()) == 16  # 12 + version steps
    chart.set_axis(HistoryAxis.TIME)
    chart.draw()
    ax = chart.figure.axes[0]
    assert ax.get_xlabel() == "Minutes since the run started"
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(0.75)  # first point 45 s in
    assert pixel_spread(chart.export_png(tmp_path / "history.png")) > 10
    save_screenshot(chart, "charts_run_history")


def test_compare_chart_colours_better_and_worse(
    ctx: AppContext, model_key: int, qtbot: QtBot, tmp_path: Path
) -> None:
    chart = ComparisonChart()
    _show(qtbot, chart)
    comparison = ctx.performance.compare(model_key, 2, 4)
    chart.set_data(comparison)
    chart.draw()
    ax = chart.figure.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "test_auc"  # the headline metric on top
    bars = {label: bar for label, bar in zip(labels, ax.patches, strict=True)}
    good = QColor(chart.theme.good).name()
    assert QColor.fromRgbF(*bars["fairness_gap"].get_facecolor()).name() == good
    assert QColor.fromRgbF(*bars["test_auc"].get_facecolor()).name() == good
    assert pixel_spread(chart.export_png(tmp_path / "compare.png")) > 10
    save_screenshot(chart, "charts_compare")


def synthetic_samples(now: datetime, hours: float = 6.0) -> list[EndpointSample]:
    """A probe every 30 s with a daily traffic shape and a 10-minute outage."""
    out = []
    start = now - timedelta(hours=hours)
    for i in range(int(hours * 120)):
        at = start + timedelta(seconds=30 * i)
        minutes = i / 2
        down = 120 <= minutes < 130
        p50 = 0.02 + 0.004 * math.sin(minutes / 30)
        stats = (
            None
            if down
            else WindowStats(
                30, 600, 20 + 5 * math.sin(minutes / 60), 0.01, p50 * 1.2, p50, p50 * 2.2, p50 * 3.1
            )
        )
        reason = "Connection refused by 127.0.0.1:8080." if down else ""
        out.append(
            EndpointSample(
                int(at.timestamp() * 1000), 0, 1, 0.0 if down else 1.0, reason, 0.004, stats
            )
        )
    return out


def test_endpoint_charts_and_health_timeline(qtbot: QtBot, tmp_path: Path) -> None:
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    samples = synthetic_samples(now)
    bands = health_bands(
        samples, int((now - timedelta(hours=24)).timestamp() * 1000), int(now.timestamp() * 1000)
    )
    assert [b.state for b in bands] == [
        HealthBand.NO_DATA,
        HealthBand.UP,
        HealthBand.DOWN,
        HealthBand.UP,
    ]
    (outage,) = outages(bands)
    assert outage.duration_ms == 10 * 60_000 and "refused" in outage.reason

    chart = EndpointCharts()
    _show(qtbot, chart, 1100, 620)
    chart.set_data("mortgage", samples, now - timedelta(hours=24), now, "last 24 hours")
    chart.draw()
    lat, rate, err, health = chart.figure.axes[:4]
    assert lat.get_ylabel() == "Latency (ms)" and rate.get_ylabel() == "Requests (per s)"
    assert err.get_ylabel() == "Errors (%)" and health.get_xlabel() == "Local time"
    shown = [line.get_label() for line in lat.get_lines() if line.get_visible()]
    assert shown == ["p50", "p95", "p99"]
    legend = lat.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == shown
    assert max(lat.get_lines()[0].get_ydata()) == pytest.approx(24.0, abs=0.1)  # ms, not s
    assert "up in 97.2% of probes" in lat.get_title(loc="left")
    assert pixel_spread(chart.export_png(tmp_path / "endpoint.png")) > 10
    save_screenshot(chart, "charts_endpoint_24h")

    # New data on the same axes (the fast path): artists updated, not rebuilt.
    chart.set_data("mortgage", samples[-120:], now - timedelta(hours=1), now, "last hour")
    chart.draw()
    assert chart.figure.axes[0] is lat
    assert lat.get_title(loc="left").startswith("mortgage — last hour")
    assert len(lat.get_lines()[0].get_xdata()) == 120

    chart.set_data("mortgage", [], now - timedelta(hours=1), now, "last hour")
    assert not chart.has_chart and "No probes of mortgage" in chart.title


def test_charts_follow_a_dark_palette(qtbot: QtBot, tmp_path: Path) -> None:
    chart = EndpointCharts()
    _show(qtbot, chart, 1000, 560)
    dark = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#1e1e1e"),
        (QPalette.ColorRole.Base, "#121212"),
        (QPalette.ColorRole.WindowText, "#e5e5e5"),
        (QPalette.ColorRole.Text, "#e5e5e5"),
    ):
        dark.setColor(role, QColor(color))
    chart.setPalette(dark)
    # The figure takes the Window colour: it is part of the page, not a Base card.
    assert chart.theme.dark and chart.theme.background == "#1e1e1e"
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    chart.set_data(
        "mortgage", synthetic_samples(now, 1.0), now - timedelta(hours=1), now, "last hour"
    )
    png = chart.export_png(tmp_path / "dark.png")
    corner = QImage(str(png)).pixelColor(3, 3)
    assert corner.name() == "#1e1e1e"
    assert pixel_spread(png) > 5
    save_screenshot(chart, "charts_endpoint_dark")


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    console = build_console(ctx)
    console.window.resize(1500, 1000)
    console.window.show()
    qtbot.waitExposed(console.window)
    try:
        yield console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_metrics_and_compare_tabs(console: Console, model_key: int, qtbot: QtBot) -> None:
    # Charts (and matplotlib) are built only when their tab is first opened.
    tabs = console.portfolio.detail_view.tabs
    assert not tabs.slot("metrics").is_built
    assert console.portfolio.portfolio_view.select_key(model_key)
    console.portfolio.content_splitter.setSizes([260, 720])
    qtbot.waitUntil(lambda: console.portfolio.detail_view.selected_version is not None)

    tabs.select("metrics")
    assert console.insights.metrics is not None
    tab = console.insights.metrics.view
    qtbot.waitUntil(lambda: tab.across.has_chart and tab.history.has_chart, timeout=10_000)
    assert tab.current_metric == "test_auc"
    # test_auc was logged once: the history shows the headline metric that has a curve.
    assert tab.current_history_metric == "val_auc"
    assert [tab.history_metric.itemText(i) for i in range(tab.history_metric.count())] == [
        "val_auc",
        "train_loss",
    ]
    assert [s.label for s in tab.history.series] == ["v4 (champion)", "v3 (production)"]
    tab.by_time.setChecked(True)
    assert tab.history.axis is HistoryAxis.TIME
    save_screenshot(console.window, "charts_metrics_tab")

    tabs.select("compare")
    assert console.insights.compare is not None
    compare = console.insights.compare.view
    qtbot.waitUntil(lambda: compare.comparison is not None, timeout=10_000)
    assert compare.pair == (3, 4)  # production against the selected version
    assert compare.comparison is not None and compare.comparison.version_b == 4
    compare.version_a.setCurrentIndex(compare.version_a.findData(1))
    qtbot.waitUntil(
        lambda: compare.comparison is not None and compare.comparison.version_a == 1,
        timeout=10_000,
    )
    assert compare.params.rowCount() == 3
    assert "1 dataset differs" in compare.summary.text()
    assert compare.chart.has_chart
    save_screenshot(console.window, "charts_compare_tab")
