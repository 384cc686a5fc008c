"""The Overview's first screen, painted before the rest of the console is imported.

The Overview is the console's first page, so stage one of the start (see
app/ui/console.py) paints it, not the portfolio: the page's title and the figures
the cache alone answers (models by risk tier), read with the standard library's
sqlite3, read-only. The real Overview page takes its place once its first read of
the cache and the ledger is on screen, so the window never shows another page first
or an empty page between the two.

Light on purpose: PySide6 and the standard library only (tests/test_ui_first_screen.py
holds it to that).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

log = logging.getLogger("gavel.ui.overview")

OVERVIEW_PAGE = "overview"
RISK_TIERS = ("high", "medium", "low")


@dataclass(frozen=True)
class TierCounts:
    """Cached models by their risk_tier tag (anything else counts as none)."""

    total: int = 0
    high: int = 0
    medium: int = 0
    low: int = 0
    none: int = 0

    def figures(self) -> list[tuple[int, str]]:
        """(value, label) in the Overview's own order and words."""
        return [
            (self.total, "All models"),
            (self.high, "High risk"),
            (self.medium, "Medium risk"),
            (self.low, "Low risk"),
            (self.none, "No risk tier (counts as high)"),
        ]


def read_tiers(cache_db: Path) -> TierCounts | None:
    """The counts, or None when the cache cannot tell (none yet, an older schema, locked):
    the real page says why a moment later."""
    if not cache_db.is_file():
        return None
    try:
        con = sqlite3.connect(f"{cache_db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error as exc:
        log.info("overview first screen: cache not readable: %s", exc)
        return None
    try:
        rows = con.execute(
            "SELECT lower(trim(coalesce(risk_tier, ''))), count(*) FROM models GROUP BY 1"
        ).fetchall()
    except sqlite3.Error as exc:
        log.info("overview first screen: cache not readable: %s", exc)
        return None
    finally:
        con.close()
    by_tier = {str(tier): int(n) for tier, n in rows}
    known = {t: by_tier.get(t, 0) for t in RISK_TIERS}
    total = sum(by_tier.values())
    return TierCounts(
        total, known["high"], known["medium"], known["low"], total - sum(known.values())
    )


class OverviewFirstScreen(QWidget):
    """The Overview's title and its first section, drawn like the real page's."""

    def __init__(self, counts: TierCounts | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("OverviewFirstScreen")
        self.counts = counts
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 8)
        head = QHBoxLayout()
        title = QLabel("Overview")
        title.setObjectName("OverviewTitle")
        head.addWidget(title)
        head.addStretch(1)
        outer.addLayout(head)
        self.reading = QLabel("Reading requests, reviews and violations from the ledger…")
        self.reading.setObjectName("Muted")
        outer.addWidget(self.reading)
        if counts is not None and counts.total:
            section = QLabel("Models by risk tier")
            section.setObjectName("SectionTitle")
            outer.addWidget(section)
            grid = QGridLayout()
            for i, (value, label) in enumerate(counts.figures()):
                grid.addWidget(_figure(value, label), i // 3, i % 3)
            outer.addLayout(grid)
        outer.addStretch(1)


def _figure(value: int, label: str) -> QWidget:
    """A figure as the real page draws one (a frame styled as OverviewFigure)."""
    box = QLabel()
    box.setObjectName("OverviewFirstFigure")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(
        f'<span style="font-size: 16pt; font-weight: 600">{value:,}</span>&nbsp;&nbsp;{label}'
    )
    box.setMinimumHeight(44)
    return box
