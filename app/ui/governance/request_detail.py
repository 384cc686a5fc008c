"""One promotion request in full: the version it names, what it asks, its evidence,
what its policy still needs, its ledger timeline, and the actions this person may take.

Every action button is disabled with the reason in its tooltip when this person may
not take it; the reasons are the services' own sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain.governance import (
    Identity,
    RequestState,
    SignatureMeaning,
)
from app.domain.ledger import LedgerEvent
from app.presentation.ledger_text import action_label, timestamp_text
from app.services.governance import GovernanceService, RequestView
from app.services.governance_inbox import (
    GovernanceData,
    decision_block_reason,
    problem_text,
    sign_block_reason,
    waiting_for,
)
from app.services.outbox import kept_decision_reason
from app.ui.common.resources import icon
from app.ui.common.row_list_model import RowListModel
from app.ui.common.signals import emit
from app.ui.common.widgets import EmptyState, row_table, section_title
from app.ui.governance.request_text import info_html, status_sentence

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class RequestDetail:
    view: RequestView
    events: tuple[LedgerEvent, ...]
    approve: tuple[bool, str]
    reject: tuple[bool, str]
    me: Identity | None
    manifests: Mapping[SignatureMeaning, Mapping[str, Any]] = field(default_factory=dict)


def load_request_detail(governance: GovernanceService, request_id: str) -> RequestDetail:
    """Blocking: the request, its status, events and what this person may do with it."""
    view = governance.view_of(request_id)
    request = view.request
    events = tuple(governance.events_of(request))
    me = governance.actor.current()
    if request.state is RequestState.PENDING and me is not None:
        approve = governance.can_decide(request, SignatureMeaning.APPROVAL)
        reject = governance.can_decide(request, SignatureMeaning.REJECTION)
    else:
        why = (
            "No identity yet — Identity → Enroll… first."
            if me is None
            else f"This request is {request.state.value}; only pending requests can be decided."
        )
        approve = reject = (False, why)
    manifests = (
        {
            m: governance.signing_manifest(request, m)
            for m in (SignatureMeaning.APPROVAL, SignatureMeaning.REJECTION)
        }
        if me is not None
        else {}
    )
    return RequestDetail(view, events, approve, reject, me, manifests)


def withdraw_block_reason(detail: RequestDetail, data: GovernanceData) -> str:
    """Why Withdraw is not possible now ('' when it is): requester or admin, open request."""
    blocked = sign_block_reason(data)
    if blocked:
        return blocked
    assert data.me is not None
    r = detail.view.request
    if not r.is_open:
        return f"This request is {r.state.value}; only an open request can be withdrawn."
    if r.requester != data.me.user_id and not data.is_admin:
        return f"Only {r.requester}, who made the request, or an admin can withdraw it."
    return ""


def apply_block_reason(detail: RequestDetail, data: GovernanceData) -> str:
    """Why Apply is not possible now ('' when it is)."""
    blocked = sign_block_reason(data)
    if not blocked and data.problems:
        blocked = problem_text(data)
    if blocked:
        return blocked
    r, status = detail.view.request, detail.view.status
    if r.state is RequestState.APPLIED:
        return "This promotion is already applied."
    if r.state is RequestState.PENDING:
        return f"Only approved requests can be applied; this one still needs: {status.describe()}"
    if r.state is not RequestState.APPROVED:
        return f"This request is {r.state.value} ({r.state_reason}); a new request is needed."
    if not status.satisfied:
        return f"It no longer satisfies its policy: {status.describe()}"
    return ""


# ------------------------------------------------------------------------ timeline


class TimelineColumn(IntEnum):
    SEQ = 0
    TIME = 1
    ACTOR = 2
    ACTION = 3
    COMMENT = 4
    SIGNED = 5


_TIMELINE_TITLES = ("Event", "Time (UTC)", "Actor", "Action", "Comment", "Signed by key")


class TimelineModel(RowListModel[LedgerEvent]):
    """A request's ledger events, oldest first (a small in-memory list)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(_TIMELINE_TITLES, parent)

    def set_events(self, events: Sequence[LedgerEvent]) -> None:
        self._reset(events)

    def event_at(self, row: int) -> LedgerEvent | None:
        return self._row(row)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        event = self.event_at(index.row()) if index.isValid() else None
        if event is None:
            return None
        column = TimelineColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            match column:
                case TimelineColumn.SEQ:
                    return str(event.seq)
                case TimelineColumn.TIME:
                    return timestamp_text(event).removesuffix(" UTC")
                case TimelineColumn.ACTOR:
                    return event.actor
                case TimelineColumn.ACTION:
                    return action_label(event.action)
                case TimelineColumn.COMMENT:
                    return " ".join(event.reason.split())
                case TimelineColumn.SIGNED:
                    return event.signer or "—"
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == TimelineColumn.COMMENT and event.reason:
                return event.reason
            if column == TimelineColumn.SIGNED:
                return (
                    f"Signed with key {event.signer}; event hash {event.hash}"
                    if event.signer
                    else "Not signed (only approvals and rejections are signed)."
                )
        if role == Qt.ItemDataRole.TextAlignmentRole and column == TimelineColumn.SEQ:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


