"""An endpoint over a time window: latency percentiles, request rate, error rate and a
health timeline, stacked on one time axis."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from PySide6.QtWidgets import QWidget

from app.domain.endpoint_timeline import HealthBand, availability, health_bands
from app.domain.endpoints import EndpointSample
from app.ui.common.charts.canvas import FONT_SIZE, ChartCanvas
from app.ui.common.charts.theme import ChartTheme

BAND_TEXT = {
    HealthBand.UP: "up",
    HealthBand.PARTLY_DOWN: "partly down",
    HealthBand.DOWN: "down",
    HealthBand.NO_DATA: "not watched",
}


def _local(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone()


# The stacked axes' heights and, per axes, its y label from longest to shortest: the
# first that fits the axes' height is used, so short axes do not run theirs together.
HEIGHT_RATIOS = (3.0, 2.0, 2.0, 1.1)
Y_LABELS = (
    ("Latency (ms)", "Latency ms", "ms"),
    ("Requests (per s)", "Requests/s", "req/s"),
    ("Errors (%)", "Errors %", "err %"),
    ("Health", ""),
)


class EndpointCharts(ChartCanvas):
    MARGINS_PX = (64.0, 18.0, 30.0, 84.0)
    HSPACE = 0.22

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, min_height=360)
        self.endpoint = ""
        self.window_label = ""
        self.samples: list[EndpointSample] = []
        self.since_ms = 0
        self.until_ms = 0
        self._axes: tuple[Axes, Axes, Axes, Axes] | None = None
        self._lines: dict[str, Line2D] = {}
        self._no_latency: Text | None = None

    def set_data(
        self,
        endpoint: str,
        samples: Sequence[EndpointSample],
        since: datetime,
        until: datetime,
        window_label: str,
    ) -> None:
        self.endpoint = endpoint
        self.window_label = window_label
        self.samples = sorted(samples, key=lambda s: s.at_ms)
        self.since_ms = int(since.timestamp() * 1000)
        self.until_ms = int(until.timestamp() * 1000)
        if not self.samples:
            self.show_message(
                f"No probes of {endpoint} in the {window_label}",
                "Gavel records a sample each time it probes the endpoint, while the console "
                "runs. Press “Probe now”, or pick a longer window.",
            )
            return
        self.title = f"{endpoint} — {window_label}"
        self.show_chart()

    def draw_chart(self, figure: Figure, theme: ChartTheme) -> None:
        """Build the four axes and their artists, then fill them."""
        tz = datetime.now().astimezone().tzinfo
        axes = figure.subplots(
            4, 1, sharex=True, gridspec_kw={"height_ratios": list(HEIGHT_RATIOS)}
        )
        lat, rate, err, health = axes
        health.xaxis_date(tz)  # the shared x axis holds dates before any data arrives
        self._axes = (lat, rate, err, health)
        lines: dict[str, Line2D] = {}
        for key, label, color in (
            ("p50_s", "p50", theme.series[0]),
            ("p95_s", "p95", theme.series[1]),
            ("p99_s", "p99", theme.series[2]),
            ("mean_latency_s", "mean (no latency histogram yet)", theme.series[0]),
        ):
            (lines[key],) = lat.plot([], [], color=color, linewidth=1.4, label=label)
        (lines["request_rate"],) = rate.plot([], [], color=theme.series[3], linewidth=1.4)
        (lines["error_rate"],) = err.plot([], [], color=theme.bad, linewidth=1.4)
        self._lines = lines
        self._no_latency = lat.text(
            0.5,
            0.5,
            "No latency figures: the endpoint has no metrics URL, or it serves no requests",
            transform=lat.transAxes,
            ha="center",
            va="center",
            color=theme.muted,
            fontsize=FONT_SIZE,
        )
        self.style_axes(lat, title=" ", ylabel="Latency (ms)")
        self.style_axes(rate, ylabel="Requests (per s)")
        self.style_axes(err, ylabel="Errors (%)")
        self.style_axes(health, ylabel="Health", xlabel="Local time")
        health.set_yticks([])
        health.grid(False)
        for ax in (lat, rate, err):
            # As many ticks as the axes' height holds ("auto"), and never one at the top,
            # where it would meet the bottom tick of the axes above.
            ax.yaxis.set_major_locator(
                MaxNLocator(nbins="auto", prune="upper", steps=[1, 2, 2.5, 5, 10])
            )
        self._fit_ylabels()
        locator = mdates.AutoDateLocator(tz=tz)
        health.xaxis.set_major_locator(locator)
        health.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))
        self._fill(theme)

    def _apply_margins(self) -> None:
        super()._apply_margins()
        self._fit_ylabels()

    def _fit_ylabels(self) -> None:
        """Each axes' y label in the longest wording its height holds."""
        if self._axes is None or self._axes[0].figure is not self.figure:
            return
        _, total = self.axes_px(self._axes[0])  # all four axes and the gaps between them
        n = len(HEIGHT_RATIOS)
        heights = total / (1 + self.HSPACE * (n - 1) / n)
        for ax, ratio, wordings in zip(self._axes, HEIGHT_RATIOS, Y_LABELS, strict=True):
            space = heights * ratio / sum(HEIGHT_RATIOS)
            ax.set_ylabel(self.fitting(wordings, space, FONT_SIZE), color=self.theme.muted)

    def update_chart(self, figure: Figure, theme: ChartTheme) -> bool:
        # New samples on the same four axes: set the data, keep the axes (creating them
        # is half the cost of a draw).
        if self._axes is None or self._axes[0].figure is not figure:
            return False
        self._fill(theme)
        return True

    def _fill(self, theme: ChartTheme) -> None:
        assert self._axes is not None
        lat, rate, err, health = self._axes
        samples = self.samples
        # Date numbers (days), what the date axis holds: no unit conversion per line.
        times = [mdates.date2num(_local(s.at_ms)) for s in samples]

        def series(attr: str, scale: float = 1.0) -> list[float]:
            out = []
            for s in samples:
                value = getattr(s.stats, attr) if s.stats is not None else None
                out.append(float("nan") if value is None else value * scale)
            return out

        # A fresh endpoint has a handful of points: draw them as dots, or nothing shows.
        marker = "o" if len(samples) <= 40 else "None"
        percentiles = any(s.stats and s.stats.p50_s is not None for s in samples)
        mean = not percentiles and any(
            s.stats and s.stats.mean_latency_s is not None for s in samples
        )
        shown = {
            "p50_s": percentiles,
            "p95_s": percentiles,
            "p99_s": percentiles,
            "mean_latency_s": mean,
            "request_rate": True,
            "error_rate": True,
        }
        scale = {"error_rate": 100.0, "request_rate": 1.0}
        for key, line in self._lines.items():
            line.set_visible(shown[key])
            line.set_marker(marker)
            line.set_markersize(4)
            if shown[key]:
                line.set_data(times, series(key, scale.get(key, 1000.0)))
            else:
                line.set_data([], [])
        if self._no_latency is not None:
            self._no_latency.set_visible(not percentiles and not mean)
        for ax in (lat, rate, err):
            ax.relim()
            ax.autoscale_view()
            ax.set_ylim(bottom=0)
        up_share = availability(samples)
        share = "" if up_share is None else f" · up in {up_share:.1%} of probes"
        lat.set_title(
            f"{self.endpoint} — {self.window_label}{share}",
            loc="left",
            color=theme.foreground,
            fontsize=FONT_SIZE + 1.5,
            pad=8,
        )
        legend = lat.get_legend()
        if legend is not None:
            legend.remove()
        if percentiles or mean:
            handles = [line for line in self._lines.values() if line.get_visible()]
            handles = [h for h in handles if h.axes is lat]
            self.legend(lat, handles=handles, loc="upper left", ncols=3)

        colors = {
            HealthBand.UP: theme.good,
            HealthBand.PARTLY_DOWN: theme.warn,
            HealthBand.DOWN: theme.bad,
            HealthBand.NO_DATA: theme.no_data,
        }
        for collection in list(health.collections):
            collection.remove()
        bands = health_bands(samples, self.since_ms, self.until_ms)
        for state in HealthBand:
            spans = [
                (mdates.date2num(_local(b.start_ms)), (b.end_ms - b.start_ms) / 86_400_000)
                for b in bands
                if b.state is state
            ]
            if spans:
                health.broken_barh(spans, (0, 1), facecolors=colors[state], linewidth=0)
        health.set_ylim(0, 1)
        present = [s for s in HealthBand if any(b.state is s for b in bands)]
        health.legend(
            handles=[Patch(color=colors[s], label=BAND_TEXT[s]) for s in present],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.9),
            ncols=max(1, len(present)),
            frameon=False,
            fontsize=FONT_SIZE - 0.5,
            labelcolor=theme.foreground,
        )
        health.set_xlim(
            mdates.date2num(_local(self.since_ms)), mdates.date2num(_local(self.until_ms))
        )
