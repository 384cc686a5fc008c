"""The approvals inbox: promotion requests under one filter (a small in-memory list)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.domain.governance import RequestState, normalize_tier
from app.presentation.formatting import relative_time, risk_color, utc_text
from app.presentation.ledger_text import STATE_LABELS
from app.services.governance import InboxEntry
from app.services.governance_inbox import (
    GovernanceData,
    approvals_done,
    approvals_needed,
)
from app.ui.common.resources import dot_icon
from app.ui.common.row_list_model import TitledTableModel
from app.ui.common.theme import readable_on_palette, semantic

AnyIndex = QModelIndex | QPersistentModelIndex

REQUEST_ID_ROLE = Qt.ItemDataRole.UserRole + 1


class InboxFilter(StrEnum):
    WAITING = "waiting"
    MINE = "mine"
    ALL = "all"


FILTER_TITLES = {
    InboxFilter.WAITING: "Waiting for me",
    InboxFilter.MINE: "Requested by me",
    InboxFilter.ALL: "All",
}


def filter_items(data: GovernanceData, which: InboxFilter) -> list[InboxEntry]:
    if which is InboxFilter.WAITING:
        return data.waiting()
    if which is InboxFilter.MINE:
        return data.mine()
    return list(data.items)


class InboxColumn(IntEnum):
    REQUEST = 0
    PROMOTION = 1
    RISK_TIER = 2
    REQUESTER = 3
    STATE = 4
    APPROVALS = 5
    AGE = 6


_TITLES = {
    InboxColumn.REQUEST: "Request",
    InboxColumn.PROMOTION: "Promotion",
    InboxColumn.RISK_TIER: "Risk tier",
    InboxColumn.REQUESTER: "Requester",
    InboxColumn.STATE: "State",
    InboxColumn.APPROVALS: "Approvals",
    InboxColumn.AGE: "Age",
}

_HEADER_TIPS = {
    InboxColumn.PROMOTION: "Model and version → the alias it should become",
    InboxColumn.APPROVALS: "Approvals given / approvals the risk tier's policy requires",
    InboxColumn.AGE: "Time since the request was made (UTC time in the tooltip)",
}


def _state_color(state: RequestState) -> QColor:
    """The state's colour, from the palette's semantic roles (readable light or dark)."""
    sem = semantic()
    match state:
        case RequestState.PENDING:
            return QColor(sem.warn)
        case RequestState.APPROVED | RequestState.APPLIED:
            return QColor(sem.ok)
        case RequestState.REJECTED | RequestState.CONFLICT | RequestState.STALE:
            return QColor(sem.error)
    return QColor(sem.muted)


class InboxModel(TitledTableModel):
    def __init__(
        self, parent: Any = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        super().__init__(
            [_TITLES[c] for c in InboxColumn],
            parent,
            tips=[_HEADER_TIPS.get(c) for c in InboxColumn],
        )
        self._items: list[InboxEntry] = []
        self._clock = clock

    def set_items(self, items: Sequence[InboxEntry]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def item_at(self, row: int) -> InboxEntry | None:
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, request_id: str) -> int | None:
        return next(
            (r for r, i in enumerate(self._items) if i.request.request_id == request_id), None
        )

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item_at(index.row()) if index.isValid() else None
        if item is None:
            return None
        column = InboxColumn(index.column())
        if role == REQUEST_ID_ROLE:
            return item.request.request_id
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == InboxColumn.STATE:
                return _state_color(item.request.state)
            if column == InboxColumn.RISK_TIER:
                return readable_on_palette(risk_color(item.view.tier))
        if role == Qt.ItemDataRole.DecorationRole and column == InboxColumn.RISK_TIER:
            return dot_icon(risk_color(item.view.tier))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == InboxColumn.APPROVALS:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _display(self, item: InboxEntry, column: InboxColumn) -> str:
        r = item.request
        match column:
            case InboxColumn.REQUEST:
                return r.request_id
            case InboxColumn.PROMOTION:
                return r.target_text
            case InboxColumn.RISK_TIER:
                # The tier whose policy applies: the stricter of the one requested under
                # and any seen since (a tier lowered in the registry lowers nothing).
                if not r.risk_tier and item.view.tier == "high":
                    return "Not set (high)"
                return item.view.tier.capitalize()
            case InboxColumn.REQUESTER:
                return r.requester
            case InboxColumn.STATE:
                return STATE_LABELS.get(r.state, r.state.value)
            case InboxColumn.APPROVALS:
                return f"{approvals_done(item)}/{approvals_needed(item)}"
            case InboxColumn.AGE:
                return relative_time(r.created_at, self._clock()).removesuffix(" ago")

    def _tooltip(self, item: InboxEntry, column: InboxColumn) -> str | None:
        r = item.request
        match column:
            case InboxColumn.REQUEST | InboxColumn.PROMOTION:
                lines = [f"{r.target_text} in {r.identity.registry}", r.justification]
                lines.append(
                    "You may decide it." if item.may_decide else f"You cannot decide: {item.reason}"
                )
                return "\n".join(lines)
            case InboxColumn.STATE:
                if r.state is RequestState.PENDING:
                    return f"Still needed: {item.view.status.describe()}"
                if r.state is RequestState.APPROVED:
                    return "Approved: the policy is satisfied; not applied to the registry yet."
                return r.state_reason or None
            case InboxColumn.APPROVALS:
                who = ", ".join(sorted({d.actor for d in r.approvals})) or "nobody yet"
                role = item.view.policy.required_role.value
                return (
                    f"Approved by {who}; the {item.view.tier}-risk policy needs "
                    f"{approvals_needed(item)} from distinct {role}s"
                )
            case InboxColumn.AGE:
                return f"Requested {utc_text(r.created_at)}"
            case InboxColumn.RISK_TIER if not r.risk_tier:
                return "The model has no risk_tier tag: the high-risk policy applies."
            case InboxColumn.RISK_TIER if item.view.tier != normalize_tier(r.risk_tier):
                return (
                    f"Requested as {r.risk_tier}-risk; the tier seen since is stricter, so the "
                    f"{item.view.tier}-risk policy applies."
                )
        return None
