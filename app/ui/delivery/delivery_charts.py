"""The Delivery page's charts: promotions per month by team (stacked bars), and how long
each step takes (median bars with the 90th percentile marked)."""

from __future__ import annotations

import math
from datetime import timedelta

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from app.domain.delivery import DeliveryReport, Distribution
from app.domain.delivery_tables import hours
from app.ui.common.charts.canvas import FONT_SIZE, ChartCanvas
from app.ui.common.charts.theme import ChartTheme

# At most this many teams get a colour of their own; the rest are "other teams".
MAX_TEAMS = 5


def _unit(longest: float) -> tuple[float, str]:
    """(seconds per unit, unit name) so the longest bar reads as a small number."""
    if longest >= 2 * 86400:
        return 86400.0, "days"
    if longest >= 2 * 3600:
        return 3600.0, "hours"
    return 60.0, "minutes"


class DeliveryCharts(ChartCanvas):
    """Left: promotions per month, stacked by team. Right: lead time, approval steps and
    time to restore, median (bar) and 90th percentile (tick)."""

    def __init__(self) -> None:
        super().__init__(min_height=260)
        self.setObjectName("DeliveryCharts")
        self._report: DeliveryReport | None = None
        self.show_message("Computing delivery metrics…")

    def set_report(self, report: DeliveryReport) -> None:
        self._report = report
        if not report.promotions and report.overall.request_to_decision.count == 0:
            self.show_message(
                "No promotions on the ledger in this period",
                "Promotions appear here once an approved request is applied, or a sync "
                "sees a production alias move. Widen the period or pick another team.",
            )
            return
        self.show_chart()

    def draw_chart(self, figure: Figure, theme: ChartTheme) -> None:
        report = self._report
        if report is None:
            return
        left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": (1.35, 1)})
        self._frequency(left, report, theme)
        self._durations(right, report, theme)

    def _frequency(self, ax: Axes, report: DeliveryReport, theme: ChartTheme) -> None:
        months = report.month_axis
        totals: dict[str, int] = {}
        for m in report.months:
            totals[m.team] = totals.get(m.team, 0) + m.promotions
        ranked = sorted(totals, key=lambda t: (-totals[t], t.casefold()))
        shown = ranked[:MAX_TEAMS]
        groups = [*shown, "other teams"] if len(ranked) > MAX_TEAMS else shown
        counts = {g: [0] * len(months) for g in groups}
        index = {m: i for i, m in enumerate(months)}
        for m in report.months:
            group = m.team if m.team in shown else "other teams"
            counts[group][index[m.month]] += m.promotions
        bottom = [0] * len(months)
        x = list(range(len(months)))
        for n, group in enumerate(groups):
            color = theme.muted if group == "other teams" else theme.series[n % len(theme.series)]
            ax.bar(x, counts[group], bottom=bottom, color=color, label=group, width=0.7)
            bottom = [b + c for b, c in zip(bottom, counts[group], strict=True)]
        self.style_axes(ax, "Promotions per month", ylabel="promotions")
        # Every month has a bar; only as many are labelled as fit side by side.
        width_px, _height = self.axes_px(ax)
        label_px = self.text_px("0000-00") + 14
        step = max(1, math.ceil(len(months) * label_px / width_px))
        ax.set_xticks(x[::step], [months[i] for i in x[::step]])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if not months:
            ax.set_xticks([])
        if groups:
            self.legend(ax, loc="upper left")

    def _durations(self, ax: Axes, report: DeliveryReport, theme: ChartTheme) -> None:
        o = report.overall
        rows: list[tuple[str, Distribution]] = [
            ("Lead time\nregistered → production", o.lead_time),
            ("Approval\nrequest → decision", o.request_to_decision),
            ("Approval\ndecision → applied", o.decision_to_applied),
            ("Time to restore\ndrift, outage", o.time_to_restore),
        ]
        longest = max(((d.p90 or timedelta(0)).total_seconds() for _n, d in rows), default=0.0)
        per, unit = _unit(longest)
        y = list(range(len(rows)))[::-1]
        medians = [(d.median or timedelta(0)).total_seconds() / per for _n, d in rows]
        ax.barh(y, medians, color=theme.series[0], height=0.5, label="median")
        p90 = [(d.p90.total_seconds() / per if d.p90 else None) for _n, d in rows]
        py = [yy for yy, v in zip(y, p90, strict=True) if v is not None]
        pv = [v for v in p90 if v is not None]
        ax.plot(pv, py, "|", color=theme.highlight, markersize=16, mew=2.5, label="90th percentile")
        for yy, (_n, d), m in zip(y, rows, medians, strict=True):
            text = "no data" if d.count == 0 else f"{hours(d.median)}  (n={d.count})"
            ax.annotate(
                text,
                (m, yy),
                xytext=(4, 9),
                textcoords="offset points",
                fontsize=FONT_SIZE - 1,
                color=theme.muted if d.count == 0 else theme.foreground,
                va="center",
            )
        ax.set_yticks(y, [n for n, _d in rows])
        self.style_axes(ax, "How long each step takes", xlabel=unit)
        ax.set_xlim(0, max([*pv, *medians, 1e-9]) * 1.35)
        ax.set_ylim(-0.6, len(rows) - 0.3)
        self.legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
