"""The governance side of one model in the detail view: request a promotion of the
selected version, and answer "which version held alias X at time T" from the ledger.

Attached to the model detail view by `app.ui.governance.governance_ui`; reads run in workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QDateTime,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimeZone,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import ALIAS_ACTIONS, AliasMove, LedgerQuery, alias_move_of, holder_at
from app.domain.ledger_query import model_subject as subject_of
from app.domain.portfolio import ModelDetail
from app.domain.progress import ProgressCallback
from app.presentation.formatting import utc_text
from app.presentation.ledger_text import version_text
from app.services.audit import AuditService
from app.ui.common.resources import icon
from app.ui.common.row_list_model import RowListModel
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.common.theme import semantic
from app.ui.common.widgets import muted_label, row_table, section_title

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class AliasHistory:
    registry: str
    model: str
    aliases: tuple[str, ...]
    alias: str
    moves: tuple[AliasMove, ...]


def load_alias_history(
    audit: AuditService, registry: str, model: str, current: Sequence[str], alias: str | None
) -> AliasHistory:
    """Blocking: the aliases the ledger knows for a model and the moves of one of them."""
    query = LedgerQuery(subject=subject_of(registry, model), actions=ALIAS_ACTIONS)
    seen = {m.alias for e in audit.page(query, limit=None) if (m := alias_move_of(e))}
    aliases = tuple(sorted(seen | set(current)))
    chosen = alias if alias in aliases else (aliases[0] if aliases else "")
    moves = tuple(audit.alias_history(registry, model, chosen)) if chosen else ()
    return AliasHistory(registry, model, aliases, chosen, moves)


def holder_sentence(history: AliasHistory, when: datetime) -> str:
    """'At … UTC, alias 'production' pointed at v3 (set by event 12, …).'"""
    version = holder_at(history.moves, when)
    at = utc_text(when)
    if not history.moves:
        return f"The ledger records no move of '{history.alias}' yet."
    since = [m for m in history.moves if m.at <= when]
    if not since:
        first = history.moves[0]
        return (
            f"At {at} the ledger knew nothing of '{history.alias}' yet: Gavel records "
            f"aliases from the first sync on ({utc_text(first.at)}, event {first.seq})."
        )
    last = since[-1]
    if version is None:
        return f"At {at}, alias '{history.alias}' did not exist (removed at event {last.seq})."
    return (
        f"At {at}, alias '{history.alias}' pointed at v{version} "
        f"(since event {last.seq}, {utc_text(last.at)})."
    )


class MoveColumn(IntEnum):
    EVENT = 0
    WHEN = 1
    CHANGE = 2
    HOW = 3
    BY = 4


_MOVE_TITLES = ("Event", "Time (UTC)", "Change", "How", "Recorded by")


class AliasMovesModel(RowListModel[AliasMove]):
    """The moves of one alias, newest first (a small in-memory list)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(_MOVE_TITLES, parent)
        self._violations: frozenset[int] = frozenset()

    def set_moves(self, moves: Sequence[AliasMove], violation_seqs: frozenset[int]) -> None:
        self._violations = violation_seqs
        self._reset(sorted(moves, key=lambda m: m.seq, reverse=True))

    def move_at(self, row: int) -> AliasMove | None:
        return self._row(row)

    def how(self, move: AliasMove) -> str:
        if move.action == LedgerAction.PROMOTION_APPLIED:
            return "Approved promotion applied"
        if move.seq in self._violations:
            return "Moved without an approved request"
        return "Seen at the first sync (baseline)"

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        move = self.move_at(index.row()) if index.isValid() else None
        if move is None:
            return None
        column = MoveColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            match column:
                case MoveColumn.EVENT:
                    return str(move.seq)
                case MoveColumn.WHEN:
                    return utc_text(move.at).removesuffix(" UTC")
                case MoveColumn.CHANGE:
                    return f"{version_text(move.before)} → {version_text(move.after)}"
                case MoveColumn.HOW:
                    return self.how(move)
                case MoveColumn.BY:
                    return move.actor
        if role == Qt.ItemDataRole.ForegroundRole and move.seq in self._violations:
            return QColor(semantic().error)
        if role == Qt.ItemDataRole.ToolTipRole and column == MoveColumn.HOW:
            if move.action == LedgerAction.PROMOTION_APPLIED:
                return "Set by Gavel when it applied an approved promotion request."
            if move.seq in self._violations:
                return (
                    "A sync saw this change in the registry, and no applied promotion "
                    "request explains it: someone moved the alias directly."
                )
            return (
                "Gavel records a registry's aliases from its first sync on; moves before "
                "that are not known to the ledger."
            )
        return None


