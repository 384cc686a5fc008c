"""The evidence pack's charts as PNG images, drawn with matplotlib's Agg renderer.

Printed charts use fixed light colours (paper is white whatever the console's theme),
and a fixed size, so a pack looks the same wherever it is made.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from app.services.evidence import EvidencePack
from app.services.evidence_html import COMPARISON_CHART, HISTORY_CHART, chart_names

_THIS, _OTHER, _INK, _GRID = "#2563eb", "#9ca3af", "#1b1f24", "#d0d7de"
_SIZE_IN = (7.0, 2.6)
_DPI = 110


def chart_images(pack: EvidencePack) -> dict[str, bytes]:
    """name -> PNG bytes, for every chart the pack's document shows."""
    images = {}
    for name in chart_names(pack):
        # Fixed margins: matplotlib's constrained layout costs ~100 ms a chart.
        figure = Figure(figsize=_SIZE_IN, dpi=_DPI)
        figure.subplots_adjust(left=0.08, right=0.98, top=0.88, bottom=0.17)
        if name == COMPARISON_CHART:
            _comparison(figure, pack)
        else:
            _history(figure, pack, name.removeprefix(HISTORY_CHART))
        FigureCanvasAgg(figure)
        buf = io.BytesIO()
        figure.savefig(buf, format="png", facecolor="white")
        images[name] = buf.getvalue()
    return images


def data_uris(images: Mapping[str, bytes]) -> dict[str, str]:
    """name -> 'data:image/png;base64,…', for an HTML file that carries its images."""
    return {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in images.items()}


def _style(ax: object) -> None:
    ax.grid(True, axis="y", color=_GRID, linewidth=0.6)  # type: ignore[attr-defined]
    ax.tick_params(colors=_INK, labelsize=8)  # type: ignore[attr-defined]
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)  # type: ignore[attr-defined]


def _comparison(figure: Figure, pack: EvidencePack) -> None:
    c = pack.comparison
    assert c is not None
    metrics = [m for m in c.metrics if m.a is not None or m.b is not None]
    ax = figure.add_subplot()
    xs = range(len(metrics))
    width = 0.38
    ax.bar(
        [x - width / 2 for x in xs],
        [m.a or 0.0 for m in metrics],
        width,
        color=_OTHER,
        label=f"v{c.version_a} (replaced)",
    )
    ax.bar(
        [x + width / 2 for x in xs],
        [m.b or 0.0 for m in metrics],
        width,
        color=_THIS,
        label=f"v{c.version_b} (this version)",
    )
    ax.set_xticks(list(xs), [m.key for m in metrics], rotation=0, fontsize=8)
    ax.set_title(f"{c.model}: v{c.version_b} against v{c.version_a}", fontsize=9, color=_INK)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    _style(ax)


def _history(figure: Figure, pack: EvidencePack, key: str) -> None:
    points = sorted(pack.metric_history[key], key=lambda p: p.step)
    ax = figure.add_subplot()
    ax.plot([p.step for p in points], [p.value for p in points], color=_THIS, marker=".")
    ax.set_xlabel("step", fontsize=8, color=_INK)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{key} over the run of v{pack.version.version}", fontsize=9, color=_INK)
    _style(ax)
