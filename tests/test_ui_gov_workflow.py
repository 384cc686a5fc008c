"""The promotion workflow through the console, end to end: two people, two profiles,
one team ledger on the real PostgreSQL, a real seeded MLflow registry.

Ada (admin, requester, approver) requests from the model detail; Ann (approver) finds
it under "Waiting for me", signs with a wrong passphrase (nothing recorded), then
with hers (a signed approval), and applies it: the alias moves in MLflow. Ada's own
Approve button stays disabled with the separation-of-duties sentence.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext, build_context
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import MetricPoint
from app.domain.governance import RequestState, Role
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import LedgerQuery
from app.domain.tags import TAG_REQUEST
from app.stores.paths import resolve_paths
from app.stores.profile_file import Profile, ProfileFile
from app.ui.audit.audit_model import AuditColumn
from app.ui.console import Console, build_console
from app.ui.governance.approvals_page import ApprovalsPage
from app.ui.governance.comment_dialog import CommentDialog
from app.ui.governance.identity_dialogs import RolesDialog
from app.ui.governance.inbox_model import InboxColumn, InboxFilter
from app.ui.governance.request_dialog import RequestPromotionDialog
from app.ui.governance.sign_dialog import SignDialog
from app.ui.governance.signing_dialog import PART11_STATEMENT, SigningDialog, canonical_manifest
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

PASS = {"ada": "ada-passphrase", "ann": "ann-passphrase"}
NAMES = {"ada": "Ada Lovelace", "ann": "Ann Approver"}
TIMEOUT = 30_000


@dataclass
class Desk:
    """One person's console: their profile's context and main window."""

    ctx: AppContext
    console: Console

    @property
    def approvals(self) -> ApprovalsPage:
        return self.console.governance.approvals


@dataclass
class Team:
    ada: Desk
    ann: Desk
    model: str
    registry: MlflowRegistry

    def client(self) -> MlflowRegistryClient:
        return MlflowRegistryClient(self.registry.config(), None)


def _seed_model(registry: MlflowRegistry, name: str) -> None:
    with MlflowRegistryClient(registry.config(), None) as c:
        exp = c.create_experiment(f"{name}-exp")
        c.create_registered_model(
            name,
            description="Scores card transactions for fraud.",
            tags={"risk_tier": "medium", "owner": "carl@example.com"},
        )
        for v in (1, 2, 3):
            run = c.create_run(exp, f"{name}-{v}", user_id="carl.ml", start_time=1, tags={})
            c.log_batch(run, {"depth": str(v)}, [MetricPoint("auc", 0.8 + v / 100, 0, 1)], {})
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(name, "production", 1)


def _profile(home: Path, user: str, ledger_url: str, registry: MlflowRegistry) -> AppContext:
    paths = resolve_paths({"GAVEL_HOME": str(home)})
    paths.ensure()
    ProfileFile(paths.profile_file).save(Profile(team_ledger_url=ledger_url))
    ctx = build_context(paths)
    ctx.registries.add(registry.config("reg"))
    ctx.membership.init_identity(user, NAMES[user], (f"{user}.ml",), PASS[user])
    return ctx


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    qtbot.waitUntil(lambda: console.governance.data.loaded, timeout=TIMEOUT)
    return console


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def team(
    tmp_path: Path, seeded_registry: MlflowRegistry, pg_database_url: str, qtbot: QtBot
) -> Iterator[Team]:
    model = f"fraud-scorer-{uuid.uuid4().hex[:6]}"
    _seed_model(seeded_registry, model)
    ada = _profile(tmp_path / "ada", "ada", pg_database_url, seeded_registry)
    ann = _profile(tmp_path / "ann", "ann", pg_database_url, seeded_registry)
    contexts = [ada, ann]
    windows: list[Console] = []
    try:
        # Ann's key counts once Ada, the ledger's first member and so its admin, approves it.
        ada.membership.approve_key("ann", PASS["ada"])
        ada.membership.grant("ada", Role.REQUESTER, PASS["ada"])
        ada.membership.grant("ada", Role.APPROVER, PASS["ada"])
        ada.membership.grant("ann", Role.APPROVER, PASS["ada"])
        for ctx in contexts:
            ctx.sync.sync("reg")
        windows = [_open(ada, qtbot), _open(ann, qtbot)]
        yield Team(Desk(ada, windows[0]), Desk(ann, windows[1]), model, seeded_registry)
    finally:
        for console in windows:
            _close(console)
        for ctx in contexts:
            ctx.close()


def _show_version(desk: Desk, qtbot: QtBot, model: str, version: int) -> None:
    console = desk.console
    console.window.pages.select("portfolio")
    key = desk.ctx.portfolio.find_model(model, "reg").model_key
    assert console.portfolio.portfolio_view.select_key(key)
    detail = console.portfolio.detail_view
    qtbot.waitUntil(lambda: detail.detail is not None and detail.detail.name == model)
    row = detail.versions_model.row_of_version(version)
    assert row is not None
    detail.select_version_row(row)
    assert detail.selected_version is not None and detail.selected_version.version == version


def _select_request(page: ApprovalsPage, qtbot: QtBot, request_id: str) -> None:
    qtbot.waitUntil(lambda: page.model.row_of(request_id) is not None, timeout=TIMEOUT)
    assert page.select_request(request_id)
    qtbot.waitUntil(lambda: page.detail.request_id == request_id, timeout=TIMEOUT)


def _request_from_the_dialog(team: Team, qtbot: QtBot) -> str:
    ada = team.ada
    gov = ada.console.governance
    _show_version(ada, qtbot, team.model, 2)
    gov.show_panel()
    button = gov.panel.request_button
    qtbot.waitUntil(button.isEnabled, timeout=TIMEOUT)
    assert button.text() == "Request promotion of v2…"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = gov.dialog
    assert isinstance(dialog, RequestPromotionDialog)
    qtbot.waitExposed(dialog)
    # Existing aliases are offered; the policy for the model's tier is spelled out.
    assert [dialog.alias.itemText(i) for i in range(dialog.alias.count())] == ["production"]
    assert dialog.policy_label.text().startswith(
        "Medium-risk policy: 1 approval from an approver. Evidence required: validation "
        "report, rollback plan."
    )
    assert not dialog.submit_button.isEnabled()
    assert "justification" in dialog.submit_button.toolTip()
    dialog.alias.setCurrentText("production")
    assert dialog.alias_hint.text() == "'production' now points at v1."
    qtbot.keyClicks(dialog.justification, "Recall +4 points on the Q3 holdout; same latency.")
    qtbot.keyClicks(dialog.checklist["validation_report"], "VR-2026-031")
    assert dialog.missing_warning.isVisible()
    assert "rollback plan" in dialog.missing_warning.text()
    qtbot.keyClicks(dialog.checklist["rollback_plan"], "Move production back to v1")
    assert not dialog.missing_warning.isVisible()
    # The request is signed: no passphrase, no submit.
    assert not dialog.submit_button.isEnabled()
    assert dialog.submit_button.toolTip() == (
        "Enter your passphrase: the request is signed with your key."
    )
    qtbot.keyClicks(dialog.passphrase.edit, PASS["ada"])
    save_screenshot(dialog, "gov_request_dialog")
    assert dialog.submit_button.isEnabled()
    qtbot.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gov.dialog is None, timeout=TIMEOUT)
    mine = [r for r in ada.ctx.governance.requests() if r.identity.model == team.model]
    assert len(mine) == 1 and mine[0].identity.version == 2
    assert mine[0].checklist == {
        "validation_report": "VR-2026-031",
        "rollback_plan": "Move production back to v1",
    }
    return mine[0].request_id


def test_request_approve_with_signature_and_apply(team: Team, qtbot: QtBot) -> None:
    ada, ann = team.ada, team.ann
    rid = _request_from_the_dialog(team, qtbot)
    # A second request, short of required evidence: its status says what is missing.
    other = ada.ctx.governance.create_request(
        "reg",
        team.model,
        3,
        "challenger",
        "Shadow-test the deeper trees.",
        {"validation_report": "VR-2026-040"},
        passphrase=PASS["ada"],
    ).request_id
    ada.console.governance.controller.wrote()

    # -- Ada requested it: her Approve button says why she cannot (separation of duties).
    page = ada.approvals
    ada.console.window.pages.select("approvals")
    page.set_filter(InboxFilter.MINE)
    _select_request(page, qtbot, rid)
    assert not page.detail.approve_button.isEnabled()
    tip = page.detail.approve_button.toolTip()
    assert "Ada requested this promotion and cannot also approve it" in tip
    assert "cannot also reject it" in page.detail.reject_button.toolTip()
    assert not page.detail.apply_button.isEnabled()
    assert page.detail.apply_button.toolTip().startswith("Only approved requests can be applied")
    qtbot.mouseClick(page.detail.approve_button, Qt.MouseButton.LeftButton)
    assert page.dialog is None

    # -- Ann: both requests wait for her.
    inbox = ann.approvals
    ann.console.window.pages.select("approvals")
    qtbot.waitUntil(lambda: inbox.filters.tabText(0) == "Waiting for me (2)", timeout=TIMEOUT)
    assert ann.console.window.pages.tab_text("approvals") == "Approvals (2)"
    assert inbox.filter is InboxFilter.WAITING
    texts = {
        inbox.model.data(inbox.model.index(r, InboxColumn.PROMOTION))
        for r in range(inbox.model.rowCount())
    }
    assert texts == {f"{team.model} v2 → production", f"{team.model} v3 → challenger"}
    row = inbox.model.row_of(rid)
    assert row is not None
    assert inbox.model.data(inbox.model.index(row, InboxColumn.APPROVALS)) == "0/1"
    assert inbox.model.data(inbox.model.index(row, InboxColumn.REQUESTER)) == "ada"
    assert inbox.model.data(inbox.model.index(row, InboxColumn.RISK_TIER)) == "Medium"

    _select_request(inbox, qtbot, other)
    assert inbox.detail.status_line.text() == (
        "Still needed: 1 more approval from an approver; checklist item 'rollback plan' missing."
    )
    save_screenshot(ann.console.window, "gov_inbox")
    save_screenshot(inbox.detail, "gov_request_detail")

    # -- Ann comments on the first one (a signed comment that decides nothing), then
    # approves it.
    _select_request(inbox, qtbot, rid)
    assert inbox.detail.status_line.text() == "Still needed: 1 more approval from an approver."
    assert inbox.detail.approve_button.isEnabled()
    qtbot.mouseClick(inbox.detail.comment_button, Qt.MouseButton.LeftButton)
    comment = inbox.dialog
    assert isinstance(comment, CommentDialog)
    qtbot.keyClicks(comment.reason, "Checked VR-2026-031 against the Q3 holdout.")
    assert not comment.sign_button.isEnabled()
    qtbot.keyClicks(comment.passphrase.edit, PASS["ann"])
    comment.sign_button.click()
    qtbot.waitUntil(lambda: inbox.dialog is None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: inbox.detail.timeline_model.rowCount() == 2, timeout=TIMEOUT)

    qtbot.mouseClick(inbox.detail.approve_button, Qt.MouseButton.LeftButton)
    dialog = inbox.dialog
    assert isinstance(dialog, SigningDialog)
    qtbot.waitExposed(dialog)
    # Exactly what is signed, readable and canonical, with the manifestation.
    manifest = ann.ctx.governance.signing_manifest(ann.ctx.governance.request(rid), dialog.meaning)
    assert dialog.canonical.toPlainText() == canonical_manifest(manifest)
    assert dialog.printed_name.text() == "Ann Approver"
    assert dialog.user_id.text() == "ann"
    assert dialog.meaning_label.text() == "Approval"
    assert dialog.when.text().endswith("UTC  (recorded when you sign)")
    assert dialog.statement.text() == PART11_STATEMENT
    assert not dialog.sign_button.isEnabled()
    assert dialog.sign_button.toolTip() == "Enter your passphrase to sign."

    events_before = ann.ctx.audit.count()
    qtbot.keyClicks(dialog.comment, "Validation report and rollback plan checked.")
    qtbot.keyClicks(dialog.passphrase, "not-my-passphrase")
    # Never taller than the screen: what is signed scrolls, the passphrase and the
    # buttons stay in view (at 1024x640 the rows used to clip).
    screen = dialog.screen().availableGeometry()
    assert dialog.sizeHint().height() <= screen.height()
    dialog.resize(dialog.sizeHint())
    body = dialog.signed_scroll.widget()
    assert body is not None and body.height() >= body.sizeHint().height()
    assert dialog.passphrase.isVisible() and dialog.sign_button.isVisible()
    save_screenshot(dialog, "gov_approve_dialog")
    qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.passphrase_error.isVisible(), timeout=TIMEOUT)
    assert dialog.passphrase_error.text() == (
        "The passphrase is wrong: nothing was signed. Try again."
    )
    assert dialog.passphrase.text() == ""
    assert dialog.isVisible() and not dialog.busy
    assert ann.ctx.audit.count() == events_before
    assert ann.ctx.governance.request(rid).approvals == []

    qtbot.keyClicks(dialog.passphrase, PASS["ann"])
    qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: inbox.dialog is None, timeout=TIMEOUT)
    request = ann.ctx.governance.request(rid)
    assert request.state is RequestState.APPROVED
    [approval] = request.approvals
    assert approval.actor == "ann" and approval.comment == (
        "Validation report and rollback plan checked."
    )
    event = ann.ctx.audit.events([approval.seq])[0]
    assert event.signer and event.signature
    assert event.after["manifestation"] == {  # type: ignore[index]
        "printed_name": "Ann Approver",
        "user_id": "ann",
        "meaning": "approval",
    }
    assert inbox.banner.kind == "success"
    assert f"recorded as event {approval.seq}, signed with {event.signer}" in (
        inbox.banner.label.text()
    )

    # -- Apply, signed, in a worker: the alias moves in MLflow and the ledger says so.
    qtbot.waitUntil(lambda: inbox.detail.apply_button.isEnabled(), timeout=TIMEOUT)
    qtbot.mouseClick(inbox.detail.apply_button, Qt.MouseButton.LeftButton)
    apply = inbox.dialog
    assert isinstance(apply, SignDialog)
    assert "re-checks every approval" in apply.what.text()
    qtbot.keyClicks(apply.passphrase.edit, PASS["ann"])
    save_screenshot(apply, "gov_apply_dialog")
    apply.sign_button.click()
    qtbot.waitUntil(
        lambda: ann.ctx.governance.request(rid).state is RequestState.APPLIED, timeout=TIMEOUT
    )
    with team.client() as client:
        assert client.get_registered_model(team.model).aliases["production"] == 2
    # Claimed, then applied: both are signed events on the request's timeline.
    qtbot.waitUntil(lambda: inbox.detail.timeline_model.rowCount() == 5, timeout=TIMEOUT)
    assert inbox.detail.status_line.text().startswith("Applied to the registry by ann (event ")
    assert "Promotion applied" in inbox.banner.label.text()
    actions = [
        inbox.detail.timeline_model.data(inbox.detail.timeline_model.index(r, 3)) for r in range(5)
    ]
    assert actions[:3] == ["Promotion requested", "Comment", "Approved (signed)"]
    assert actions[-1] == "Promotion applied"
    # The portfolio table shows the alias where the registry has it, without a sync.
    key = ann.ctx.portfolio.find_model(team.model, "reg").model_key
    table = ann.console.portfolio.portfolio_model

    def shown_aliases() -> dict[str, int]:
        row = table.row_of(key)
        found = table.row_at(row) if row is not None else None
        return dict(found.aliases) if found is not None else {}

    qtbot.waitUntil(lambda: shown_aliases().get("production") == 2, timeout=TIMEOUT)
    save_screenshot(inbox.detail, "gov_request_applied")

    # -- The audit trail shows the signed approval.
    audit = ann.console.audit.page
    ann.console.window.pages.select("audit")
    audit.action.setCurrentIndex(audit.action.findData(LedgerAction.REQUEST_APPROVED.value))
    qtbot.waitUntil(
        lambda: (
            audit.model.query == LedgerQuery(actions=(LedgerAction.REQUEST_APPROVED.value,))
            and not audit.model.loading
            and audit.model.rowCount() == 1
        ),
        timeout=TIMEOUT,
    )
    qtbot.waitUntil(lambda: audit.model.is_loaded(0), timeout=TIMEOUT)
    assert audit.model.data(audit.model.index(0, AuditColumn.SIGNED)) == f"✓ {event.signer}"


def test_roles_and_request_are_refused_with_reasons(team: Team, qtbot: QtBot) -> None:
    ann = team.ann
    gov = ann.console.governance
    # Ann is an approver only: she may not request, nor manage roles.
    _show_version(ann, qtbot, team.model, 3)
    gov.show_panel()
    button = gov.panel.request_button
    assert not button.isEnabled()
    assert button.toolTip() == (
        "Requesting a promotion needs the requester role; ann has approver. An admin can "
        "grant it (Identity → Roles…)."
    )
    assert not gov.request_action.isEnabled()
    assert not gov.roles_action.isEnabled()
    assert gov.roles_action.toolTip() == (
        "Only an admin can grant or revoke roles; ann has approver."
    )
    assert gov.identity_label.text() == "Signed in as Ann Approver (ann) · approver"
    assert not gov.enroll_action.isEnabled()

    # Ada, the admin, grants Ann the requester role from the Roles dialog.
    ada_gov = team.ada.console.governance
    assert ada_gov.roles_action.isEnabled()
    ada_gov.roles_action.trigger()
    dialog = ada_gov.dialog
    assert isinstance(dialog, RolesDialog)
    qtbot.waitExposed(dialog)
    dialog.user.setCurrentText("ann")
    dialog.role.setCurrentIndex(dialog.role.findData("requester"))
    dialog.reason.setText("Ann now also prepares promotions for the fraud team.")
    dialog.grant_button.click()
    assert "passphrase" in dialog.outcome.text()  # a role change is signed
    qtbot.keyClicks(dialog.passphrase.edit, PASS["ada"])
    dialog.grant_button.click()
    qtbot.waitUntil(lambda: "was granted to ann" in dialog.outcome.text(), timeout=TIMEOUT)
    assert Role.REQUESTER in team.ada.ctx.membership.roles_of("ann")
    save_screenshot(dialog, "gov_roles_dialog")
    dialog.close()
    qtbot.waitUntil(lambda: ada_gov.dialog is None)

    # Ann's console catches up at its next refresh.
    gov.controller.refresh()
    qtbot.waitUntil(button.isEnabled, timeout=TIMEOUT)
    assert gov.identity_label.text() == "Signed in as Ann Approver (ann) · approver, requester"


def test_rejection_needs_a_reason_and_closes_the_request(team: Team, qtbot: QtBot) -> None:
    rid = team.ada.ctx.governance.create_request(
        "reg",
        team.model,
        3,
        "production",
        "Deeper trees.",
        {"validation_report": "VR-2026-041", "rollback_plan": "back to v1"},
        passphrase=PASS["ada"],
    ).request_id
    ann = team.ann
    inbox = ann.approvals
    ann.console.window.pages.select("approvals")
    _select_request(inbox, qtbot, rid)
    qtbot.mouseClick(inbox.detail.reject_button, Qt.MouseButton.LeftButton)
    dialog = inbox.dialog
    assert isinstance(dialog, SigningDialog)
    assert dialog.meaning_label.text() == "Rejection"
    qtbot.keyClicks(dialog.passphrase, PASS["ann"])
    assert not dialog.sign_button.isEnabled()
    assert dialog.sign_button.toolTip() == (
        "A rejection needs a reason: say why in the Reason field."
    )
    qtbot.keyClicks(dialog.comment, "The bias review is missing.")
    assert dialog.sign_button.isEnabled()
    qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: inbox.dialog is None, timeout=TIMEOUT)
    assert ann.ctx.governance.request(rid).state is RequestState.REJECTED
    qtbot.waitUntil(
        lambda: inbox.detail.status_line.text() == "Rejected by ann: The bias review is missing.",
        timeout=TIMEOUT,
    )
    assert not inbox.detail.approve_button.isEnabled()
    assert inbox.detail.approve_button.toolTip() == (
        "This request is rejected; only pending requests can be decided."
    )
    assert inbox.filters.tabText(0) == "Waiting for me"


def test_start_up_names_an_apply_interrupted_before_its_ledger_entry(
    team: Team, qtbot: QtBot
) -> None:
    ada, ann = team.ada.ctx, team.ann.ctx
    rid = ada.governance.create_request(
        "reg",
        team.model,
        2,
        "production",
        "Recall +4 points.",
        {"validation_report": "VR-2026-031", "rollback_plan": "back to v1"},
        passphrase=PASS["ada"],
    ).request_id
    ann.governance.approve(rid, "ok", PASS["ann"])
    # What an apply killed between the registry write and the ledger entry leaves.
    with team.client() as client:
        client.set_model_version_tag(team.model, 2, TAG_REQUEST, rid)
        client.set_registered_model_alias(team.model, "production", 2)
    console = _open(ann, qtbot)  # Ann's console starts again
    try:
        notice = console.window.notice_banner
        qtbot.waitUntil(lambda: notice.isVisible() and rid in notice.label.text(), timeout=TIMEOUT)
        assert "already show in the registry but not in the audit ledger" in notice.label.text()
        # Recording it is a signed act left to a person: nothing was recorded yet.
        assert ann.governance.request(rid).state is RequestState.APPROVED
        # Apply records it without a second registry write.
        outcome = ann.promotions.apply(rid, PASS["ann"])
        assert outcome.request.state is RequestState.APPLIED
        applied = ann.audit.page(
            LedgerQuery(actions=(LedgerAction.PROMOTION_APPLIED.value,)), limit=None
        )
        assert [e.after["request_id"] for e in applied] == [rid]  # type: ignore[index]
    finally:
        _close(console)


def test_a_request_whose_alias_moved_asks_nobody_to_sign_and_is_withdrawn(
    team: Team, qtbot: QtBot
) -> None:
    ada, ann = team.ada, team.ann
    rid = ada.ctx.governance.create_request(
        "reg",
        team.model,
        3,
        "production",
        "Deeper trees.",
        {"validation_report": "VR-2026-050", "rollback_plan": "back to v1"},
        passphrase=PASS["ada"],
    ).request_id
    # Someone moves the alias in MLflow, outside the workflow; Ann's desktop syncs.
    with team.client() as client:
        client.set_registered_model_alias(team.model, "production", 3)
    ann.ctx.sync.sync("reg")
    inbox = ann.approvals
    ann.console.governance.controller.refresh()
    ann.console.window.pages.select("approvals")
    qtbot.waitUntil(lambda: inbox.filters.tabText(0) == "Waiting for me", timeout=TIMEOUT)
    inbox.set_filter(InboxFilter.ALL)
    _select_request(inbox, qtbot, rid)
    assert inbox.detail.status_line.text() == (
        "Cannot be applied as requested: alias 'production' already points at v3: it was "
        "moved outside the workflow. Nobody is asked to sign it."
    )
    assert not inbox.detail.approve_button.isEnabled()
    assert "Nobody is asked to sign it" in inbox.detail.approve_button.toolTip()
    assert not inbox.detail.withdraw_button.isEnabled()  # Ann neither made it nor is admin
    save_screenshot(inbox.detail, "gov_request_cannot_be_applied")

    # Ada, who made it, withdraws it with a signed reason.
    ada.ctx.sync.sync("reg")
    page = ada.approvals
    ada.console.governance.controller.refresh()
    ada.console.window.pages.select("approvals")
    page.set_filter(InboxFilter.MINE)
    _select_request(page, qtbot, rid)
    qtbot.waitUntil(page.detail.withdraw_button.isEnabled, timeout=TIMEOUT)
    page.detail.withdraw_button.click()
    dialog = page.dialog
    assert isinstance(dialog, SignDialog)
    assert not dialog.sign_button.isEnabled()
    qtbot.keyClicks(dialog.reason, "The alias was moved by hand; nothing left to approve.")
    qtbot.keyClicks(dialog.passphrase.edit, PASS["ada"])
    dialog.sign_button.click()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=TIMEOUT)
    assert ada.ctx.governance.request(rid).state is RequestState.WITHDRAWN
    qtbot.waitUntil(
        lambda: (
            page.detail.status_line.text()
            == "Withdrawn by ada: The alias was moved by hand; nothing left to approve."
        ),
        timeout=TIMEOUT,
    )
    assert not page.detail.withdraw_button.isEnabled()
    save_screenshot(page.detail, "gov_request_withdrawn")
