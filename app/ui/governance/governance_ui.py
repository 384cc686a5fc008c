"""Governance in the main window: the Approvals, Audit trail and Violations pages, the
Identity menu, the request-promotion entry points in the model detail, the violation
marker in the portfolio and "Signed in as …" in the status bar.

`install_governance(window)` wires it all through the window's public pieces (its
runner, sync controller, portfolio model, detail view and `add_page`), so the main
window itself only makes one call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QTabWidget, QToolBar

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.governance import RequestState
from app.domain.portfolio import VersionRow
from app.domain.progress import ProgressCallback
from app.services.promotion_apply import ApplyOutcome
from app.ui.audit.audit_page import AuditTrailPage
from app.ui.common.resources import icon
from app.ui.governance.alias_history import ModelGovernancePanel
from app.ui.governance.approvals_page import ApprovalsPage
from app.ui.governance.governance_controller import GovernanceController
from app.ui.governance.governance_data import (
    GovernanceData,
    admin_block_reason,
    enroll_block_reason,
    identity_line,
    request_block_reason,
    write_block_reason,
)
from app.ui.governance.identity_dialogs import EnrollDialog, RolesDialog
from app.ui.governance.request_dialog import RequestPromotionDialog
from app.ui.governance.violations_page import ViolationsPage

if TYPE_CHECKING:
    from app.ui.shell.main_window import MainWindow

log = logging.getLogger("gavel.ui.governance")

APPROVALS_PAGE = "approvals"
AUDIT_PAGE = "audit"
VIOLATIONS_PAGE = "violations"


class GovernanceUi(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        ctx = window.ctx
        self.controller = GovernanceController(ctx, window.runner, self)
        self.approvals = ApprovalsPage(ctx, window.runner, self.controller)
        self.audit = AuditTrailPage(ctx, window.runner, self.controller)
        self.violations = ViolationsPage(self.controller)
        window.add_page(
            APPROVALS_PAGE,
            "Approvals",
            self.approvals,
            badge=self.approvals.badge,
            tooltip="Promotion requests: those waiting for your decision, yours, and all",
        )
        window.add_page(
            AUDIT_PAGE,
            "Audit trail",
            self.audit,
            tooltip="Every recorded decision and observed change; verify and export",
        )
        window.add_page(
            VIOLATIONS_PAGE,
            "Violations",
            self.violations,
            badge=self.violations.badge,
            tooltip="Alias changes made in a registry without an approved request",
        )
        self.dialog: EnrollDialog | RolesDialog | RequestPromotionDialog | None = None

        # -- menu and actions
        self.enroll_action = QAction(icon("signature"), "Enroll…", window)
        self.enroll_action.setStatusTip("Create your identity and signing key on this computer")
        self.roles_action = QAction("Roles…", window)
        self.request_action = QAction(icon("promote"), "Request promotion…", window)
        self.request_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.request_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(self.request_action)
        self.menu = QMenu("&Identity", window)
        self.menu.setToolTipsVisible(True)
        self.menu.addAction(self.enroll_action)
        self.menu.addAction(self.roles_action)
        bar = window.menuBar()
        before = next((a for a in bar.actions() if a.text().replace("&", "") == "Go"), None)
        if before is not None:
            bar.insertMenu(before, self.menu)
        else:
            bar.addMenu(self.menu)
        self.enroll_action.triggered.connect(self.enroll)
        self.roles_action.triggered.connect(self.open_roles)
        self.request_action.triggered.connect(self.request_promotion)

        # -- model detail: the governance panel (a pane of the detail until a tab widget
        # takes it, see attach_model_panel), the versions' context action, the toolbar.
        self.panel = ModelGovernancePanel(ctx.audit, window.runner)
        self._tabs: QTabWidget | None = None
        self._reconciled = False
        window.detail_view.splitter.addWidget(self.panel)
        toolbar = window.findChild(QToolBar, "MainToolbar")
        if toolbar is not None:
            toolbar.addAction(self.request_action)
        versions = window.detail_view.versions
        versions.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        versions.addAction(self.request_action)
        self.panel.request_promotion.connect(self.request_promotion)

        # -- status bar
        self.identity_label = QLabel()
        self.identity_label.setObjectName("IdentityStatus")
        window.statusBar().addPermanentWidget(self.identity_label)

        # -- wiring
        self.controller.changed.connect(self._data_changed)
        self.controller.failed.connect(window.show_notice)
        for page in (self.approvals, self.audit):
            page.message.connect(window.status.message)
        self.approvals.enroll_requested.connect(self.enroll)
        self.violations.show_event_requested.connect(self.show_event)
        self.violations.show_model_requested.connect(self.show_model)
        window.syncer.sync_finished.connect(lambda _outcomes: self._after_sync())
        window.portfolio_view.model_selected.connect(lambda _key: self._detail_changed())
        window.detail_view.version_selected.connect(lambda _v: self._detail_changed())
        window.pages.page_changed.connect(self._page_changed)
        self._data_changed(self.controller.data)
        window.first_paint.after_first_paint(self.controller.refresh)
        window.first_paint.after_first_paint(self.audit.load_subjects)

    def attach_model_panel(self, tabs: QTabWidget) -> None:
        """Show the governance panel as a tab of the model detail's tabs."""
        self._tabs = tabs
        index = tabs.addTab(self.panel, "Governance")
        tabs.setTabToolTip(
            index, "Request a promotion; which version each alias held, and when it moved"
        )

    def show_panel(self) -> None:
        """Bring the model's governance panel (alias history) into view."""
        if self._tabs is not None:
            self._tabs.setCurrentWidget(self.panel)

    # -- state -----------------------------------------------------------------------

    @property
    def data(self) -> GovernanceData:
        return self.controller.data

    def _data_changed(self, data: GovernanceData) -> None:
        window = self.window
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
        window.portfolio_model.set_flagged(data.flagged_models)
        window.pages.refresh_badges()
        self._detail_changed()
        self._reconcile_once(data)

    def _reconcile_once(self, data: GovernanceData) -> None:
        """At start-up only: record approved promotions an interrupted apply left done.

        Only with the first state read: later in the session an apply from this console
        may be half way, and reconciling then would record it twice.
        """
        if self._reconciled or not data.loaded:
            return
        self._reconciled = True
        approved = [i for i in data.items if i.request.state is RequestState.APPROVED]
        if write_block_reason(data) or not approved:
            return
        promotions = self.window.ctx.promotions

        def work(_cancel: CancelToken, _progress: ProgressCallback) -> list[ApplyOutcome]:
            return promotions.reconcile()

        self.window.runner.run(
            work,
            key="governance-reconcile",
            label="Checking approved promotions against the registry",
            on_success=self._reconciled_outcomes,
            on_failure=lambda exc: log.info("reconcile skipped: %s", exc.message),
        )

    def _reconciled_outcomes(self, outcomes: list[ApplyOutcome]) -> None:
        if outcomes:
            names = ", ".join(o.request.target_text for o in outcomes)
            self.window.status.message(
                f"Recorded {len(outcomes)} promotion(s) the registry already showed applied "
                f"(an earlier apply was interrupted): {names}."
            )
            self.controller.wrote()

    def _detail_changed(self) -> None:
        detail_view = self.window.detail_view
        model = detail_view.detail
        if (
            model is None
            or (self.panel.model is None)
            or ((model.registry, model.name) != (self.panel.model.registry, self.panel.model.name))
        ):
            self.panel.show_model(model)
        else:
            self.panel.model = model
        data = self.data
        if model is not None:
            seqs = frozenset(v.seq for v in data.violations)
            key = (model.registry, model.name)
            mine = sum(1 for v in data.violations if (v.registry, v.model) == key)
            self.panel.set_violations(seqs, mine)
        version = detail_view.selected_version
        why = self._request_block(version)
        label = f"v{version.version}" if model and version else ""
        self.panel.set_request_state(label, not why, why)
        self.request_action.setEnabled(not why)
        self.request_action.setToolTip(why or "Ask approvers to promote the selected version")

    def _request_block(self, version: VersionRow | None) -> str:
        if not self.data.loaded:
            return "Reading identity and roles from the ledger…"
        if self.window.detail_view.detail is None or version is None:
            return "Select a model and one of its versions first."
        return request_block_reason(self.data)

    def _after_sync(self) -> None:
        self.controller.refresh()
        self.panel.reload()
        self.audit.load_subjects()

    def _page_changed(self, key: str) -> None:
        if key in (APPROVALS_PAGE, VIOLATIONS_PAGE) and not self.controller.refreshing:
            self.controller.refresh()

    # -- actions -----------------------------------------------------------------------

    def request_promotion(self) -> None:
        detail_view = self.window.detail_view
        model, version = detail_view.detail, detail_view.selected_version
        why = self._request_block(version)
        if why or model is None or version is None or self.dialog is not None:
            if why:
                self.window.status.message(why)
            return
        dialog = RequestPromotionDialog(
            self.window.ctx.governance,
            self.window.runner,
            model,
            version,
            self.data.policies,
            self.window,
        )
        self._open(dialog, self._request_finished)

    def _request_finished(self) -> None:
        dialog = self.dialog
        self.dialog = None
        if isinstance(dialog, RequestPromotionDialog) and dialog.result_request is not None:
            r = dialog.result_request
            self.window.status.message(
                f"Request {r.request_id} recorded: {r.target_text}. It waits for approvers "
                "(Approvals → Requested by me)."
            )
            self.controller.wrote()

    def enroll(self) -> None:
        if self.dialog is not None:
            return
        me = self.data.me
        dialog = EnrollDialog(
            self.window.ctx.governance,
            self.window.runner,
            self.window.ctx.identity.vault.persistent,
            self.window,
            user_id=me.user_id if me else "",
            display_name=me.display_name if me else "",
        )
        self._open(dialog, self._enroll_finished)

    def _enroll_finished(self) -> None:
        dialog = self.dialog
        self.dialog = None
        if isinstance(dialog, EnrollDialog) and dialog.key_id is not None:
            self.window.status.message(
                f"Enrolled. Your signing key is {dialog.key_id}; its public half is in the "
                "audit ledger so anyone can check your signatures."
            )
            self.controller.wrote()

    def open_roles(self) -> None:
        if self.dialog is not None:
            return
        dialog = RolesDialog(
            self.window.ctx.governance, self.window.runner, self.controller, self.window
        )
        self._open(dialog, self._roles_finished)

    def _roles_finished(self) -> None:
        self.dialog = None

    def _open(
        self,
        dialog: EnrollDialog | RolesDialog | RequestPromotionDialog,
        done: Callable[[], None],
    ) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: done())
        self.dialog = dialog
        dialog.open()

    # -- navigation --------------------------------------------------------------------

    def show_event(self, seq: int) -> None:
        self.window.pages.select(AUDIT_PAGE)
        self.audit.jump_to(seq)

    def show_model(self, registry: str, model: str) -> None:
        window = self.window
        window.pages.select(window.pages.keys()[0])
        window.sidebar.select_registry(registry)
        try:
            key = window.ctx.portfolio.find_model(model, registry).model_key
        except GavelError as exc:
            window.status.message(exc.message)
            return
        if not window.portfolio_view.select_key(key):
            window.status.message(f"{model} is not in the portfolio shown; clear the filter.")
            return
        self.show_panel()

    def stop(self) -> None:
        """At shutdown, before the runner stops: nothing may start a task after it."""
        self.controller.stop()
        self.audit.stop()


def install_governance(window: MainWindow) -> GovernanceUi:
    return GovernanceUi(window)
