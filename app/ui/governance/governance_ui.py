"""Governance in the console: the Approvals and Violations pages, the Identity menu,
the request-promotion action (toolbar, versions list, the model's Governance tab),
the violation marker in the portfolio and "Signed in as …" in the status bar.

`GovernanceUi` registers all of it through the shell's host and the portfolio's
model focus; it never sees the main window. "Show in audit trail" is a signal
(`event_requested`) the console wires to the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QLabel, QWidget

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.governance import PromotionRequest, RequestState
from app.domain.ledger import LedgerEvent
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.progress import ProgressCallback
from app.services.governance_inbox import (
    GovernanceData,
    admin_block_reason,
    enroll_block_reason,
    identity_line,
    problem_text,
    request_block_reason,
)
from app.services.outbox import FlushResult
from app.ui.common.context import ConsoleContext
from app.ui.common.host import Host, ModelFocus
from app.ui.common.signals import emit
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.common.widgets import Banner, make_action
from app.ui.governance.alias_history import ModelGovernancePanel
from app.ui.governance.approvals_page import ApprovalsPage
from app.ui.governance.evidence_export import EvidenceExporter
from app.ui.governance.governance_controller import GovernanceController
from app.ui.governance.identity_dialogs import EnrollDialog, RolesDialog
from app.ui.governance.inbox_model import InboxFilter
from app.ui.governance.keys_dialog import PendingKeysDialog
from app.ui.governance.request_dialog import RequestPromotionDialog
from app.ui.governance.reviews import ReviewLink
from app.ui.governance.sign_dialog import ReasonField, SignDialog
from app.ui.governance.violations_page import ViolationsPage

log = logging.getLogger("gavel.ui.governance")

APPROVALS_PAGE = "approvals"
VIOLATIONS_PAGE = "violations"
GOVERNANCE_TAB = "governance"
IDENTITY_MENU = "&Identity"
OUTBOX_TASK = "governance-outbox"
RECONNECT_TASK = "governance-reconnect"
# How often a console whose team ledger stopped answering tries it again.
RETRY_LEDGER_MS = 30_000


class GovernanceTab:
    """The model's Governance tab: request a promotion, and the alias history."""

    def __init__(self, panel: ModelGovernancePanel) -> None:
        self.panel = panel

    @property
    def widget(self) -> QWidget:
        return self.panel

    def show_version(self, model: ModelDetail | None, _version: VersionRow | None) -> None:
        shown = self.panel.model
        same_model = (
            model is not None
            and shown is not None
            and (model.registry, model.name) == (shown.registry, shown.name)
        )
        if same_model:
            self.panel.model = model  # a new version of the same model: keep the history
        else:
            self.panel.show_model(model)


