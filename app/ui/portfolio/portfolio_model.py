"""The portfolio table: a Qt model over model ids, rows fetched lazily in blocks.

Like Anki's browser table, the model holds only the ordered list of ids the cache
returned for the current filter and sort; the rows themselves are read in blocks
around whatever index Qt asks about and kept in a small LRU. Sorting and filtering
re-query the ids in SQL, never in a proxy.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon

from app.domain.errors import GavelError
from app.domain.portfolio import PortfolioRow, PortfolioSort
from app.presentation.formatting import (
    aliases_text,
    from_ms,
    relative_time,
    risk_color,
    utc_text,
)
from app.services.portfolio import PortfolioService
from app.ui.common.resources import dot_icon, icon
from app.ui.common.signals import emit
from app.ui.common.theme import readable_on_palette, semantic
from app.ui.portfolio.first_screen import TITLES

log = logging.getLogger("gavel.ui.portfolio")

AnyIndex = QModelIndex | QPersistentModelIndex

MODEL_KEY_ROLE = Qt.ItemDataRole.UserRole + 1

VIOLATION_TOOLTIP = "Alias moved without an approved request"
DRIFT_TOOLTIP = "Serving drift: an endpoint serves another version than its alias names"


class Column(IntEnum):
    MODEL = 0
    REGISTRY = 1
    LATEST_VERSION = 2
    ALIASES = 3
    OWNER = 4
    TEAM = 5
    RISK_TIER = 6
    VERSIONS = 7
    LAST_UPDATED = 8


_TITLES = dict(zip(Column, TITLES, strict=True))

_HEADER_TIPS = {
    Column.ALIASES: "Named pointers to a version, e.g. champion → v3 (not sortable)",
    Column.OWNER: "The model's 'owner' tag in the registry",
    Column.TEAM: "The model's 'team' tag in the registry",
    Column.RISK_TIER: "The model's 'risk_tier' tag in the registry",
    Column.LAST_UPDATED: (
        "When the registry last changed the model, by the registry's clock (local time; "
        "UTC in tooltip); not when Gavel synced it"
    ),
}

SORT_OF_COLUMN: dict[Column, PortfolioSort] = {
    Column.MODEL: PortfolioSort.NAME,
    Column.REGISTRY: PortfolioSort.REGISTRY,
    Column.LATEST_VERSION: PortfolioSort.LATEST_VERSION,
    Column.OWNER: PortfolioSort.OWNER,
    Column.TEAM: PortfolioSort.TEAM,
    Column.RISK_TIER: PortfolioSort.RISK_TIER,
    Column.VERSIONS: PortfolioSort.VERSION_COUNT,
    Column.LAST_UPDATED: PortfolioSort.LAST_UPDATED,
}
COLUMN_OF_SORT = {sort: column for column, sort in SORT_OF_COLUMN.items()}


@dataclass(frozen=True)
class PortfolioQuery:
    text: str
    registry: str | None
    sort: PortfolioSort
    descending: bool
    team: str | None = None
    only: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class PortfolioRead:
    """Ids for a query and the rows read with them (off the GUI thread)."""

    query: PortfolioQuery
    keys: list[int]
    rows: dict[int, PortfolioRow]


class PortfolioModel(QAbstractTableModel):
    """Ids of the filtered, sorted portfolio; rows read on demand from the cache."""

    # A cache read failed (busy, unreadable): a sentence for the status bar.
    load_failed = Signal(str)

    def __init__(
        self,
        portfolio: PortfolioService,
        parent: Any = None,
        block_size: int = 100,
        cache_rows: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(parent)
        self._portfolio = portfolio
        self._block = max(1, block_size)
        self._cache_cap = max(self._block, cache_rows)
        self._clock = clock
        self._keys: list[int] = []
        self._rows: OrderedDict[int, PortfolioRow] = OrderedDict()
        self._text = ""
        self._registry: str | None = None
        self._sort = PortfolioSort.NAME
        self._descending = False
        # The team chosen ('' for models without one; None: every team).
        self._team: str | None = None
        # The list behind an overview figure: only these (registry, model); None: all.
        self._only: tuple[tuple[str, str], ...] | None = None
        # (registry, model) with an alias moved behind governance's back (see Violations).
        self._flagged: frozenset[tuple[str, str]] = frozenset()
        # (registry, model) -> why an endpoint serves another version than its alias.
        self._drift: dict[tuple[str, str], str] = {}

    # -- queries ---------------------------------------------------------------------

    @property
    def filter_text(self) -> str:
        return self._text

    @property
    def registry(self) -> str | None:
        return self._registry

    @property
    def team(self) -> str | None:
        return self._team

    @property
    def only(self) -> tuple[tuple[str, str], ...] | None:
        return self._only

    def set_team(self, team: str | None) -> None:
        """Only one team's models ('' for those without a team tag); None: every team."""
        self._team = team
        self.refresh()

    def set_only(self, models: tuple[tuple[str, str], ...] | None) -> None:
        """Only these (registry, model) pairs (an overview figure's list); None: all."""
        self._only = None if models is None else tuple(models)
        self.refresh()

    @property
    def sort_key(self) -> tuple[PortfolioSort, bool]:
        return self._sort, self._descending

    def key_at(self, row: int) -> int | None:
        return self._keys[row] if 0 <= row < len(self._keys) else None

    def row_of(self, key: int) -> int | None:
        try:
            return self._keys.index(key)
        except ValueError:
            return None

    def row_at(self, row: int) -> PortfolioRow | None:
        key = self.key_at(row)
        return None if key is None else self._row(key, row)

    def cached_row_count(self) -> int:
        return len(self._rows)

    # -- changes ---------------------------------------------------------------------

    def set_filter(self, text: str | None = None, registry: str | bool | None = False) -> None:
        """New filter text and/or registry (None = all); re-queries the ids in SQL.

        registry: False leaves the registry filter as it is.
        """
        if text is not None:
            self._text = text
        if registry is not False:
            self._registry = registry if isinstance(registry, str) else None
        self.refresh()

    def refresh(self) -> None:
        """Re-read ids and drop cached rows (after a sync or a filter change).

        Views keep their selection by id across the reset (see PortfolioView).
        """
        self.beginResetModel()
        self._rows.clear()
        self._keys = self._query_keys()
        self.endResetModel()

    @property
    def query(self) -> PortfolioQuery:
        """What `refresh` would ask the cache: to read it off the GUI thread."""
        return PortfolioQuery(
            self._text, self._registry, self._sort, self._descending, self._team, self._only
        )

    def read(
        self, portfolio: PortfolioService, q: PortfolioQuery, keep: int | None = None
    ) -> PortfolioRead:
        """The ids for `q` (this model's `query`, taken on the GUI thread) and the rows of
        the first block and of the block holding `keep`: what `apply` shows without
        another read. Runs on a worker: touches no Qt object."""
        keys = portfolio.model_keys(q.text, q.registry, q.sort, q.descending, q.team, q.only)
        wanted = list(keys[: self._block])
        if keep is not None and keep in keys:
            row = keys.index(keep)
            start = row - row % self._block
            wanted += keys[start : start + self._block]
        return PortfolioRead(q, keys, portfolio.rows(wanted) if wanted else {})

    def apply(self, result: PortfolioRead) -> None:
        """Show what `read` got, in one model reset; re-reads when the filter or sort
        changed while it was reading."""
        if result.query != self.query:
            self.refresh()
            return
        self.beginResetModel()
        self._rows.clear()
        self._keys = list(result.keys)
        self._rows.update(result.rows)
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        try:
            sort = SORT_OF_COLUMN[Column(column)]
        except (ValueError, KeyError):
            return  # aliases have no meaningful order
        descending = order == Qt.SortOrder.DescendingOrder
        if (sort, descending) == (self._sort, self._descending) and self._keys:
            return
        self._sort, self._descending = sort, descending
        # Same rows, new order: a layout change keeps selections and the current
        # index on the same models.
        emit(self.layoutAboutToBeChanged)
        old_keys = self._keys
        self._keys = self._query_keys()
        new_row = {key: row for row, key in enumerate(self._keys)}
        old_indexes = self.persistentIndexList()
        new_indexes = []
        for index in old_indexes:
            row = index.row()
            key = old_keys[row] if 0 <= row < len(old_keys) else None
            target = new_row.get(key) if key is not None else None
            new_indexes.append(
                QModelIndex() if target is None else self.index(target, index.column())
            )
        self.changePersistentIndexList(old_indexes, new_indexes)
        emit(self.layoutChanged)

    def set_sort(self, sort: PortfolioSort, descending: bool) -> None:
        """Sort order to use on the next query (restored settings), without a query."""
        self._sort, self._descending = sort, descending

    def set_flagged(self, flagged: frozenset[tuple[str, str]]) -> None:
        """Models to mark with the violation icon; repaints the Model column."""
        if flagged == self._flagged:
            return
        self._flagged = flagged
        if self._keys:
            emit(
                self.dataChanged,
                self.index(0, Column.MODEL),
                self.index(len(self._keys) - 1, Column.MODEL),
                [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole],
            )

    def is_flagged(self, row: PortfolioRow) -> bool:
        return (row.registry, row.name) in self._flagged

    def set_serving_drift(self, drift: dict[tuple[str, str], str]) -> None:
        """Models an endpoint serves off-alias (with the reasons); repaints the Aliases column."""
        if drift == self._drift:
            return
        self._drift = dict(drift)
        if self._keys:
            emit(
                self.dataChanged,
                self.index(0, Column.ALIASES),
                self.index(len(self._keys) - 1, Column.ALIASES),
                [
                    Qt.ItemDataRole.DecorationRole,
                    Qt.ItemDataRole.ToolTipRole,
                    Qt.ItemDataRole.ForegroundRole,
                ],
            )

    def serving_drift(self, row: PortfolioRow) -> str:
        """Why an endpoint of this model serves another version than its alias ('' if none)."""
        return self._drift.get((row.registry, row.name), "")

    def touch_times(self) -> None:
        """Relative times ('5 minutes ago') age: ask views to repaint that column."""
        if self._keys:
            col = Column.LAST_UPDATED
            emit(
                self.dataChanged,
                self.index(0, col),
                self.index(len(self._keys) - 1, col),
                [Qt.ItemDataRole.DisplayRole],
            )

    def _query_keys(self) -> list[int]:
        try:
            return self._portfolio.model_keys(
                self._text, self._registry, self._sort, self._descending, self._team, self._only
            )
        except GavelError as exc:
            log.warning("portfolio query failed: %s", exc.message)
            emit(self.load_failed, exc.message)
            return []

    def _row(self, key: int, row: int) -> PortfolioRow | None:
        found = self._rows.get(key)
        if found is not None:
            self._rows.move_to_end(key)
            return found
        self._fetch_block(row)
        return self._rows.get(key)

    def _fetch_block(self, row: int) -> None:
        start = row - row % self._block
        wanted = [k for k in self._keys[start : start + self._block] if k not in self._rows]
        if not wanted:
            return
        try:
            fetched = self._portfolio.rows(wanted)
        except GavelError as exc:
            log.warning("portfolio rows could not be read: %s", exc.message)
            emit(self.load_failed, exc.message)
            return
        for key in wanted:
            if key in fetched:
                self._rows[key] = fetched[key]
        while len(self._rows) > self._cache_cap:
            self._rows.popitem(last=False)

    # -- Qt model interface --------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._keys)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        column = Column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return _TITLES[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS.get(column)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._keys):
            return None
        key = self._keys[index.row()]
        if role == MODEL_KEY_ROLE:
            return key
        column = Column(index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column in (Column.LATEST_VERSION, Column.VERSIONS):
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role not in _ROLES_NEEDING_ROW:
            return None
        row = self._row(key, index.row())
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(row, column)
        return None

    def _display(self, row: PortfolioRow, column: Column) -> str:
        match column:
            case Column.MODEL:
                return row.name
            case Column.REGISTRY:
                return row.registry
            case Column.LATEST_VERSION:
                return "" if row.latest_version is None else f"v{row.latest_version}"
            case Column.ALIASES:
                return aliases_text(row.aliases)
            case Column.OWNER:
                return row.owner or "no owner"
            case Column.TEAM:
                return row.team or "no team"
            case Column.RISK_TIER:
                return row.risk_tier.capitalize() if row.risk_tier else "not set"
            case Column.VERSIONS:
                return str(row.version_count)
            case Column.LAST_UPDATED:
                when = from_ms(row.last_updated_timestamp)
                return "" if when is None else relative_time(when, self._clock())

    def _tooltip(self, row: PortfolioRow, column: Column) -> str | None:
        if column == Column.ALIASES and (drift := self.serving_drift(row)):
            aliases = "\n".join(f"{a} → v{v}" for a, v in sorted(row.aliases.items()))
            return f"{DRIFT_TOOLTIP} (see Endpoints).\n{drift}\n\n{aliases}"
        match column:
            case Column.MODEL:
                team = f"\nTeam: {row.team}" if row.team else ""
                flag = f"\n{VIOLATION_TOOLTIP} (see Violations)" if self.is_flagged(row) else ""
                return f"{row.name} in registry {row.registry}{team}{flag}"
            case Column.ALIASES:
                if not row.aliases:
                    return "No aliases point at a version of this model."
                return "\n".join(f"{a} → v{v}" for a, v in sorted(row.aliases.items()))
            case Column.OWNER if not row.owner:
                return "The registry has no 'owner' tag for this model."
            case Column.RISK_TIER if not row.risk_tier:
                return "The registry has no 'risk_tier' tag for this model."
            case Column.LAST_UPDATED:
                when = from_ms(row.last_updated_timestamp)
                return None if when is None else f"Changed in the registry {utc_text(when)}"
        return None

    def _foreground(self, row: PortfolioRow, column: Column) -> QColor | None:
        if column == Column.ALIASES and self.serving_drift(row):
            return QColor(semantic().error)
        if column == Column.RISK_TIER:
            return readable_on_palette(risk_color(row.risk_tier))
        if column == Column.OWNER and not row.owner:
            return QColor(semantic().muted)
        return None

    def _decoration(self, row: PortfolioRow, column: Column) -> QIcon | None:
        if column == Column.RISK_TIER:
            return dot_icon(risk_color(row.risk_tier))
        if column == Column.MODEL and self.is_flagged(row):
            return icon("warning")
        if column == Column.ALIASES and self.serving_drift(row):
            return icon("drift")
        return None


_ROLES_NEEDING_ROW = {
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.DecorationRole,
}
