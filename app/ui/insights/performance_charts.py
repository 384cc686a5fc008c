"""Model performance charts: a metric across versions, a run's metric history, and
the metric changes between two versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PySide6.QtWidgets import QWidget

from app.domain.entities import MetricPoint
from app.domain.performance import (
    HistoryAxis,
    MetricAcrossVersions,
    VersionComparison,
    axis_label,
    history_xy,
    lower_is_better,
)
from app.ui.common.charts.canvas import FONT_SIZE, ChartCanvas
from app.ui.common.charts.theme import ChartTheme


def format_value(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if abs(value) >= 1000 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.4g}"


class MetricsAcrossVersionsChart(ChartCanvas):
    """One metric for every version, oldest to newest; the production (else champion)
    version ringed and a dashed line at its level, so a newer version reads at a
    glance as better or worse than what is live."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: MetricAcrossVersions | None = None

    def set_data(self, data: MetricAcrossVersions) -> None:
        self.data = data
        known = [v for v, x in data.points if x is not None]
        if not known:
            self.show_message(
                f"No version of {data.model} logged {data.key}",
                "Pick another metric, or sync the registry if runs are missing.",
            )
            return
        self.title = f"{data.key} across versions of {data.model}"
        self.show_chart()

    def draw_chart(self, figure: Figure, theme: ChartTheme) -> None:
        d = self.data
        assert d is not None
        ax = figure.add_subplot()
        versions = [v for v, _ in d.points]
        xs = list(range(len(versions)))
        known = [(x, v, val) for x, (v, val) in zip(xs, d.points, strict=True) if val is not None]
        ax.plot(
            [x for x, _, _ in known],
            [val for _, _, val in known],
            color=theme.series[0],
            marker="o",
            markersize=6,
            linewidth=1.8,
            label=d.key,
        )
        for x, _v, val in known:
            ax.annotate(
                format_value(val),
                (x, val),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=FONT_SIZE - 1,
                color=theme.foreground,
            )
        missing = [x for x, (_, val) in zip(xs, d.points, strict=True) if val is None]
        hl = d.highlight
        if hl is not None:
            alias, hv = hl
            value = dict(d.points).get(hv)
            if value is not None and hv in versions:
                hx = versions.index(hv)
                ax.axhline(value, color=theme.highlight, linestyle="--", linewidth=1, alpha=0.8)
                ax.plot(
                    [hx],
                    [value],
                    marker="o",
                    markersize=13,
                    markerfacecolor="none",
                    markeredgecolor=theme.highlight,
                    markeredgewidth=2.2,
                    linestyle="none",
                    label=f"{alias} (v{hv})",
                )
        labels = []
        for v in versions:
            aliases = d.aliases.get(v, ())
            labels.append(f"v{v}\n{', '.join(aliases)}" if aliases else f"v{v}")
        ax.set_xticks(xs, labels)
        for tick, v in zip(ax.get_xticklabels(), versions, strict=True):
            if hl is not None and v == hl[1]:
                tick.set_color(theme.highlight)
                tick.set_fontweight("bold")
        ax.set_xlim(-0.5, len(xs) - 0.5)
        ax.margins(y=0.2)
        if missing:
            ax.text(
                0.99,
                0.02,
                "not logged by " + ", ".join(f"v{versions[x]}" for x in missing),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=FONT_SIZE - 1,
                color=theme.muted,
            )
        better = "lower is better" if lower_is_better(d.key) else "higher is better"
        self.style_axes(
            ax,
            title=f"{d.key} across versions of {d.model}  ({better})",
            xlabel="Model version (oldest → newest) and its aliases",
            ylabel=axis_label(d.key),
        )
        self.legend(ax, loc="best")


@dataclass(frozen=True)
class HistorySeries:
    label: str  # 'v4 (champion)'
    points: tuple[MetricPoint, ...]
    start_ms: int | None
    emphasis: bool = True