class GovernanceUi(QObject):
    # "Show in audit trail": the sequence number of a ledger event.
    event_requested = Signal(int)

    def __init__(
        self, host: Host, focus: ModelFocus, ctx: ConsoleContext, runner: TaskRunner
    ) -> None:
        super().__init__()
        self.host = host
        self.focus = focus
        self.ctx = ctx
        self.runner = runner
        self.controller = GovernanceController(ctx, runner, self)
        self.approvals = ApprovalsPage(ctx, runner, self.controller)
        self.violations = ViolationsPage(self.controller)
        self.setParent(self.approvals)
        host.add_page(
            APPROVALS_PAGE,
            "Approvals",
            self.approvals,
            badge=self.approvals.badge,
            tooltip="Promotion requests: those waiting for your decision, yours, and all",
        )
        host.add_page(
            VIOLATIONS_PAGE,
            "Violations",
            self.violations,
            badge=self.violations.badge,
            tooltip="Alias changes made in a registry without an approved request",
        )
        self.dialog: QDialog | None = None
        # Requests an overview figure asked to show, until the inbox has them.
        self._to_select: tuple[str, ...] = ()

        # -- the ledger's state, on every page: refused events, keys waiting, replica age
        self.problem_banner = Banner("error", "error")
        self.problem_banner.setObjectName("Banner")
        self.show_problem_button = self.problem_banner.add_button(
            "Show in audit trail", self._show_problem
        )
        self.acknowledge_button = self.problem_banner.add_button(
            "Acknowledge…", self.acknowledge_problem
        )
        host.add_banner(self.problem_banner)
        self.keys_banner = Banner("offline", "signature")
        self.keys_banner.add_button("Review keys…", lambda: self.open_pending_keys())
        host.add_banner(self.keys_banner)
        self.replica_banner = Banner("offline", "offline")
        # A team ledger lost while the console runs is tried again, every
        # RETRY_LEDGER_MS and on demand; what waited in the outbox is sent once it answers.
        self.retry_button = self.replica_banner.add_button("Try again", self.try_ledger_again)
        self.retry_button.setToolTip("Try to reach the team ledger now")
        self.retry_button.hide()
        self._retry = QTimer(self)
        self._retry.setInterval(RETRY_LEDGER_MS)
        self._retry.timeout.connect(self.try_ledger_again)
        self._was_collecting = False
        host.add_banner(self.replica_banner)

        # -- menu and actions
        self.enroll_action = make_action(self, "Enroll…", "signature")
        self.enroll_action.setStatusTip("Create your identity and signing key on this computer")
        self.roles_action = make_action(self, "Roles…")
        self.keys_action = make_action(self, "Pending keys…")
        self.keys_action.setStatusTip("Keys waiting for an admin's approval")
        self.request_action = make_action(self, "Request promotion…", "promote", "Ctrl+Shift+P")
        host.add_action(IDENTITY_MENU, self.enroll_action)
        host.add_action(IDENTITY_MENU, self.roles_action)
        host.add_action(IDENTITY_MENU, self.keys_action)
        # Decisions signed while the team ledger was out of reach: sent automatically
        # once it answers, and from here on demand.
        self.outbox_action = make_action(self, "Send decisions made offline")
        self.outbox_action.setStatusTip(
            "Send the approvals, rejections and comments kept in this computer's outbox"
        )
        self.outbox_action.setEnabled(False)
        self.outbox_action.triggered.connect(self.send_outbox)
        host.add_action(IDENTITY_MENU, self.outbox_action, section="outbox")
        self._outbox_tried = False
        host.add_toolbar_action(self.request_action)
        focus.add_version_action(self.request_action)
        # Evidence packs: from the request view, and for the version selected.
        self.evidence = EvidenceExporter(host, ctx, runner, self.approvals)
        self.evidence_action = make_action(self, "Evidence pack…")
        self.evidence_action.setStatusTip(
            "Save the selected version's evidence pack (PDF or HTML) for an audit"
        )
        focus.add_version_action(self.evidence_action)
        self.evidence_action.triggered.connect(self.export_version_evidence)
        self.enroll_action.triggered.connect(self.enroll)
        self.roles_action.triggered.connect(self.open_roles)
        self.keys_action.triggered.connect(self.open_pending_keys)
        self.request_action.triggered.connect(self.request_promotion)

        # -- the model's Governance tab
        self.panel = ModelGovernancePanel(ctx.audit, runner)
        self.tab = GovernanceTab(self.panel)
        focus.add_detail_tab(
            GOVERNANCE_TAB,
            "Governance",
            lambda: self.tab,
            tooltip="Request a promotion; which version each alias held, and when it moved",
            # Built now: the request button follows identity and selection while hidden.
            lazy=False,
        )
        self._checked_unrecorded = False
        self.last_flush: FlushResult | None = None
        self.panel.request_promotion.connect(self.request_promotion)
        self.reviews = ReviewLink(
            ctx, runner, self.panel, lambda: self.data, self.controller.wrote, self.approvals
        )

        # -- status bar
        self.identity_label = QLabel()
        self.identity_label.setObjectName("IdentityStatus")
        host.add_status_widget(self.identity_label)
        # Solo or team ledger, and how fresh this desktop's replica is.
        self.ledger_label = QLabel()
        self.ledger_label.setObjectName("LedgerStatus")
        host.add_status_widget(self.ledger_label)

        # -- wiring
        self.controller.changed.connect(self._data_changed)
        self.controller.failed.connect(host.show_notice)
        self.approvals.message.connect(host.show_status)
        self.approvals.enroll_requested.connect(self.enroll)
        self.approvals.applied.connect(self._applied)
        self.approvals.evidence_requested.connect(self.evidence.export_request)
        self.violations.show_event_requested.connect(lambda seq: emit(self.event_requested, seq))
        self.violations.show_model_requested.connect(self.show_model)
        focus.on_synced(self._after_sync)
        focus.on_focus_changed(self._detail_changed)
        host.on_page_shown(self._page_changed)
        host.on_shutdown(self.controller.stop)
        self._data_changed(self.controller.data)
        host.after_first_paint(self.controller.refresh)

    def show_requests(self, request_ids: tuple[str, ...]) -> None:
        """The Approvals page listing every request, the first of these selected (once
        the inbox has read it, if it has not yet)."""
        self.host.select_page(APPROVALS_PAGE)
        self.approvals.set_filter(InboxFilter.ALL)
        self._to_select = request_ids
        self._select_pending()

    def _select_pending(self) -> None:
        for rid in self._to_select:
            if self.approvals.select_request(rid):
                self._to_select = ()
                return

    def show_violations(self) -> None:
        self.host.select_page(VIOLATIONS_PAGE)

    def show_panel(self) -> None:
        """Bring the model's Governance tab (alias history) into view."""
        self.focus.show_detail_tab(GOVERNANCE_TAB)

    # -- state -----------------------------------------------------------------------

    @property
    def data(self) -> GovernanceData:
        return self.controller.data

    def _data_changed(self, data: GovernanceData) -> None:
        self.identity_label.setText(identity_line(data) if data.loaded else "")
        self.identity_label.setToolTip(
            "Enroll once per person and computer: Identity → Enroll…" if data.me is None else ""
        )
        enroll_why = enroll_block_reason(data) if data.loaded else "Reading the ledger…"
        self.enroll_action.setEnabled(not enroll_why)
        self.enroll_action.setToolTip(enroll_why or "Create your identity and signing key")
        roles_why = admin_block_reason(data) if data.loaded else "Reading the ledger…"
        self.roles_action.setToolTip(roles_why or "Grant or revoke roles")
        self.roles_action.setEnabled(not roles_why)
        n_keys = len(data.pending_keys)
        self.keys_action.setText(f"Pending keys ({n_keys})…" if n_keys else "Pending keys…")
        self.keys_action.setEnabled(data.loaded)
        self._show_ledger_state(data)
        self.focus.mark_violations(data.flagged_models)
        self.host.refresh_badges()
        self._detail_changed()
        self._select_pending()
        self._check_unrecorded_once(data)
        self._show_outbox(data)

    # -- the outbox: decisions made while the team ledger was out of reach -------------

    def _show_outbox(self, data: GovernanceData) -> None:
        if not data.loaded:
            return
        n = len(data.outbox)
        self.outbox_action.setText(
            f"Send decisions made offline ({n})…" if n else "Send decisions made offline"
        )
        if data.collecting:
            why = "The team ledger cannot be reached; they are sent when it answers."
        else:
            why = "" if n else "Nothing waits in the outbox."
        self.outbox_action.setEnabled(not why and not self.runner.is_running(OUTBOX_TASK))
        self.outbox_action.setToolTip(why or "Send them to the team ledger now")
        back = self._was_collecting and not data.collecting
        self._was_collecting = data.collecting
        if n and not data.collecting and (back or not self._outbox_tried):
            # In reach at this start, or back in reach: send what waited, once; the
            # menu retries.
            self._outbox_tried = True
            self.send_outbox()
        self.retry_button.setVisible(data.reconnectable)
        if data.reconnectable and not self._retry.isActive():
            self._retry.start()
        elif not data.reconnectable:
            self._retry.stop()

    def try_ledger_again(self) -> None:
        """Reach for a team ledger that stopped answering (on a worker: it may wait
        for a connection's timeout); a refresh follows if it answers."""
        if self.runner.is_running(RECONNECT_TASK):
            return
        outbox = self.ctx.outbox
        self.retry_button.setEnabled(False)

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> bool:
            return outbox.reconnect()

        def done(back: object) -> None:
            self.retry_button.setEnabled(True)
            if back:
                self.host.show_status("The team ledger answers again.")
                self.controller.wrote()

        def failed(exc: GavelError) -> None:
            self.retry_button.setEnabled(True)
            log.info("team ledger not reached: %s", exc.message)

        self.runner.run(
            work,
            key=RECONNECT_TASK,
            label="Reaching the team ledger",
            on_success=done,
            on_failure=failed,
        )

    def send_outbox(self) -> None:
        if self.runner.is_running(OUTBOX_TASK):
            return
        outbox = self.ctx.outbox

        def work(cancel: CancelToken, progress: ProgressCallback) -> FlushResult:
            return outbox.flush(progress, cancel)

        self.outbox_action.setEnabled(False)
        handle = self.runner.run(
            work,
            key=OUTBOX_TASK,
            lane=Lane.LEDGER,
            label="Sending decisions made offline",
            on_success=self._outbox_sent,
            on_failure=self._outbox_failed,
        )
        self.host.track_task(handle)

    def _outbox_sent(self, result: FlushResult) -> None:
        self.last_flush = result
        superseded = result.superseded
        if superseded:
            # Their author must read this: a decision they believe made did not count.
            self.host.show_notice(
                result.summary() + " " + " ".join(e.sentence() for e in superseded)
            )
        else:
            self.host.show_status(result.summary())
        self.controller.wrote()

    def _outbox_failed(self, exc: GavelError) -> None:
        if not isinstance(exc, Cancelled):
            self.host.show_notice(
                f"The decisions made offline were not sent: {exc.message} They stay in the "
                "outbox (Identity → Send decisions made offline)."
            )
        self.controller.wrote()

    def _show_ledger_state(self, data: GovernanceData) -> None:
        if not data.loaded:
            return
        team = data.team
        self.ledger_label.setText(
            ("Team ledger" if team.online and not team.problem else f"Team ledger, {team.as_of()}")
            if team.team
            else "Solo ledger"
        )
        self.ledger_label.setToolTip(
            team.describe() + (f"\n{team.problem}" if team.problem else "")
        )
        if self.ctx.session is not None:
            self.ledger_label.setText("Bundle's ledger")
            self.ledger_label.setToolTip(
                "The audit ledger copied in the bundle, verified when it was opened: "
                "read-only, nothing can be decided in it."
            )
        problem = problem_text(data)
        self.problem_banner.setVisible(bool(problem))
        if problem:
            self.problem_banner.show_text(problem)
            why = admin_block_reason(data)
            self.acknowledge_button.setEnabled(not why)
            self.acknowledge_button.setToolTip(
                why.replace("grant or revoke roles", "acknowledge a ledger problem")
                or "Record, signed, that you investigated this event (it still never counts)"
            )
        keys = data.pending_keys if data.is_admin else ()
        self.keys_banner.setVisible(bool(keys))
        if keys:
            who = ", ".join(k.user_id for k in keys[:3]) + (" …" if len(keys) > 3 else "")
            self.keys_banner.show_text(
                f"{len(keys)} signing key{'s wait' if len(keys) > 1 else ' waits'} for your "
                f"approval ({who}): nothing they sign counts until an admin approves."
            )
        self.replica_banner.setVisible(bool(data.as_of))
        if data.as_of:
            unreachable = (
                team.problem.strip() or f"The team ledger at {team.where} cannot be reached."
            )
            if data.collecting:
                n = len(data.outbox)
                waiting = f" {n} {'is' if n == 1 else 'are'} waiting now." if n else ""
                retry = (
                    f" Gavel tries it again every {RETRY_LEDGER_MS // 1000} seconds."
                    if data.reconnectable
                    else ""
                )
                self.replica_banner.show_text(
                    f"{unreachable} Requests, roles and approvals are shown {data.as_of}. "
                    "Approvals, rejections and comments you sign are kept in this computer's "
                    f"outbox and sent when it answers.{waiting}{retry}"
                )
            else:
                self.replica_banner.show_text(
                    f"{unreachable} Requests, roles and approvals are shown {data.as_of}; "
                    "nothing can be signed until it answers."
                )

    def _check_unrecorded_once(self, data: GovernanceData) -> None:
        """At start-up only: find approved promotions the registry shows applied (our tag)
        while the ledger does not, an apply interrupted between the two, and say so.

        Recording one is a signed act, so it is left to a person: Apply again records it
        without writing to the registry twice.
        """
        if self._checked_unrecorded or not data.loaded:
            return
        self._checked_unrecorded = True
        if not any(i.request.state is RequestState.APPROVED for i in data.items):
            return
        promotions = self.ctx.promotions

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> list[PromotionRequest]:
            return promotions.written_not_recorded()

        self.runner.run(
            work,
            key="governance-unrecorded",
            lane=Lane.LEDGER,
            label="Checking approved promotions against the registry",
            on_success=self._unrecorded_found,
            on_failure=lambda exc: log.info("unrecorded check skipped: %s", exc.message),
        )

    def _unrecorded_found(self, requests: list[PromotionRequest]) -> None:
        if requests:
            names = ", ".join(f"{r.request_id} ({r.target_text})" for r in requests)
            self.host.show_notice(
                f"{len(requests)} approved promotion(s) already show in the registry but not in "
                f"the audit ledger, an apply was interrupted: {names}. Open each under "
                "Approvals and choose Apply: it records the promotion without writing twice."
            )

    def _detail_changed(self) -> None:
        model = self.focus.model
        data = self.data
        self.reviews.show_model(model)
        if model is not None:
            seqs = frozenset(v.seq for v in data.violations)
            key = (model.registry, model.name)
            mine = sum(1 for v in data.violations if (v.registry, v.model) == key)
            self.panel.set_violations(seqs, mine)
        version = self.focus.version
        why = self._request_block(version)
        label = f"v{version.version}" if model and version else ""
        self.panel.set_request_state(label, not why, why)
        self.request_action.setEnabled(not why)
        self.request_action.setToolTip(why or "Ask approvers to promote the selected version")

    def export_version_evidence(self) -> None:
        model, version = self.focus.model, self.focus.version
        if model is None or version is None:
            self.host.show_status("Select a version first: its evidence pack is saved.")
            return
        self.evidence.export_version(model.registry, model.name, version.version)

    def _request_block(self, version: VersionRow | None) -> str:
        if not self.data.loaded:
            return "Reading identity and roles from the ledger…"
        if self.focus.model is None or version is None:
            return "Select a model and one of its versions first."
        return request_block_reason(self.data)

    def _after_sync(self) -> None:
        self.controller.refresh()
        self.panel.reload()

    def _page_changed(self, key: str) -> None:
        if key in (APPROVALS_PAGE, VIOLATIONS_PAGE) and not self.controller.refreshing:
            self.controller.refresh()

    # -- actions -----------------------------------------------------------------------

    def request_promotion(self) -> None:
        model, version = self.focus.model, self.focus.version
        why = self._request_block(version)
        if why or model is None or version is None or self.dialog is not None:
            if why:
                self.host.show_status(why)
            return
        me = self.data.me
        assert me is not None  # _request_block refuses without an identity
        dialog = RequestPromotionDialog(
            self.ctx.governance,
            self.runner,
            model,
            version,
            self.data.policies,
            me.user_id,
            self.approvals,
        )
        self._open(dialog, self._request_finished)

    def _request_finished(self) -> None:
        dialog = self.dialog
        self.dialog = None
        if isinstance(dialog, RequestPromotionDialog) and dialog.result_request is not None:
            r = dialog.result_request
            self.host.show_status(
                f"Request {r.request_id} recorded: {r.target_text}. It waits for approvers "
                "(Approvals → Requested by me)."
            )
            self.controller.wrote()

    def enroll(self) -> None:
        if self.dialog is not None:
            return
        me = self.data.me
        dialog = EnrollDialog(
            self.ctx.membership,
            self.runner,
            self.ctx.identity.vault.persistent,
            self.approvals,
            user_id=me.user_id if me else "",
            display_name=me.display_name if me else "",
        )
        self._open(dialog, self._enroll_finished)

    def _enroll_finished(self) -> None:
        dialog = self.dialog
        self.dialog = None
        if isinstance(dialog, EnrollDialog) and dialog.enrolment is not None:
            e = dialog.enrolment
            waits = (
                ""
                if e.active
                else " It waits for an admin's approval: nothing you sign counts until then."
            )
            self.host.show_status(
                f"Enrolled. Your signing key is {e.key_id}; its public half is in the audit "
                f"ledger so anyone can check your signatures.{waits}",
                20_000,
            )
            self.controller.wrote()

    def open_roles(self) -> None:
        if self.dialog is not None:
            return
        dialog = RolesDialog(self.ctx.membership, self.runner, self.controller, self.approvals)
        self._open(dialog, self._closed)

    def open_pending_keys(self) -> None:
        if self.dialog is not None:
            return
        dialog = PendingKeysDialog(
            self.ctx.membership, self.runner, self.controller, self.approvals
        )
        self._open(dialog, self._closed)

    def _show_problem(self) -> None:
        problems = self.data.problems
        if problems:
            emit(self.event_requested, problems[0].seq)

    def acknowledge_problem(self) -> None:
        problems, me = self.data.problems, self.data.me
        if not problems or me is None or self.dialog is not None:
            return
        problem, membership = problems[0], self.ctx.membership
        dialog = SignDialog(
            self.runner,
            f"Acknowledge event {problem.seq}?",
            f"{problem.describe()}<br><br>Acknowledging records, signed, what you found. "
            "The event still never counts; the warning stops once it is acknowledged.",
            me.user_id,
            "Sign acknowledgement",
            lambda reason, passphrase: membership.acknowledge(problem.seq, reason, passphrase),
            ReasonField("What you found", "e.g. Forged row inserted by a test account.", True),
            self.approvals,
        )
        self._open(dialog, lambda: self._acknowledged(dialog))

    def _acknowledged(self, dialog: SignDialog) -> None:
        self.dialog = None
        if isinstance(dialog.result, LedgerEvent):
            self.host.show_status(f"Acknowledged as event {dialog.result.seq}.")
            self.controller.wrote()

    def _closed(self) -> None:
        self.dialog = None

    def _applied(self, registry: str, model: str) -> None:
        """After an apply the registry changed: the portfolio shows it at once."""
        self.focus.refresh_model(registry, model)
        self.panel.reload()

    def _open(self, dialog: QDialog, done: Callable[[], None]) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: done())
        self.dialog = dialog
        dialog.open()

    # -- navigation --------------------------------------------------------------------

    def show_model(self, registry: str, model: str) -> None:
        """A violation's model: the portfolio page, its Governance tab."""
        if self.focus.show_model(registry, model):
            self.show_panel()