# ------------------------------------------------------------------------ the view


class RequestDetailView(QStackedWidget):
    """Shows a RequestDetail; emits what the person asked to do with it."""

    approve_requested = Signal(object)  # RequestDetail
    reject_requested = Signal(object)
    comment_requested = Signal(object)
    # An auditor's finding about the request on screen (the Findings page signs it).
    finding_requested = Signal(object)
    # A request is on screen (its id): other features say what they hold about it.
    shown = Signal(str)
    apply_requested = Signal(object)
    withdraw_requested = Signal(object)
    evidence_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: RequestDetail | None = None
        self.empty = EmptyState()
        self.empty.set_content(
            "No request selected",
            "Select a request to see the version it promotes, its evidence, what its "
            "policy still needs and every decision recorded in the audit ledger.",
        )
        self.addWidget(self.empty)

        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(4, 0, 0, 0)
        self.title = QLabel()
        self.title.setObjectName("DetailTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_line = QLabel()
        self.status_line.setObjectName("StatusLine")
        self.status_line.setWordWrap(True)
        self.status_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        self.approve_button = QPushButton(icon("success"), "Approve…")
        self.reject_button = QPushButton(icon("error"), "Reject…")
        self.comment_button = QPushButton("Comment…")
        self.apply_button = QPushButton(icon("sync"), "Apply to registry")
        self.withdraw_button = QPushButton("Withdraw…")
        self.evidence_button = QPushButton("Evidence pack…")
        self.evidence_button.setToolTip(
            "Save this request's evidence pack (PDF or HTML): the version, its metrics, "
            "the policy, every signature and the ledger events to verify it against"
        )
        self.finding_button = QPushButton("Record finding…")
        self.finding_button.setToolTip(
            "Sign an auditor's finding about this request (kept in your profile until it is "
            "exported and imported into the ledger)"
        )
        for button, signal in (
            (self.withdraw_button, self.withdraw_requested),
            (self.approve_button, self.approve_requested),
            (self.reject_button, self.reject_requested),
            (self.comment_button, self.comment_requested),
            (self.apply_button, self.apply_requested),
        ):
            button.clicked.connect(lambda _=False, s=signal: self._emit(s))
            buttons.addWidget(button)
        buttons.addStretch(1)
        # Anyone may print the record, whatever their role: it changes nothing. On a row
        # of their own: beside the decisions the panel needed 750 px, and at 1024 px the
        # inbox beside it was left a sliver.
        records = QHBoxLayout()
        self.evidence_button.clicked.connect(lambda: self._emit(self.evidence_requested))
        records.addWidget(self.evidence_button)
        self.finding_button.clicked.connect(lambda: self._emit(self.finding_requested))
        records.addWidget(self.finding_button)
        records.addStretch(1)
        self.reasons = QLabel()
        self.reasons.setObjectName("Muted")
        self.reasons.setWordWrap(True)
        # Decisions on this request signed here offline, waiting to be sent.
        self.outbox_line = QLabel()
        self.outbox_line.setObjectName("OutboxLine")
        self.outbox_line.setWordWrap(True)
        self.outbox_line.hide()
        # Open findings about this request, with a link to the Findings page.
        self.findings_line = QLabel()
        self.findings_line.setObjectName("FindingsLine")
        self.findings_line.hide()
        outer.addWidget(self.title)
        outer.addWidget(self.status_line)
        outer.addLayout(buttons)
        outer.addLayout(records)
        outer.addWidget(self.reasons)
        outer.addWidget(self.outbox_line)
        outer.addWidget(self.findings_line)

        # One rich-text document: it wraps, scrolls and copies like a page, which a
        # grid of labels in a scroll area does not do reliably.
        self.info = QTextBrowser()
        self.info.setObjectName("RequestInfo")
        self.info.setOpenLinks(False)
        self.info.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.info.viewport().setAutoFillBackground(False)

        timeline_box = QWidget()
        timeline_layout = QVBoxLayout(timeline_box)
        timeline_layout.setContentsMargins(0, 0, 0, 0)
        self.timeline_title = section_title("Timeline (audit ledger)")
        self.timeline_model = TimelineModel(self)
        self.timeline = row_table(
            self.timeline_model,
            "RequestTimeline",
            widths=((0, 52), (1, 140), (2, 64), (3, 140), (5, 150)),
            row_height=24,
            stretch=TimelineColumn.COMMENT,
            single_selection=False,
        )
        timeline_layout.addWidget(self.timeline_title)
        timeline_layout.addWidget(self.timeline, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.info)
        self.splitter.addWidget(timeline_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        outer.addWidget(self.splitter, 1)
        self.page = page
        self.addWidget(page)
        self.setCurrentWidget(self.empty)

    @property
    def request_id(self) -> str | None:
        return self.detail.view.request.request_id if self.detail else None

    def clear(self) -> None:
        self.detail = None
        self.timeline_model.set_events([])
        self.setCurrentWidget(self.empty)

    def show_detail(self, detail: RequestDetail, data: GovernanceData) -> None:
        self.detail = detail
        view = detail.view
        r = view.request
        self.title.setText(r.target_text)
        kind, sentence = status_sentence(view)
        self.status_line.setText(sentence)
        self.status_line.setProperty("kind", kind)
        self.status_line.style().unpolish(self.status_line)
        self.status_line.style().polish(self.status_line)
        self.info.setHtml(info_html(view, data.as_of))
        self.timeline_model.set_events(detail.events)
        n = len(detail.events)
        self.timeline_title.setText(f"Timeline (audit ledger, {n} event{'s' if n != 1 else ''})")
        self._update_buttons(data)
        self._show_outbox(data)
        self.setCurrentWidget(self.page)
        self.shown.emit(r.request_id)

    def update_permissions(self, data: GovernanceData) -> None:
        if self.detail is not None:
            self._update_buttons(data)
            self._show_outbox(data)

    def _show_outbox(self, data: GovernanceData) -> None:
        assert self.detail is not None
        waiting = waiting_for(data, self.detail.view.request.request_id)
        lines = [
            f"Waiting to be sent: your {e.noun}, signed {e.made_at[:16].replace('T', ' ')} "
            f"UTC on this computer while the team ledger was out of reach. It counts once "
            "it reaches the ledger, if the request is still as you saw it."
            for e in waiting
        ]
        self.outbox_line.setText("\n".join(lines))
        self.outbox_line.setVisible(bool(lines))

    def _update_buttons(self, data: GovernanceData) -> None:
        assert self.detail is not None
        detail = self.detail
        # With the team ledger out of reach, decisions are signed into the outbox.
        sign_blocked = decision_block_reason(data)
        # This person's decision on it already waits in the outbox: one is enough.
        kept = kept_decision_reason(data.outbox, detail.view.request.request_id)
        approve_ok, approve_why = detail.approve
        reject_ok, reject_why = detail.reject
        pending = detail.view.request.state is RequestState.PENDING
        # A read-only ledger (an audit session) is the reason that holds whoever looks.
        read_only = "" if data.collecting else data.read_only
        later = " (kept in the outbox until the team ledger answers)" if data.collecting else ""
        states = (
            (self.approve_button, approve_ok and not sign_blocked and not kept,
             read_only or kept or approve_why or sign_blocked,
             f"Sign your approval of this promotion{later}"),
            (self.reject_button, reject_ok and not sign_blocked and not kept,
             read_only or kept or reject_why or sign_blocked,
             f"Sign your rejection of this promotion{later}"),
            (self.comment_button, not sign_blocked, sign_blocked,
             f"Add a signed comment to the request's record (it decides nothing){later}"),
            (self.withdraw_button, not withdraw_block_reason(detail, data),
             withdraw_block_reason(detail, data),
             "Take the request back with a signed reason; nobody can approve it then"),
            (self.apply_button, not apply_block_reason(detail, data),
             apply_block_reason(detail, data),
             "Set the alias in the registry, after re-checking the version and evidence"),
        )  # fmt: skip
        reasons = []
        decide = (self.approve_button, self.reject_button)
        for button, enabled, why, tip in states:
            button.setEnabled(enabled)
            button.setToolTip(tip if enabled else why)
            if not enabled and why and pending and button in decide:
                reasons.append(why)
        # Shown once under the buttons too: a disabled button's tooltip is easy to miss.
        unique = list(dict.fromkeys(reasons))
        self.reasons.setText("\n".join(unique[:2]))
        self.reasons.setVisible(bool(unique))

    def _emit(self, signal: Any) -> None:
        if self.detail is not None:
            emit(signal, self.detail)