class MetricHistoryChart(ChartCanvas):
    """A metric over a training run, by step or by time since the run started; a second,
    dashed series shows the same metric of the production version for reference."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = ""
        self.series: list[HistorySeries] = []
        self.axis = HistoryAxis.STEP

    def set_data(self, key: str, series: Sequence[HistorySeries], axis: HistoryAxis) -> None:
        self.key = key
        self.series = [s for s in series if s.points]
        self.axis = axis
        if not self.series:
            self.show_message(
                f"No history of {key} in the cache",
                "The run logged this metric once, or the registry has not been synced since.",
            )
            return
        self.title = f"{key} during training"
        self.show_chart()

    def set_axis(self, axis: HistoryAxis) -> None:
        self.axis = axis
        if self.has_chart:
            self.redraw()

    def draw_chart(self, figure: Figure, theme: ChartTheme) -> None:
        ax = figure.add_subplot()
        for i, s in enumerate(self.series):
            xs, ys = history_xy(s.points, self.axis, s.start_ms)
            ax.plot(
                xs,
                ys,
                color=theme.series[0] if s.emphasis else theme.highlight,
                linewidth=2.0 if s.emphasis else 1.4,
                linestyle="-" if s.emphasis else "--",
                marker="o" if len(xs) <= 30 and s.emphasis else None,
                markersize=3.5,
                label=s.label,
                zorder=3 - i,
            )
        if self.axis is HistoryAxis.STEP:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            xlabel = "Training step"
        else:
            xlabel = "Minutes since the run started"
        who = self.series[0].label
        self.style_axes(
            ax,
            title=f"{self.key} during the training of {who}",
            xlabel=xlabel,
            ylabel=axis_label(self.key),
        )
        self.legend(ax, loc="best")


class ComparisonChart(ChartCanvas):
    """The relative change of each metric from version A to version B, green where B is
    better and red where it is worse (whichever direction 'better' is for the metric)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: VersionComparison | None = None

    def set_data(self, data: VersionComparison) -> None:
        self.data = data
        if not any(m.delta is not None for m in data.metrics):
            self.show_message(
                f"v{data.version_a} and v{data.version_b} share no metric",
                "Their runs logged different metrics, or one of them is not in the cache.",
            )
            return
        self.title = f"Metric changes from v{data.version_a} to v{data.version_b}"
        self.show_chart()

    def draw_chart(self, figure: Figure, theme: ChartTheme) -> None:
        d = self.data
        assert d is not None
        rows = [m for m in d.metrics if m.delta is not None and m.a is not None]
        rows.reverse()  # matplotlib draws bottom-up: keep the headline metric on top
        ax = figure.add_subplot()
        changes = []
        for m in rows:
            assert m.a is not None and m.delta is not None
            changes.append(100.0 * m.delta / abs(m.a) if m.a else 0.0)
        colors = [
            theme.muted if m.improved is None else (theme.good if m.improved else theme.bad)
            for m in rows
        ]
        ys = list(range(len(rows)))
        ax.barh(ys, changes, color=colors, height=0.6)
        ax.axvline(0, color=theme.muted, linewidth=1)
        span = max((abs(c) for c in changes), default=1.0) or 1.0
        for y, c, m in zip(ys, changes, rows, strict=True):
            assert m.a is not None and m.b is not None
            text = f"{format_value(m.a)} → {format_value(m.b)}  ({c:+.1f} %)"
            ax.text(
                c + (span * 0.03 if c >= 0 else -span * 0.03),
                y,
                text,
                va="center",
                ha="left" if c >= 0 else "right",
                fontsize=FONT_SIZE - 1,
                color=theme.foreground,
            )
        ax.set_yticks(ys, [m.key for m in rows])
        ax.set_xlim(-span * 2.2, span * 2.2)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        self.style_axes(
            ax,
            title=f"Metric changes from v{d.version_a} to v{d.version_b} "
            "(green: better, red: worse)",
            xlabel=f"Change relative to v{d.version_a} (%)",
        )
        ax.grid(True, axis="x", color=theme.grid)
        ax.grid(False, axis="y")
