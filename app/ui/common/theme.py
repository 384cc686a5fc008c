"""Colours from the palette's roles: semantic colours, the themed stylesheet, icons.

Nothing in the console names a neutral colour: text, titles and muted text come
from the palette (WindowText, Text, PlaceholderText), so a dark system palette
reads as well as a light one. Semantic colours (ok, error, warning, info) have a
light and a dark variant, chosen by the window colour's lightness, and are then
nudged until they reach WCAG AA contrast (4.5:1) against both Window and Base,
because a table row (Base) and a label (Window) may show the same colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer

AA = 4.5  # WCAG 2 contrast for body text


def relative_luminance(color: QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.red())
        + 0.7152 * channel(color.green())
        + 0.0722 * channel(color.blue())
    )


def contrast_ratio(a: QColor, b: QColor) -> float:
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`a` moved a fraction `t` of the way to `b`."""
    return QColor(
        round(a.red() * (1 - t) + b.red() * t),
        round(a.green() * (1 - t) + b.green() * t),
        round(a.blue() * (1 - t) + b.blue() * t),
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def readable(color: QColor, *backgrounds: QColor, ratio: float = AA) -> QColor:
    """`color`, moved toward black or white (whichever the backgrounds are not) until it
    reaches `ratio` against every background: keeps the hue, guarantees legibility."""
    darkest = min(backgrounds, key=relative_luminance)
    target = QColor("#000000") if relative_luminance(darkest) > 0.18 else QColor("#ffffff")
    out = QColor(color)
    for step in range(1, 21):
        if all(contrast_ratio(out, bg) >= ratio for bg in backgrounds):
            return out
        out = mix(color, target, step / 20)
    return out


@dataclass(frozen=True)
class Semantic:
    """Colours that carry meaning, readable on the current palette."""

    dark: bool
    text: str  # WindowText
    muted: str  # secondary text, still AA on Window and Base
    ok: str
    error: str
    warn: str
    info: str
    # Tinted boxes (banners, connection results, status lines): background, border, text.
    ok_box: tuple[str, str, str]
    error_box: tuple[str, str, str]
    warn_box: tuple[str, str, str]
    info_box: tuple[str, str, str]
    neutral_box: tuple[str, str, str]


# (ok, error, warn, info) base hues per variant, before the contrast nudge.
_LIGHT_HUES = ("#15803d", "#b91c1c", "#b45309", "#1d4ed8")
_DARK_HUES = ("#4ade80", "#f87171", "#fbbf24", "#60a5fa")
_LIGHT_BOXES = {
    "ok": ("#dcfce7", "#22c55e", "#14532d"),
    "error": ("#fee2e2", "#ef4444", "#7f1d1d"),
    "warn": ("#fef3c7", "#f59e0b", "#78350f"),
    "info": ("#dbeafe", "#60a5fa", "#1e3a8a"),
}
_DARK_BOXES = {
    "ok": ("#052e16", "#22c55e", "#bbf7d0"),
    "error": ("#450a0a", "#ef4444", "#fecaca"),
    "warn": ("#451a03", "#f59e0b", "#fde68a"),
    "info": ("#172554", "#60a5fa", "#bfdbfe"),
}

_cache: dict[tuple[int, ...], Semantic] = {}


def current_palette() -> QPalette:
    return QGuiApplication.palette()


def semantic(palette: QPalette | None = None) -> Semantic:
    """The semantic colours for `palette` (default: the application's)."""
    pal = palette if palette is not None else current_palette()
    window = pal.color(QPalette.ColorRole.Window)
    base = pal.color(QPalette.ColorRole.Base)
    text = pal.color(QPalette.ColorRole.WindowText)
    key = (window.rgba(), base.rgba(), text.rgba())
    hit = _cache.get(key)
    if hit is not None:
        return hit
    dark = window.lightness() < 128
    hues = _DARK_HUES if dark else _LIGHT_HUES
    ok, error, warn, info = (readable(QColor(h), window, base).name() for h in hues)
    boxes = _DARK_BOXES if dark else _LIGHT_BOXES
    neutral_bg = mix(window, text, 0.1)
    out = Semantic(
        dark=dark,
        text=text.name(),
        muted=readable(mix(text, window, 0.4), window, base).name(),
        ok=ok,
        error=error,
        warn=warn,
        info=info,
        ok_box=boxes["ok"],
        error_box=boxes["error"],
        warn_box=boxes["warn"],
        info_box=boxes["info"],
        neutral_box=(neutral_bg.name(), mix(window, text, 0.3).name(), text.name()),
    )
    _cache[key] = out
    return out


# -- the stylesheet -----------------------------------------------------------------------

_TOKEN = re.compile(r"@([a-z_]+)(?:\.(bg|border|fg))?@")
_PARTS = {"bg": 0, "border": 1, "fg": 2}


def themed_stylesheet(template: str, palette: QPalette | None = None) -> str:
    """`template` with `@name@` / `@name_box.bg@` tokens replaced by the palette's colours."""
    sem = semantic(palette)

    def replace(match: re.Match[str]) -> str:
        value = getattr(sem, match.group(1), None)
        if value is None:  # not a colour token (e.g. an address in a comment): keep it
            return match.group(0)
        if match.group(2):
            return str(value[_PARTS[match.group(2)]])
        return str(value)

    return _TOKEN.sub(replace, template)


# -- icons --------------------------------------------------------------------------------

# The icons are drawn in slate greys (neutral) and Tailwind hues (semantic); at paint
# time these are swapped for the palette's text colour and the semantic variant.
_NEUTRAL = ("#334155", "#475569", "#64748b")
_SEMANTIC = {
    "#dc2626": "error",
    "#16a34a": "ok",
    "#b45309": "warn",
    "#2563eb": "info",
    "#1d4ed8": "info",
}
_TINT = {"#fee2e2": "error_box"}


def recolour_svg(svg: str, palette: QPalette) -> str:
    sem = semantic(palette)
    text = palette.color(QPalette.ColorRole.WindowText).name()

    def replace(match: re.Match[str]) -> str:
        colour = match.group(0).lower()
        if colour in _NEUTRAL:
            return text
        if colour in _SEMANTIC:
            return str(getattr(sem, _SEMANTIC[colour]))
        if colour in _TINT:
            return str(getattr(sem, _TINT[colour])[0])
        return match.group(0)

    return re.sub(r"#[0-9a-fA-F]{6}\b", replace, svg)


class PaletteSvgEngine(QIconEngine):
    """An SVG icon recoloured from the application palette each time it is drawn, so
    toolbar and menu icons follow a palette change without being rebuilt."""

    def __init__(self, svg: str) -> None:
        super().__init__()
        self._svg = svg
        self._pixmaps: dict[tuple[int, int, int, str, str], QPixmap] = {}

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        palette = current_palette()
        text = palette.color(QPalette.ColorRole.WindowText).name()
        window = palette.color(QPalette.ColorRole.Window).name()
        w, h = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
        key = (w, h, int(mode.value), text, window)
        hit = self._pixmaps.get(key)
        if hit is not None:
            return hit
        pixmap = QPixmap(w, h)
        pixmap.fill(Qt.GlobalColor.transparent)
        renderer = QSvgRenderer(QByteArray(recolour_svg(self._svg, palette).encode()))
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if mode == QIcon.Mode.Disabled:
            painter.setOpacity(0.4)
        renderer.render(painter)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        self._pixmaps[key] = pixmap
        return pixmap

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        scale = painter.device().devicePixelRatioF() if painter.device() else 1.0
        painter.drawPixmap(rect, self.scaledPixmap(rect.size(), mode, state, scale))

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        return size

    def clone(self) -> QIconEngine:
        return PaletteSvgEngine(self._svg)

    def key(self) -> str:
        return "gavel-palette-svg"


def readable_on_palette(color: str, palette: QPalette | None = None) -> QColor:
    """A fixed accent (a risk tier's colour) made AA-legible on the palette's Window and
    Base, keeping its hue: dark red stays red on near-black, just lighter."""
    pal = palette if palette is not None else current_palette()
    window, base = pal.color(QPalette.ColorRole.Window), pal.color(QPalette.ColorRole.Base)
    # Table cells ask for this on every paint: remember each answer (a handful of
    # tiers times the palettes of a session), as readable() tries up to 20 mixes.
    key = (color, window.rgba(), base.rgba())
    hit = _READABLE.get(key)
    if hit is None:
        hit = _READABLE[key] = readable(QColor(color), window, base)
    return QColor(hit)


_READABLE: dict[tuple[str, int, int], QColor] = {}
