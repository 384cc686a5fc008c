"""The portfolio's first screen, painted before the rest of the console is imported.

Stage one of the console's start (see app/ui/console.py): the window shows the first
rows of the cached portfolio, read with the standard library's sqlite3 from the
cache file, read-only, while SQLAlchemy, the services and the other features are
not imported yet. Stage two replaces this table with the real portfolio page.

Light on purpose: this module imports PySide6 and the standard library only (a test
in tests/test_ui_first_screen.py holds it to that).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QTableView

log = logging.getLogger("gavel.ui.portfolio")

PORTFOLIO_PAGE = "portfolio"

# The portfolio table's column titles, in its column order (portfolio_model.Column).
TITLES = (
    "Model",
    "Registry",
    "Latest version",
    "Aliases",
    "Owner",
    "Team",
    "Risk tier",
    "Versions",
    "Changed in registry",
)

# A tall window shows about 40 rows; a few more cost nothing.
FIRST_SCREEN_ROWS = 60


@dataclass(frozen=True)
class FirstRow:
    name: str
    registry: str
    latest_version: int | None
    aliases: str
    owner: str
    team: str
    risk_tier: str
    version_count: int
    last_updated_ms: int | None

    def cells(self) -> tuple[str, ...]:
        updated = ""
        if self.last_updated_ms is not None:
            updated = datetime.fromtimestamp(self.last_updated_ms / 1000).strftime("%Y-%m-%d %H:%M")
        return (
            self.name,
            self.registry,
            "" if self.latest_version is None else f"v{self.latest_version}",
            self.aliases,
            self.owner or "no owner",
            self.team or "no team",
            self.risk_tier.capitalize() if self.risk_tier else "not set",
            str(self.version_count),
            updated,
        )


_QUERY = """
SELECT m.id, m.name, r.name, m.latest_version, m.owner, m.team, m.risk_tier, m.version_count,
       m.last_updated_ts
FROM models AS m JOIN registries AS r ON r.id = m.registry_id
{where}
ORDER BY lower(m.name), m.id
LIMIT ?
"""


def read_first_screen(
    cache_db: Path, registry: str | None = None, limit: int = FIRST_SCREEN_ROWS
) -> list[FirstRow]:
    """The first `limit` cached models by name (of one registry, or all), read-only.

    Any trouble (no cache yet, an older schema, a locked file) gives no rows: the real
    portfolio page, built a moment later, reports it properly.
    """
    if not cache_db.is_file():
        return []
    try:
        con = sqlite3.connect(f"{cache_db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.2)
    except sqlite3.Error as exc:
        log.info("first screen: cache not readable: %s", exc)
        return []
    try:
        where, args = ("WHERE r.name = ?", [registry]) if registry else ("", [])
        rows = con.execute(_QUERY.format(where=where), [*args, limit]).fetchall()
        ids = [row[0] for row in rows]
        aliases: dict[int, list[str]] = {}
        if ids:
            marks = ",".join("?" * len(ids))
            for mid, alias, version in con.execute(
                f"SELECT model_id, alias, version FROM aliases WHERE model_id IN ({marks})"
                " ORDER BY alias",
                ids,
            ):
                aliases.setdefault(mid, []).append(f"{alias} → v{version}")
    except sqlite3.Error as exc:
        log.info("first screen: cache not readable: %s", exc)
        return []
    finally:
        con.close()
    return [
        FirstRow(
            name=name,
            registry=reg,
            latest_version=latest,
            aliases=", ".join(aliases.get(mid, [])),
            owner=owner or "",
            team=team or "",
            risk_tier=tier or "",
            version_count=count or 0,
            last_updated_ms=updated,
        )
        for mid, name, reg, latest, owner, team, tier, count, updated in rows
    ]


class FirstScreenTable(QTableView):
    """A plain table of the first rows; read-only, replaced by the portfolio page."""

    def __init__(self, rows: list[FirstRow]) -> None:
        super().__init__()
        self.setObjectName("PortfolioFirstScreen")
        model = QStandardItemModel(len(rows), len(TITLES), self)
        model.setHorizontalHeaderLabels(list(TITLES))
        for r, row in enumerate(rows):
            for c, text in enumerate(row.cells()):
                item = QStandardItem(text)
                item.setEditable(False)
                if c in (2, 6):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                model.setItem(r, c, item)
        self.setModel(model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setStretchLastSection(True)
