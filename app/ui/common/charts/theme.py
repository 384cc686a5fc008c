"""Chart colours from the application's palette, so charts follow light and dark themes."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette

# Series colours readable on a light and on a dark background respectively.
_LIGHT_SERIES = ("#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
_DARK_SERIES = ("#60a5fa", "#fbbf24", "#a78bfa", "#22d3ee", "#f472b6", "#a3e635")


@dataclass(frozen=True)
class ChartTheme:
    dark: bool
    background: str
    foreground: str
    muted: str
    grid: str
    highlight: str  # the version holding production/champion, the selected item
    good: str
    bad: str
    warn: str
    no_data: str
    series: tuple[str, ...]


def _hex(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() * (1 - t) + b.red() * t),
        round(a.green() * (1 - t) + b.green() * t),
        round(a.blue() * (1 - t) + b.blue() * t),
    )


def theme_from_palette(palette: QPalette) -> ChartTheme:
    """Background and text from the palette; accents tuned for its lightness."""
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    # The figure sits on the window, so its face is the Window colour (not Base): a chart
    # reads as part of the page in either palette rather than as a pasted-in card.
    base = window
    dark = window.lightness() < 128
    return ChartTheme(
        dark=dark,
        background=_hex(base),
        foreground=_hex(text),
        muted=_hex(_mix(text, base, 0.45)),
        grid=_hex(_mix(text, base, 0.85)),
        highlight="#f59e0b" if dark else "#c2410c",
        good="#4ade80" if dark else "#15803d",
        bad="#f87171" if dark else "#dc2626",
        warn="#fbbf24" if dark else "#d97706",
        no_data=_hex(_mix(text, base, 0.75)),
        series=_DARK_SERIES if dark else _LIGHT_SERIES,
    )