class ModelGovernancePanel(QWidget):
    """Request-promotion entry point and alias history for the model on screen."""

    request_promotion = Signal()
    record_review = Signal()

    def __init__(self, audit: AuditService, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("ModelGovernancePanel")
        self._audit = audit
        self._runner = runner
        self.model: ModelDetail | None = None
        self.history: AliasHistory | None = None
        self._violation_seqs: frozenset[int] = frozenset()

        self.request_button = QPushButton(icon("promote"), "Request promotion…")
        self.request_button.clicked.connect(lambda: emit(self.request_promotion))
        self.flag = QLabel()
        self.flag.setObjectName("ViolationFlag")
        self.flag.setWordWrap(True)
        self.flag.hide()
        self.alias = QComboBox()
        self.alias.setMinimumWidth(90)
        self.alias.currentTextChanged.connect(self._alias_changed)
        self.moves_model = AliasMovesModel(self)
        self.moves = row_table(
            self.moves_model,
            "AliasMovesTable",
            widths=((0, 50), (1, 140), (2, 90), (3, 290)),
            row_height=22,
            single_selection=False,
        )
        self.when = QDateTimeEdit(QDateTime.currentDateTimeUtc())
        self.when.setTimeZone(QTimeZone.utc())
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        self.when.setCalendarPopup(True)
        self.when.dateTimeChanged.connect(lambda _=None: self._update_answer())
        self.now_button = QPushButton("Now")
        self.now_button.clicked.connect(
            lambda: self.when.setDateTime(QDateTime.currentDateTimeUtc())
        )
        self.answer = QLabel()
        self.answer.setObjectName("HolderAnswer")
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = muted_label()
        # Periodic review of the version in production (filled by governance/reviews.py).
        self.review_line = QLabel("")
        self.review_line.setObjectName("ReviewLine")
        self.review_line.setWordWrap(True)
        self.review_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.review_button = QPushButton(icon("signature"), "Record review…")
        self.review_button.setEnabled(False)
        self.review_button.clicked.connect(lambda: emit(self.record_review))

        alias_row = QHBoxLayout()
        alias_row.addWidget(QLabel("Alias"))
        alias_row.addWidget(self.alias, 1)
        when_row = QHBoxLayout()
        when_row.addWidget(self.when, 1)
        when_row.addWidget(self.now_button)
        question = QLabel("Which version did the alias point at, at this time (UTC)?")
        question.setWordWrap(True)
        promotion_hint = muted_label(
            "Approvers decide on the request; the alias moves only when the approved "
            "request is applied."
        )

        # Left: act and ask; right: the record it is answered from.
        left = QVBoxLayout()
        left.addWidget(section_title("Promotion"))
        left.addWidget(self.request_button)
        left.addWidget(promotion_hint)
        left.addWidget(self.flag)
        left.addWidget(section_title("Periodic review"))
        left.addWidget(self.review_line)
        left.addWidget(self.review_button)
        left.addWidget(section_title("Alias at a point in time"))
        left.addLayout(alias_row)
        left.addWidget(question)
        left.addLayout(when_row)
        left.addWidget(self.answer)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(section_title("Alias history (audit ledger)"))
        right.addWidget(self.moves, 1)
        right.addWidget(self.status)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 4, 4)
        layout.addLayout(left, 2)
        layout.addLayout(right, 3)
        self.set_request_state("", False, "Select a model and one of its versions.")

    # -- request button ------------------------------------------------------------------

    def set_request_state(self, version_text_: str, enabled: bool, reason: str) -> None:
        label = f"Request promotion of {version_text_}…" if version_text_ else "Request promotion…"
        self.request_button.setToolTip("")
        self.request_button.setText(label)
        self.request_button.setEnabled(enabled)
        self.request_button.setToolTip(
            "Ask approvers to let this version become an alias (e.g. champion)"
            if enabled
            else reason
        )

    def set_review(self, text: str, enabled: bool, why: str) -> None:
        """The production version's review date, and whether "Record review…" is offered."""
        self.review_line.setText(text)
        self.review_button.setEnabled(enabled)
        self.review_button.setToolTip(
            "Attest, signed, that the version in production is still fit for purpose"
            if enabled
            else why
        )

    def set_violations(self, violation_seqs: frozenset[int], count_for_model: int) -> None:
        self._violation_seqs = violation_seqs
        if count_for_model:
            noun = "move" if count_for_model == 1 else "moves"
            self.flag.setText(
                f"⚠ {count_for_model} alias {noun} of this model without an approved request "
                "(see Violations)."
            )
        self.flag.setVisible(bool(count_for_model))
        if self.history is not None:
            self.moves_model.set_moves(self.history.moves, violation_seqs)

    # -- history ---------------------------------------------------------------------

    def show_model(self, model: ModelDetail | None) -> None:
        same = (
            model is not None
            and self.model is not None
            and (model.registry, model.name) == (self.model.registry, self.model.name)
        )
        self.model = model
        if model is None:
            self.history = None
            self.alias.clear()
            self.moves_model.set_moves([], self._violation_seqs)
            self.answer.setText("")
            return
        keep = self.alias.currentText() if same else None
        self.load(keep or ("champion" if "champion" in model.aliases else None))

    def reload(self) -> None:
        if self.model is not None:
            self.load(self.alias.currentText() or None)

    def load(self, alias: str | None) -> None:
        if self.model is None:
            return
        audit, model = self._audit, self.model
        registry, name, current = model.registry, model.name, tuple(model.aliases)

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> AliasHistory:
            return load_alias_history(audit, registry, name, current, alias)

        self.status.setText("Reading the alias history…")
        self._runner.run(
            work,
            key=f"alias-history-{id(self)}",
            label="Reading alias history",
            on_success=self._loaded,
            on_failure=self._failed,
        )

    def _loaded(self, history: AliasHistory) -> None:
        if self.model is None or (history.registry, history.model) != (
            self.model.registry,
            self.model.name,
        ):
            return
        self.history = history
        self.alias.blockSignals(True)
        self.alias.clear()
        self.alias.addItems(list(history.aliases))
        self.alias.setCurrentText(history.alias)
        self.alias.blockSignals(False)
        self.moves_model.set_moves(history.moves, self._violation_seqs)
        n = len(history.moves)
        self.status.setText(
            f"{n} recorded move{'s' if n != 1 else ''} of '{history.alias}'."
            if history.alias
            else "This model has no alias, and the ledger records none."
        )
        self._update_answer()

    def _failed(self, exc: GavelError) -> None:
        self.status.setText(f"The alias history could not be read: {exc.message}")

    def _alias_changed(self, alias: str) -> None:
        if alias and (self.history is None or alias != self.history.alias):
            self.load(alias)

    def when_utc(self) -> datetime:
        return datetime.fromtimestamp(self.when.dateTime().toMSecsSinceEpoch() / 1000, tz=UTC)

    def _update_answer(self) -> None:
        if self.history is None or not self.history.alias:
            self.answer.setText("")
            return
        self.answer.setText(holder_sentence(self.history, self.when_utc()))
