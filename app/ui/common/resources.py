"""The one loader for the console's SVG icons and QSS styles (repo-root `resources/`).

A missing file is logged once and replaced by an empty icon or style: a broken
install should look plain, not crash.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

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


@functools.cache
def icon(name: str) -> QIcon:
    """The icon `resources/icons/<name>.svg`, or an empty icon when it is missing."""
    path = resource_path("icons", f"{name}.svg")
    if path is None:
        log.warning("icon %r is missing", name)
        return QIcon()
    return QIcon(str(path))


@functools.cache
def stylesheet(name: str = "gavel") -> str:
    """The QSS `resources/styles/<name>.qss`, or '' when it is missing or unreadable."""
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
