"""Model performance charts: a metric across versions, a run's metric history, and
the metric changes between two versions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
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

_Align = Literal["left", "center", "right"]


def _percent_tick(x: float, _pos: object = None) -> str:
    return "0" if x == 0 else f"{x:+g}"


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

    # Fixed margins (see ChartCanvas): the labels are fitted to the axes' width, which
    # must be known before drawing; the bottom one grows with the rows of labels.
    MARGINS_PX: tuple[float, float, float, float] | None = (64.0, 16.0, 34.0, 60.0)
    REFIT_ON_RESIZE = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: MetricAcrossVersions | None = None
        self._align: dict[int, _Align] = {}  # tick index -> how its label hangs from it

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
        hl_version = d.highlight[1] if d.highlight is not None else None
        width, _ = self.axes_px(ax)
        slot = width / max(1, len(versions))
        important = {
            x
            for x, v, _ in known
            if d.aliases.get(v) or v == hl_version or x in (known[0][0], known[-1][0])
        }
        values = _Packer(rows=2)  # above the point, else below it
        for x, _v, val in sorted(known, key=lambda k: (k[0] not in important, k[0])):
            text = format_value(val)
            half = self.text_px(text, FONT_SIZE - 1) / 2 + 2
            row = values.place((x + 0.5) * slot - half, (x + 0.5) * slot + half)
            if row is None or (row > 0 and x not in important):
                continue  # no room: the axis still tells the value's size
            ax.annotate(
                text,
                (x, val),
                textcoords="offset points",
                xytext=(0, 8) if row == 0 else (0, -14),
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
        labels, rows, cut = self._version_labels(ax, versions, hl_version)
        line_px = (FONT_SIZE - 0.5) * 1.4 * self.figure.dpi / 72
        label_lines = max(
            (r + len(t.split("\n")) for r, t in zip(rows, labels, strict=True) if t), default=1
        )
        left, right, top, _ = self.MARGINS_PX or (64.0, 16.0, 34.0, 0.0)
        self.MARGINS_PX = (left, right, top, 34 + label_lines * line_px)
        ax.set_xticks(xs, labels)
        for major, lines_above in zip(ax.xaxis.get_major_ticks(), rows, strict=True):
            # A label that would touch its neighbour sits below the neighbour's lines.
            major.set_pad(3.5 + lines_above * (FONT_SIZE - 0.5) * 1.4)
        for i, (tick, v) in enumerate(zip(ax.get_xticklabels(), versions, strict=True)):
            tick.set_horizontalalignment(self._align.get(i, "center"))
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
        width, _ = self.axes_px(ax)
        title = self.fitting(
            (
                f"{d.key} across versions of {d.model}  ({better})",
                f"{d.key} across versions  ({better})",
                f"{d.key} ({better})",
                d.key,
            ),
            width,
            FONT_SIZE + 1.5,
        )
        xlabel = "Model version (oldest → newest) and its aliases"
        if cut:
            # Names cut to fit their version's slot are spelled out here instead.
            names = ", ".join(f"{a} → v{v}" for v in versions for a in d.aliases.get(v, ()))
            xlabel = self.fitting((f"Aliases: {names}", "Aliases cut to fit"), width, FONT_SIZE)
        self.style_axes(ax, title=title, xlabel=xlabel, ylabel=axis_label(d.key))
        self.legend(ax, loc="best")

    def _version_labels(
        self, ax: Axes, versions: Sequence[int], highlighted: int | None
    ) -> tuple[list[str], list[int], bool]:
        """Tick labels that never overlap. Each is its version with its aliases stacked
        one per line; versions with aliases (and the highlighted, first and last) are
        placed first, each on the first of three rows where it touches no other label,
        then plain version numbers wherever row one still has room (thinned, not
        crowded). Returns the labels, how many lines down each sits, and whether an
        alias found no room (the axis label then names them all)."""
        d = self.data
        assert d is not None
        fontsize = FONT_SIZE - 0.5
        width, _ = self.axes_px(ax)
        slot = width / max(1, len(versions))
        last = len(versions) - 1
        keep = {
            i
            for i, v in enumerate(versions)
            if d.aliases.get(v) or v == highlighted or i in (0, last)
        }
        packer = _Packer(rows=3)
        self._align = {}
        row_of: dict[int, int] = {}
        lines_of: dict[int, list[str]] = {}
        cut = False
        for i in sorted(range(len(versions)), key=lambda i: (i not in keep, i)):
            v = versions[i]
            lines = [f"v{v}", *d.aliases.get(v, ())]
            placed = self._place(packer, i, slot, lines, fontsize, rows=3 if i in keep else 1)
            if placed is None and len(lines) > 1:
                cut = True
                lines = lines[:1]
                placed = self._place(packer, i, slot, lines, fontsize, rows=3)
            if placed is not None:
                row_of[i], self._align[i] = placed
                lines_of[i] = lines
        # Lines above each row: the tallest label of every row before it.
        height = [0, 0, 0]
        for i, row in row_of.items():
            height[row] = max(height[row], len(lines_of[i]))
        offset = [0, height[0], height[0] + height[1]]
        labels = ["\n".join(lines_of[i]) if i in lines_of else "" for i in range(len(versions))]
        rows = [offset[row_of[i]] if i in row_of else 0 for i in range(len(versions))]
        return labels, rows, cut

    def _place(
        self,
        packer: _Packer,
        i: int,
        slot: float,
        lines: Sequence[str],
        fontsize: float,
        rows: int,
    ) -> tuple[int, _Align] | None:
        """The row and alignment of version i's label, or None when there is no room."""
        width = slot * (1 + len(self.data.points if self.data else ())) - slot
        margin_left, margin_right = (self.MARGINS_PX or (40.0, 16.0))[:2]
        half = max(self.text_px(line, fontsize) for line in lines) / 2 + 3
        centre = (i + 0.5) * slot
        # Near an edge the label hangs inward from its tick rather than past the figure.
        align: _Align
        if centre + half > width + margin_right:
            align, left, right = "right", centre - 2 * half, centre
        elif centre - half < -margin_left:
            align, left, right = "left", centre, centre + 2 * half
        else:
            align, left, right = "center", centre - half, centre + half
        row = packer.place(left, right, rows)
        return None if row is None else (row, align)


