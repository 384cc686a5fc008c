"""The base chart canvas: a themed matplotlib figure on a Qt widget, PNG export.

Subclasses keep the data they were given and draw it in `draw_chart`; a palette
change (light/dark) redraws with the new colours. Data is loaded off the GUI
thread by the caller; drawing a few hundred points here takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from PySide6.QtCore import QEvent, QSize, QTimer
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui.common.charts.theme import ChartTheme, theme_from_palette

FONT_SIZE = 9


class ChartCanvas(FigureCanvasQTAgg):
    # Fixed margins in pixels (left, right, top, bottom) instead of matplotlib's
    # constrained layout, which costs about 100 ms per draw on a four-axes chart.
    MARGINS_PX: tuple[float, float, float, float] | None = None
    HSPACE = 0.2
    # Whether draw_chart fits text to the width (titles, tick labels): then a resize
    # redraws, debounced, instead of only moving the margins.
    REFIT_ON_RESIZE = False

    def __init__(self, parent: QWidget | None = None, min_height: int = 220) -> None:
        figure = Figure(
            figsize=(6.0, 3.0), dpi=100, layout=None if self.MARGINS_PX else "constrained"
        )
        super().__init__(figure)
        # matplotlib's canvas sets an all-white palette of its own, which cuts it off from
        # the application's: an empty palette (nothing set) inherits it again, so the
        # theme below and every later palette change (light/dark) reach the chart.
        self.setPalette(QPalette())
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(min_height)
        self.theme = theme_from_palette(self.palette())
        self._message: tuple[str, str] | None = ("", "")
        # Whether the figure holds the subclass's chart (not a message) to update in place.
        self._chart_drawn = False
        self._refit: QTimer | None = None
        self.title = ""

    def sizeHint(self) -> QSize:
        return QSize(640, 320)

    # -- drawing -------------------------------------------------------------------------

    def draw_chart(self, figure: Figure, theme: ChartTheme) -> None:
        """Draw the current data (subclasses)."""

    def update_chart(self, figure: Figure, theme: ChartTheme) -> bool:
        """Show new data on the artists already drawn; False: draw from scratch."""
        return False

    def redraw(self) -> None:
        """Clear and draw again (new data, or a new palette)."""
        if (
            self._message is None
            and self._chart_drawn
            and self.update_chart(self.figure, self.theme)
        ):
            self.draw_idle()
            return
        self._chart_drawn = self._message is None
        self.figure.clear()
        self.figure.set_facecolor(self.theme.background)
        if self._message is not None:
            self._draw_message(*self._message)
        else:
            self.draw_chart(self.figure, self.theme)
            self._apply_margins()
        self.draw_idle()

    def _apply_margins(self) -> None:
        if self.MARGINS_PX is None:
            return
        w, h = self.figure.get_size_inches() * self.figure.dpi
        left, right, top, bottom = self.MARGINS_PX
        if w > left + right + 10 and h > top + bottom + 10:
            self.figure.subplots_adjust(
                left=left / w,
                right=1 - right / w,
                top=1 - top / h,
                bottom=bottom / h,
                hspace=self.HSPACE,
            )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if getattr(self, "_message", "") is None:
            self._apply_margins()
            if self.REFIT_ON_RESIZE and event.size().width() != event.oldSize().width():
                # Labels were fitted to the old width: draw again once resizing settles.
                if self._refit is None:
                    self._refit = QTimer(self)
                    self._refit.setSingleShot(True)
                    self._refit.setInterval(150)
                    self._refit.timeout.connect(self._redraw_fitted)
                self._refit.start()

    def _redraw_fitted(self) -> None:
        self._chart_drawn = False
        self.redraw()

    @property
    def refit_pending(self) -> bool:
        """Whether a resize is still waiting to be settled by a redraw with fitted labels."""
        return self._refit is not None and self._refit.isActive()

    def show_message(self, title: str, text: str = "") -> None:
        """An empty state drawn in place of the chart (no data, loading, an error)."""
        self._message = (title, text)
        self.title = title
        self.redraw()

    def show_chart(self) -> None:
        self._message = None
        self.redraw()

    @property
    def has_chart(self) -> bool:
        return self._message is None

    def _draw_message(self, title: str, text: str) -> None:
        t = self.theme
        self.figure.text(
            0.5,
            0.56,
            title,
            ha="center",
            va="center",
            fontsize=12,
            color=t.foreground,
            fontweight="bold",
            wrap=True,
        )
        if text:
            self.figure.text(
                0.5,
                0.42,
                text,
                ha="center",
                va="center",
                fontsize=FONT_SIZE,
                color=t.muted,
                wrap=True,
            )

    def style_axes(self, ax: Axes, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
        t = self.theme
        ax.set_facecolor(t.background)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(t.muted)
        ax.tick_params(colors=t.foreground, labelsize=FONT_SIZE - 0.5)
        ax.grid(True, color=t.grid, linewidth=0.8)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, color=t.foreground, fontsize=FONT_SIZE + 1.5, loc="left", pad=8)
        if xlabel:
            ax.set_xlabel(xlabel, color=t.muted, fontsize=FONT_SIZE)
        if ylabel:
            ax.set_ylabel(ylabel, color=t.muted, fontsize=FONT_SIZE)

    # -- fitting text ----------------------------------------------------------------------

    def text_px(self, text: str, fontsize: float = FONT_SIZE) -> float:
        """How wide `text` draws in pixels (its widest line), measured by the renderer's
        font metrics: no draw needed, so labels can be fitted before drawing."""
        renderer = self.get_renderer()
        font = FontProperties(size=fontsize)
        return max(
            (
                renderer.get_text_width_height_descent(line, font, ismath=False)[0]
                for line in text.split("\n")
                if line
            ),
            default=0.0,
        )

    def axes_px(self, ax: Axes) -> tuple[float, float]:
        """The axes' width and height in pixels, as they will be laid out: from the fixed
        margins when the canvas has them (the axes' own position is only set after
        drawing), else from the axes' current position."""
        w, h = self.figure.get_size_inches() * self.figure.dpi
        if self.MARGINS_PX is not None:
            left, right, top, bottom = self.MARGINS_PX
            return max(1.0, w - left - right), max(1.0, h - top - bottom)
        box = ax.get_position()
        return box.width * w, box.height * h

    def fitting(self, candidates: Sequence[str], space_px: float, fontsize: float) -> str:
        """The first of `candidates` (longest first) that fits `space_px`, else the last."""
        for text in candidates:
            if self.text_px(text, fontsize) <= space_px:
                return text
        return candidates[-1]

    def legend(self, ax: Axes, **kw: Any) -> None:
        t = self.theme
        leg = ax.legend(fontsize=FONT_SIZE - 0.5, frameon=False, **kw)
        for text in leg.get_texts():
            text.set_color(t.foreground)

    # -- palette and export --------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        # matplotlib sets a palette inside its own __init__, before ours has run.
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "_message"):
            self.theme = theme_from_palette(self.palette())
            self._chart_drawn = False  # colours are baked into the artists: start over
            self.redraw()
        super().changeEvent(event)

    def export_png(self, path: str | Path, dpi: int = 150) -> Path:
        """Write the chart as it looks on screen (same colours) to a PNG file."""
        out = Path(path)
        self.figure.savefig(out, dpi=dpi, facecolor=self.theme.background, format="png")
        return out
