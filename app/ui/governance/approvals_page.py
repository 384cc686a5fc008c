"""The Approvals page: the inbox (waiting for me / requested by me / all) beside the
selected request's detail, and the decisions taken from it.

Dialogs open window-modal with `open()`, never `exec()`: the event loop keeps
running (workers report back) and tests drive them like a person would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QSplitter,
    QStackedWidget,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.governance import PromotionRequest, Role, SignatureMeaning
from app.domain.progress import ProgressCallback
from app.presentation.formatting import badge_text
from app.services.governance_inbox import ENROLL_HINT, GovernanceData
from app.services.promotion_apply import ApplyOutcome
from app.ui.common.context import ConsoleContext
from app.ui.common.signals import emit
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.common.widgets import Banner, EmptyState, row_table
from app.ui.governance.comment_dialog import CommentDialog
from app.ui.governance.governance_controller import GovernanceController
from app.ui.governance.inbox_model import (
    FILTER_TITLES,
    InboxColumn,
    InboxFilter,
    InboxModel,
    filter_items,
)
from app.ui.governance.request_detail import RequestDetail, RequestDetailView, load_request_detail
from app.ui.governance.sign_dialog import ReasonField, SignDialog
from app.ui.governance.signing_dialog import SigningDialog

log = logging.getLogger("gavel.ui.approvals")

DETAIL_TASK = "request-detail"


class ApprovalsPage(QWidget):
    enroll_requested = Signal()
    # A sentence for the status bar (what was signed, applied or recorded).
    message = Signal(str)
    # An apply finished: (registry, model) whose views must show the registry now.
    applied = Signal(str, str)
    # Evidence pack…: (request id, what it promotes in words).
    evidence_requested = Signal(str, str)

    def __init__(
        self,
        ctx: ConsoleContext,
        runner: TaskRunner,
        controller: GovernanceController,
        parent: QWidget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.controller = controller
        self.dialog: SigningDialog | SignDialog | None = None
        self.filter = InboxFilter.WAITING

        self.banner = Banner("error", "error")
        self.banner.add_button("Dismiss", self.banner.hide)
        self.filters = QTabBar()
        self.filters.setObjectName("InboxFilters")
        self.filters.setDrawBase(False)
        self.filters.setExpanding(False)
        for which in InboxFilter:
            self.filters.addTab(FILTER_TITLES[which])
        self.model = InboxModel(self, clock=clock)
        self.table = row_table(
            self.model,
            "InboxTable",
            widths=(
                (InboxColumn.REQUEST, 106),
                (InboxColumn.PROMOTION, 176),
                (InboxColumn.RISK_TIER, 78),
                (InboxColumn.REQUESTER, 72),
                (InboxColumn.STATE, 76),
                (InboxColumn.APPROVALS, 70),
            ),
        )
        self.empty = EmptyState()
        self.list_stack = QStackedWidget()
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.empty)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filters)
        left_layout.addWidget(self.list_stack, 1)

        self.detail = RequestDetailView()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("ApprovalsSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        # The inbox's columns fit, the detail gets the rest.
        self.splitter.setSizes([660, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self.filters.currentChanged.connect(self._filter_changed)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.detail.approve_requested.connect(
            lambda d: self.open_signing(d, SignatureMeaning.APPROVAL)
        )
        self.detail.reject_requested.connect(
            lambda d: self.open_signing(d, SignatureMeaning.REJECTION)
        )
        self.detail.comment_requested.connect(self.open_comment)
        self.detail.apply_requested.connect(self.apply)
        self.detail.withdraw_requested.connect(self.open_withdraw)
        self.detail.evidence_requested.connect(
            lambda d: emit(
                self.evidence_requested, d.view.request.request_id, d.view.request.target_text
            )
        )
        controller.changed.connect(self._data_changed)
        controller.failed.connect(self.show_error)
        self._data_changed(controller.data)

    # -- counts --------------------------------------------------------------------

    def badge(self) -> int | None:
        data = self.controller.data
        return len(data.waiting()) if data.loaded else None

    # -- data ----------------------------------------------------------------------

    @property
    def selected_request_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        item = self.model.item_at(rows[0].row()) if rows else None
        return item.request.request_id if item else None

    def set_filter(self, which: InboxFilter) -> None:
        self.filters.setCurrentIndex(list(InboxFilter).index(which))

    def select_request(self, request_id: str) -> bool:
        row = self.model.row_of(request_id)
        if row is None and self.filter is not InboxFilter.ALL:
            self.set_filter(InboxFilter.ALL)
            row = self.model.row_of(request_id)
        if row is None:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        return True

    def _filter_changed(self, index: int) -> None:
        self.filter = list(InboxFilter)[index]
        self._fill(self.controller.data)

    def _data_changed(self, data: GovernanceData) -> None:
        for i, which in enumerate(InboxFilter):
            count = len(filter_items(data, which)) if data.loaded else None
            self.filters.setTabText(i, badge_text(FILTER_TITLES[which], count))
        self._fill(data)
        if self.detail.request_id is not None:
            self.load_detail(self.detail.request_id)

    def _fill(self, data: GovernanceData) -> None:
        keep = self.selected_request_id or self.detail.request_id
        self.model.set_items(filter_items(data, self.filter) if data.loaded else [])
        self._update_empty(data)
        if keep is not None and self.model.row_of(keep) is not None:
            self.select_request(keep)

    def _update_empty(self, data: GovernanceData) -> None:
        if self.model.rowCount() > 0:
            self.list_stack.setCurrentWidget(self.table)
            return
        self.list_stack.setCurrentWidget(self.empty)
        if not data.loaded:
            self.empty.set_content("Reading promotion requests…", "")
        elif data.me is None:
            self.empty.set_content(
                ENROLL_HINT,
                "Requests, approvals and rejections carry your name and are signed with "
                "your own key. Enroll once on this computer to create them.",
                [("Enroll…", lambda: emit(self.enroll_requested))],
            )
        elif self.filter is InboxFilter.WAITING:
            if Role.APPROVER in data.my_roles:
                text = (
                    "Pending requests you may approve or reject appear here. Requests you "
                    "made yourself, or for versions you created, wait for someone else."
                )
            else:
                text = (
                    "You do not have the approver role, so no request waits for your "
                    "decision. An admin can grant it (Identity → Roles…)."
                )
            self.empty.set_content("No requests waiting for you", text)
        elif self.filter is InboxFilter.MINE:
            self.empty.set_content(
                "You have not requested any promotion",
                "Select a model in the Portfolio, pick a version and choose “Request promotion…”.",
            )
        else:
            self.empty.set_content(
                "No promotion requests yet",
                "Requests appear here once someone asks to promote a version to an alias.",
            )

    # -- detail ----------------------------------------------------------------------

    def _selection_changed(self) -> None:
        request_id = self.selected_request_id
        if request_id is None:
            if self.model.rowCount() == 0:
                self.detail.clear()
            return
        if request_id != self.detail.request_id:
            self.load_detail(request_id)

    def load_detail(self, request_id: str) -> None:
        governance = self.ctx.governance

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> RequestDetail:
            return load_request_detail(governance, request_id)

        self.runner.run(
            work,
            key=DETAIL_TASK,
            lane=Lane.LEDGER,
            label="Reading the request",
            on_success=lambda d: self.detail.show_detail(d, self.controller.data),
            on_failure=self.show_error,
        )

    # -- actions -----------------------------------------------------------------------

    def show_error(self, error: GavelError | str) -> None:
        if isinstance(error, Cancelled):
            return
        text = error if isinstance(error, str) else error.message
        self.banner.set_kind("error", "error")
        self.banner.show_text(text)

    def show_success(self, text: str) -> None:
        self.banner.set_kind("success", "success")
        self.banner.show_text(text)
        emit(self.message, text)

    def open_signing(self, detail: RequestDetail, meaning: SignatureMeaning) -> None:
        if self.dialog is not None or detail.me is None:
            return
        dialog = SigningDialog(
            self.ctx.governance, self.runner, detail, meaning, self, outbox=self.ctx.outbox
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r, d=dialog: self._signing_finished(d))
        self.dialog = dialog
        dialog.open()

    def _signing_finished(self, dialog: SigningDialog) -> None:
        self.dialog = None
        noun = "approval" if dialog.meaning is SignatureMeaning.APPROVAL else "rejection"
        if dialog.result_entry is not None:
            self._kept(noun, dialog.detail.view.request.target_text)
            return
        request = dialog.result_request
        if request is None:
            return
        decision = request.decisions[-1] if request.decisions else None
        where = f" as event {decision.seq}, signed with {decision.signer}" if decision else ""
        self.show_success(
            f"Your {noun} of {request.target_text} was recorded{where}. The request is now "
            f"{request.state.value}."
        )
        self.controller.wrote()

    def open_comment(self, detail: RequestDetail) -> None:
        if self.dialog is not None or detail.me is None:
            return
        dialog = CommentDialog(
            self.ctx.governance,
            self.runner,
            detail.view.request,
            detail.me.user_id,
            self,
            outbox=self.ctx.outbox,
        )
        self._open(dialog, self._comment_finished)

    def _kept(self, noun: str, target: str) -> None:
        self.show_success(
            f"Your {noun} of {target} is signed and waiting to be sent: the team ledger "
            "cannot be reached. Gavel sends it when it next reaches the ledger, and tells you "
            "if the request changed meanwhile."
        )
        self.controller.wrote()

    def _comment_finished(self, dialog: SignDialog) -> None:
        if isinstance(dialog, CommentDialog) and dialog.result_entry is not None:
            self._kept("comment", dialog.request.target_text)
            return
        if isinstance(dialog, CommentDialog) and dialog.result_request is not None:
            emit(self.message, f"Comment added to {dialog.result_request.target_text}.")
            self.controller.wrote()

    def open_withdraw(self, detail: RequestDetail) -> None:
        if self.dialog is not None or detail.me is None:
            return
        r, governance = detail.view.request, self.ctx.governance
        dialog = SignDialog(
            self.runner,
            f"Withdraw {r.target_text}?",
            f"Withdraw request <b>{r.request_id}</b> ({r.target_text}). Nobody can approve or "
            "apply it afterwards; a new request is needed to try again.",
            detail.me.user_id,
            "Sign withdrawal",
            lambda reason, passphrase: governance.withdraw(r.request_id, reason, passphrase),
            ReasonField("Reason", "e.g. The alias moved outside the workflow.", True),
            self,
        )
        self._open(dialog, lambda d: self._withdrawn(d))

    def _withdrawn(self, dialog: SignDialog) -> None:
        request = dialog.result
        if isinstance(request, PromotionRequest):
            self.show_success(f"Request {request.request_id} ({request.target_text}) withdrawn.")
            self.controller.wrote()

    def apply(self, detail: RequestDetail) -> None:
        """Apply after a signed confirmation: the dialog is the "are you sure?"."""
        r = detail.view.request
        if self.dialog is not None or detail.me is None:
            return
        promotions = self.ctx.promotions
        dialog = SignDialog(
            self.runner,
            f"Apply {r.target_text}?",
            f"Promote <b>{r.identity.model} v{r.identity.version}</b> to "
            f"<b>{r.target_name}</b> in registry {r.identity.registry} now. Gavel first claims "
            "the request and re-checks every approval, the version, its evidence and the "
            "target in the registry: if anything changed since the request, nothing is "
            "written.",
            detail.me.user_id,
            "Sign and apply",
            lambda _reason, passphrase: promotions.apply(r.request_id, passphrase),
            None,
            self,
        )
        self._open(dialog, lambda d: self._apply_finished(d))

    def _apply_finished(self, dialog: SignDialog) -> None:
        outcome = dialog.result
        if not isinstance(outcome, ApplyOutcome):
            return
        if outcome.applied:
            self.show_success(f"{outcome.request.target_text}: {outcome.message}")
        else:
            self.show_error(outcome.message)
        self.controller.wrote()
        emit(self.applied, outcome.request.identity.registry, outcome.request.identity.model)

    def _open(self, dialog: SignDialog, done: Callable[[SignDialog], None]) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(_result: int) -> None:
            self.dialog = None
            done(dialog)

        dialog.finished.connect(finished)
        self.dialog = dialog
        dialog.open()