class _Packer:
    """Rows of horizontal intervals (pixels): a label goes on the first row it fits."""

    def __init__(self, rows: int) -> None:
        self._rows: list[list[tuple[float, float]]] = [[] for _ in range(rows)]

    def place(self, left: float, right: float, rows: int | None = None) -> int | None:
        for r, taken in enumerate(self._rows[: rows or len(self._rows)]):
            if all(right <= a or left >= b for a, b in taken):
                taken.append((left, right))
                return r
        return None


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

    REFIT_ON_RESIZE = True

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
        smallest = min((abs(c) for c in changes if c), default=span)
        xlabel = f"Change relative to v{d.version_a} (%)"
        if span / smallest > 8:
            # On a linear axis a +400 % change flattens a +4 % one to a hairline. A
            # symmetric log axis keeps both readable: linear up to the smallest change's
            # order of magnitude, logarithmic beyond, with plain percentages as labels.
            linthresh = min(10.0, max(0.1, 10 ** math.floor(math.log10(smallest))))
            ax.set_xscale("symlog", linthresh=linthresh, linscale=0.6)
            ax.set_xlim(-span * 3, span * 3)
            xlabel = f"Change relative to v{d.version_a} (%, log scale beyond ±{linthresh:g} %)"
        else:
            ax.set_xlim(-span * 1.15, span * 1.15)
        ax.xaxis.set_major_formatter(FuncFormatter(_percent_tick))
        # Each bar's figures go on the other side of zero, where that row is empty: they
        # can neither cover a bar nor run into the metric names at the left.
        half, _ = self.axes_px(ax)
        half /= 2
        for y, c, m in zip(ys, changes, rows, strict=True):
            assert m.a is not None and m.b is not None
            text = self.fitting(
                (
                    f"{format_value(m.a)} → {format_value(m.b)}  ({c:+.1f} %)",
                    f"{c:+.1f} %",
                ),
                half - 10,
                FONT_SIZE - 1,
            )
            ax.annotate(
                text,
                (0, y),
                xytext=(-5 if c >= 0 else 5, 0),
                textcoords="offset points",
                va="center",
                ha="right" if c >= 0 else "left",
                fontsize=FONT_SIZE - 1,
                color=theme.foreground,
            )
        ax.set_yticks(ys, [m.key for m in rows])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        width, _ = self.axes_px(ax)
        self.style_axes(
            ax,
            title=self.fitting(
                (
                    f"Metric changes from v{d.version_a} to v{d.version_b} "
                    "(green: better, red: worse)",
                    f"v{d.version_a} → v{d.version_b} (green: better, red: worse)",
                ),
                width,
                FONT_SIZE + 1.5,
            ),
            xlabel=self.fitting((xlabel, f"Change from v{d.version_a} (%)"), width, FONT_SIZE),
        )
        ax.grid(True, axis="x", color=theme.grid)
        ax.grid(False, axis="y")
