"""The audit trail table: a lazy Qt model over the ledger, newest event first.

Like the portfolio table it holds sequence numbers, not events — and it reads even
those lazily: with no filter the ledger's seqs are gapless 1..N, so the model needs
only N (one count and one indexed read, in a worker) and computes the seq of any
row. With a filter, `audit.seqs(query)` runs in a worker (filtering is SQL).

Events are fetched in blocks around the rows Qt asks about, also in workers (in team
mode the ledger is a PostgreSQL server away); until a block arrives its rows show
their seq and a placeholder. Filtering and order changes start a new generation
whose results replace the old; late results of an older generation are dropped.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.ledger import LedgerEvent
from app.domain.ledger_query import LedgerQuery
from app.domain.progress import ProgressCallback
from app.presentation.ledger_text import action_label, event_details, event_summary, timestamp_text
from app.services.audit import AuditService
from app.ui.audit.ledger_index import (
    SeqIndex,
    Unreadable,
    appended,
    load_events,
    load_index,
)
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.theme import semantic

log = logging.getLogger("gavel.ui.audit")

AnyIndex = QModelIndex | QPersistentModelIndex

SEQ_ROLE = Qt.ItemDataRole.UserRole + 1
LOADING_TEXT = "…"
# Block requests still waiting beyond this are dropped (the person scrolled past them).
_MAX_PENDING_BLOCKS = 6


class AuditColumn(IntEnum):
    SEQ = 0
    TIME = 1
    ACTOR = 2
    ACTION = 3
    SUBJECT = 4
    SUMMARY = 5
    SIGNED = 6


_TITLES = {
    AuditColumn.SEQ: "Event",
    AuditColumn.TIME: "Time (UTC)",
    AuditColumn.ACTOR: "Actor",
    AuditColumn.ACTION: "Action",
    AuditColumn.SUBJECT: "Subject",
    AuditColumn.SUMMARY: "Summary",
    AuditColumn.SIGNED: "Signed",
}

_HEADER_TIPS = {
    AuditColumn.SEQ: "The event's sequence number: gapless, in the order it was recorded",
    AuditColumn.SUBJECT: "What the event is about: model:REGISTRY/MODEL, request:ID, user:ID…",
    AuditColumn.SIGNED: "Approvals and rejections carry the signer's Ed25519 signature",
}


class AuditTrailModel(QAbstractTableModel):
    loading_changed = Signal(bool)  # the seq index is being (re)loaded
    index_loaded = Signal()
    load_failed = Signal(str)

    def __init__(
        self,
        audit: AuditService,
        runner: TaskRunner,
        parent: Any = None,
        block_size: int = 200,
        cache_events: int = 5000,
    ) -> None:
        super().__init__(parent)
        self._audit = audit
        self._runner = runner
        self._block = max(1, block_size)
        self._cap = max(self._block * 2, cache_events)
        self._index = SeqIndex()
        self._descending = True
        self._query = LedgerQuery()
        # The query the current index answers (None before the first load).
        self._index_query: LedgerQuery | None = None
        self._generation = 0
        self._events: OrderedDict[int, LedgerEvent | Unreadable] = OrderedDict()
        self._pending: OrderedDict[int, TaskHandle] = OrderedDict()
        self.loading = False
        self.blocks_fetched = 0
        self._closed = False
        # The first bad event of the last verification: shown in red until the next one.
        self._problem: tuple[int, str] | None = None

    # -- queries ---------------------------------------------------------------------

    @property
    def query(self) -> LedgerQuery:
        return self._query

    @property
    def descending(self) -> bool:
        return self._descending

    @property
    def total(self) -> int:
        return len(self._index)

    def seq_at(self, row: int) -> int | None:
        n = len(self._index)
        if not 0 <= row < n:
            return None
        return self._index.ascending_at(n - 1 - row if self._descending else row)

    def row_of_seq(self, seq: int, nearest: bool = False) -> int | None:
        position = self._index.nearest_position(seq) if nearest else self._index.position_of(seq)
        if position is None:
            return None
        return len(self._index) - 1 - position if self._descending else position

    def event_at(self, row: int) -> LedgerEvent | Unreadable | None:
        """The event of a row if it was fetched (None: not yet; a fetch is started)."""
        seq = self.seq_at(row)
        if seq is None:
            return None
        found = self._events.get(seq)
        if found is not None:
            self._events.move_to_end(seq)
            return found
        self._request_block(row // self._block)
        return None

    def is_loaded(self, row: int) -> bool:
        seq = self.seq_at(row)
        return seq is not None and seq in self._events

    # -- changes ---------------------------------------------------------------------

    def set_query(self, query: LedgerQuery) -> None:
        self._query = query
        self.reload()

    def set_problem(self, seq: int | None, message: str = "") -> None:
        """Mark the event verification found bad (None: clear the mark)."""
        old = self._problem[0] if self._problem else None
        self._problem = (seq, message) if seq is not None else None
        for changed in {old, seq} - {None}:
            assert changed is not None
            row = self.row_of_seq(changed)
            if row is not None:
                emit(
                    self.dataChanged,
                    self.index(row, 0),
                    self.index(row, len(AuditColumn) - 1),
                    [],
                )

    def close(self) -> None:
        """At shutdown: start no more reads (rows not fetched yet stay placeholders)."""
        self._closed = True
        self._drop_pending()

    def reload(self) -> None:
        """Re-read which events match (a new generation); rows keep showing until then."""
        if self._closed:
            return
        self._generation += 1
        generation = self._generation
        self._drop_pending()
        audit, query = self._audit, self._query

        def work(cancel: CancelToken, _progress: ProgressCallback) -> SeqIndex:
            return load_index(audit, query, cancel)

        self._set_loading(True)
        self._runner.run(
            work,
            key=f"audit-index-{id(self)}",
            label="Reading the audit ledger",
            on_success=lambda index: self._index_loaded(generation, query, index),
            on_failure=self._index_failed,
        )

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column != AuditColumn.SEQ:
            return  # only ledger order is meaningful (and cheap) on a million events
        descending = order == Qt.SortOrder.DescendingOrder
        if descending == self._descending:
            return
        self.beginResetModel()
        self._descending = descending
        self._drop_pending()
        self.endResetModel()

    def _index_loaded(self, generation: int, query: LedgerQuery, index: SeqIndex) -> None:
        if generation != self._generation:
            return
        added = appended(self._index, index) if query == self._index_query else None
        if added is None:
            self.beginResetModel()
            self._index = index
            self._events.clear()
            self.endResetModel()
        elif added > 0:
            # New events only (the ledger is append-only): insert them, so the view
            # keeps its selection and the rows already read.
            first = 0 if self._descending else len(self._index)
            self.beginInsertRows(QModelIndex(), first, first + added - 1)
            self._index = index
            self.endInsertRows()
        self._index_query = query
        self._set_loading(False)
        emit(self.index_loaded)

    def _index_failed(self, exc: GavelError) -> None:
        if isinstance(exc, Cancelled):
            return
        self._set_loading(False)
        log.warning("audit ledger index could not be read: %s", exc.message)
        emit(self.load_failed, f"The audit ledger could not be read: {exc.message}")

    def _set_loading(self, loading: bool) -> None:
        if loading != self.loading:
            self.loading = loading
            emit(self.loading_changed, loading)

    # -- block fetching ------------------------------------------------------------------

    def _drop_pending(self) -> None:
        for handle in self._pending.values():
            self._runner.discard(handle)
        self._pending.clear()

    def _request_block(self, block: int) -> None:
        if self._closed:
            return
        if block in self._pending:
            self._pending.move_to_end(block)
            return
        start = block * self._block
        end = min(start + self._block, len(self._index))
        seqs = [s for r in range(start, end) if (s := self.seq_at(r)) is not None]
        if not seqs:
            return
        generation, audit = self._generation, self._audit
        descending = self._descending

        def work(
            cancel: CancelToken, _progress: ProgressCallback
        ) -> dict[int, LedgerEvent | Unreadable]:
            cancel.raise_if_cancelled()
            return load_events(audit, seqs)

        handle = self._runner.run(
            work,
            key=f"audit-block-{id(self)}-{generation}-{descending}-{block}",
            label="Reading audit events",
            on_success=lambda events: self._block_loaded(generation, descending, block, events),
            on_failure=lambda exc: self._block_failed(block, exc),
        )
        self._pending[block] = handle
        while len(self._pending) > _MAX_PENDING_BLOCKS:
            _old, stale = self._pending.popitem(last=False)
            self._runner.discard(stale)

    def _block_loaded(
        self,
        generation: int,
        descending: bool,
        block: int,
        events: dict[int, LedgerEvent | Unreadable],
    ) -> None:
        if generation != self._generation or descending != self._descending:
            return
        self._pending.pop(block, None)
        self.blocks_fetched += 1
        for seq, event in events.items():
            self._events[seq] = event
        while len(self._events) > self._cap:
            self._events.popitem(last=False)
        start = block * self._block
        end = min(start + self._block, len(self._index)) - 1
        if start <= end:
            emit(
                self.dataChanged,
                self.index(start, 0),
                self.index(end, len(AuditColumn) - 1),
                [],
            )

    def _block_failed(self, block: int, exc: GavelError) -> None:
        self._pending.pop(block, None)
        if not isinstance(exc, Cancelled):
            log.warning("audit events could not be read: %s", exc.message)
            emit(self.load_failed, f"Audit events could not be read: {exc.message}")

    # -- Qt model interface --------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._index)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(AuditColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(AuditColumn):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _TITLES[AuditColumn(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS.get(AuditColumn(section))
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
        if not index.isValid():
            return None
        seq = self.seq_at(index.row())
        if seq is None:
            return None
        column = AuditColumn(index.column())
        if role == SEQ_ROLE:
            return seq
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column == AuditColumn.SEQ:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        problem = self._problem is not None and self._problem[0] == seq
        if role == Qt.ItemDataRole.BackgroundRole:
            return QColor(semantic().error_box[0]) if problem else None
        if role == Qt.ItemDataRole.ToolTipRole and problem and self._problem is not None:
            event = self._events.get(seq)
            details = event_details(event) if isinstance(event, LedgerEvent) else ""
            return f"Verification: {self._problem[1]}\n\n{details}".strip()
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.ForegroundRole,
        ):
            return None
        if column == AuditColumn.SEQ and role == Qt.ItemDataRole.DisplayRole:
            return str(seq)
        event = self.event_at(index.row())
        if event is None:
            return LOADING_TEXT if role == Qt.ItemDataRole.DisplayRole else None
        if isinstance(event, Unreadable):
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor(semantic().error)
            if role == Qt.ItemDataRole.ToolTipRole:
                return event.message
            return "unreadable record" if column == AuditColumn.SUMMARY else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            return event_details(event)
        if role == Qt.ItemDataRole.ForegroundRole:
            return _foreground(event, column)
        return _display(event, column)


def _display(e: LedgerEvent, column: AuditColumn) -> str:
    match column:
        case AuditColumn.SEQ:
            return str(e.seq)
        case AuditColumn.TIME:
            return timestamp_text(e).removesuffix(" UTC")
        case AuditColumn.ACTOR:
            return e.actor
        case AuditColumn.ACTION:
            return action_label(e.action)
        case AuditColumn.SUBJECT:
            return e.subject
        case AuditColumn.SUMMARY:
            return event_summary(e)
        case AuditColumn.SIGNED:
            return f"✓ {e.signer}" if e.signer else ""


def _foreground(e: LedgerEvent, column: AuditColumn) -> QColor | None:
    after = e.after if isinstance(e.after, dict) else {}
    if column == AuditColumn.SUMMARY and after.get("unapproved"):
        return QColor(semantic().error)
    if column == AuditColumn.SIGNED and e.signer:
        return QColor(semantic().ok)
    return None
