"""The one loader for the console's SVG icons and QSS styles (repo-root `resources/`).

A missing file is logged once and replaced by an empty icon or style: a broken
install should look plain, not crash.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.common.theme import PaletteSvgEngine, themed_stylesheet

log = logging.getLogger("gavel.ui.resources")


def _candidates() -> list[Path]:
    out = [Path(__file__).resolve().parents[3] / "resources"]
    bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller unpacks data files here
    if bundle:
        out.append(Path(bundle) / "resources")
    return out


@functools.cache
def resources_dir() -> Path | None:
    for candidate in _candidates():
        if candidate.is_dir():
            return candidate
    log.warning("resources folder not found (looked in %s)", ", ".join(map(str, _candidates())))
    return None


def resource_path(*parts: str) -> Path | None:
    root = resources_dir()
    if root is None:
        return None
    path = root.joinpath(*parts)
    return path if path.is_file() else None


# The engines behind the icons: kept alive here, as Qt holds them only by pointer.
_engines: list[PaletteSvgEngine] = []


@functools.cache
def icon(name: str) -> QIcon:
    """The icon `resources/icons/<name>.svg`, recoloured from the palette whenever it is
    drawn (see `PaletteSvgEngine`); an empty icon when the file is missing."""
    path = resource_path("icons", f"{name}.svg")
    if path is None:
        log.warning("icon %r is missing", name)
        return QIcon()
    try:
        svg = path.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("icon %s unreadable: %s", path, exc)
        return QIcon()
    engine = PaletteSvgEngine(svg)
    _engines.append(engine)
    return QIcon(engine)


def stylesheet(name: str = "gavel", palette: QPalette | None = None) -> str:
    """The QSS `resources/styles/<name>.qss` with its colour tokens taken from `palette`
    (default: the application's), or '' when it is missing or unreadable."""
    return themed_stylesheet(_stylesheet_template(name), palette)


@functools.cache
def _stylesheet_template(name: str) -> str:
    path = resource_path("styles", f"{name}.qss")
    if path is None:
        log.warning("stylesheet %r is missing", name)
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("stylesheet %s unreadable: %s", path, exc)
        return ""


@functools.cache
def dot_icon(color: str, size: int = 12) -> QIcon:
    """A filled circle, used as a colour badge next to text (risk tier)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


class _Restyler(QObject):
    """Re-applies the themed stylesheet to one widget when the palette changes: the
    sheet's colours are baked from the palette, so a light→dark switch needs a new one."""

    def __init__(self, target: QWidget) -> None:
        super().__init__(target)
        self._target = target

    def restyle(self) -> None:
        sheet = stylesheet()
        # Setting a sheet can itself post palette events; same sheet, nothing to do.
        if self._target.styleSheet() != sheet:
            self._target.setStyleSheet(sheet)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._target and event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
        ):
            self.restyle()
        return False


def follow_palette(target: QWidget | QApplication) -> None:
    """Style `target` with the themed stylesheet now and again whenever the palette
    changes (a widget: its own palette events; the application: `paletteChanged`)."""
    if isinstance(target, QApplication):
        target.setStyleSheet(stylesheet())
        target.paletteChanged.connect(lambda _p: target.setStyleSheet(stylesheet()))
        return
    restyler = _Restyler(target)
    restyler.restyle()
    target.installEventFilter(restyler)
