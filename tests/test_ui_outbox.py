"""The console with the team ledger out of reach: an approver still approves and
comments, the console says the decisions wait in the outbox, and the next start with
the ledger back sends them, telling the author of one that no longer applied."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.domain.authority_records import FindingSubject
from app.domain.governance import RequestState
from app.services.findings import about
from app.services.outbox import Fate
from app.ui.console import Console
from app.ui.governance.approvals_page import ApprovalsPage
from app.ui.governance.inbox_model import InboxFilter
from app.ui.governance.signing_dialog import SigningDialog
from tests.fixtures.desks import DeskFactory
from tests.fixtures.tcp_proxy import TcpProxy
from tests.test_outbox import Team, _offline, _online, _request, _through
from tests.test_outbox import team as team
from tests.test_ui_gov_trust import TIMEOUT, _close, _open
from tests.test_ui_gov_trust import consoles as consoles
from tests.ui_helpers import no_leaks, save_screenshot

pytestmark = [
    pytest.mark.gui,
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.usefixtures("no_leaks"),
]
__all__ = ["no_leaks"]


@pytest.fixture
def shared_ledger_url(pg_database_url: str) -> str:
    return pg_database_url


def _select(page: ApprovalsPage, qtbot: QtBot, request_id: str) -> None:
    qtbot.waitUntil(lambda: page.model.row_of(request_id) is not None, timeout=TIMEOUT)
    assert page.select_request(request_id)
    qtbot.waitUntil(lambda: page.detail.request_id == request_id, timeout=TIMEOUT)


def test_an_approval_made_offline_waits_in_the_outbox_and_is_sent_on_the_next_start(
    team: Team, desks: DeskFactory, qtbot: QtBot, consoles: list[Console]
) -> None:
    kept, dropped = _request(team, 2), _request(team, 3)
    _offline(team.ann)
    console = _open(team.ann, qtbot)
    consoles.append(console)
    gov = console.governance
    assert gov.data.collecting
    console.window.select_page("approvals")
    inbox = gov.approvals

    for rid in (kept, dropped):
        _select(inbox, qtbot, rid)
        assert inbox.detail.approve_button.isEnabled()
        assert "kept in the outbox" in inbox.detail.approve_button.toolTip()
        qtbot.mouseClick(inbox.detail.approve_button, Qt.MouseButton.LeftButton)
        dialog = inbox.dialog
        assert isinstance(dialog, SigningDialog)
        qtbot.waitExposed(dialog)
        assert dialog.outbox_note.isVisible()
        if rid == kept:
            save_screenshot(dialog, "outbox_approve_dialog")
        qtbot.keyClicks(dialog.comment, "Checked on the train.")
        qtbot.keyClicks(dialog.passphrase, team.ann.passphrase)
        qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: inbox.dialog is None, timeout=TIMEOUT)
        assert "waiting to be sent" in inbox.banner.label.text()
        qtbot.waitUntil(inbox.detail.outbox_line.isVisible, timeout=TIMEOUT)
        assert "Waiting to be sent: your approval" in inbox.detail.outbox_line.text()
        # Decided: approving or rejecting again would only be superseded when sent.
        for button in (inbox.detail.approve_button, inbox.detail.reject_button):
            assert not button.isEnabled()
            assert "already waiting in the outbox" in button.toolTip()
        assert "already waiting in the outbox" in inbox.detail.reasons.text()
    qtbot.waitUntil(lambda: len(gov.data.outbox) == 2, timeout=TIMEOUT)
    assert "2 are waiting now" in gov.replica_banner.label.text()
    # Both are decided, so neither waits for ann any more (the detail stays on the last).
    assert inbox.filter is InboxFilter.WAITING and inbox.model.rowCount() == 0
    assert inbox.badge() == 0 and inbox.detail.request_id == dropped
    inbox.set_filter(InboxFilter.ALL)
    assert {inbox.model.row_of(r) is not None for r in (kept, dropped)} == {True}
    assert not gov.outbox_action.isEnabled()
    save_screenshot(console.window, "outbox_waiting")
    _close(consoles.pop())

    # Meanwhile the requester withdraws one of them.
    team.ada.ctx.governance.withdraw(dropped, "Wrong version.", team.ada.passphrase)

    _online(team.ann)
    console = _open(team.ann, qtbot)
    consoles.append(console)
    gov = console.governance
    qtbot.waitUntil(lambda: gov.last_flush is not None, timeout=TIMEOUT)
    assert gov.last_flush is not None
    fates = {e.request_id: e.fate for e in gov.last_flush.sent}
    assert fates == {kept: Fate.RECORDED, dropped: Fate.SUPERSEDED}
    # The author is told, in the banner they must dismiss.
    notice = console.window.notice_banner.label.text()
    assert "1 superseded" in notice and "already withdrawn" in notice
    qtbot.waitUntil(lambda: gov.data.outbox == (), timeout=TIMEOUT)
    assert not gov.outbox_action.isEnabled()
    # The Overview re-reads after the send (its figures then include the decision).
    qtbot.waitUntil(lambda: console.overview.settled, timeout=TIMEOUT)
    # The approval counted: the request is approved, waiting to be applied, not for an
    # approver (the overview used to read the fold's raw state, which is never APPROVED).
    shown = console.overview.overview
    assert shown is not None
    assert shown.figure("requests.approved").value == 1
    assert shown.figure("requests.pending").value == 0
    save_screenshot(console.window, "outbox_sent")
    request = team.ada.reopen().governance.request(kept)
    assert [d.actor for d in request.approvals] == ["ann"]
    assert team.ada.ctx.governance.request(dropped).state is RequestState.WITHDRAWN


def test_findings_signed_offline_wait_and_are_entered_once_the_ledger_answers(
    team: Team, qtbot: QtBot, consoles: list[Console]
) -> None:
    _offline(team.aud)
    console = _open(team.aud, qtbot)
    consoles.append(console)
    page = console.findings
    console.window.select_page("findings")
    qtbot.waitUntil(lambda: page.loaded, timeout=TIMEOUT)
    dialog = page.record_about(about(FindingSubject.MODEL, registry="reg", model=team.model))
    assert dialog is not None
    qtbot.keyClicks(dialog.reason, "No owner sign-off on the bias review.")
    qtbot.keyClicks(dialog.passphrase.edit, team.aud.passphrase)
    dialog.sign_button.click()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=TIMEOUT)
    assert not page.send_button.isEnabled()
    assert "Your findings wait here until it answers" in page.send_button.toolTip()
    _close(consoles.pop())

    _online(team.aud)
    console = _open(team.aud, qtbot)
    consoles.append(console)
    page = console.findings
    console.window.select_page("findings")
    qtbot.waitUntil(lambda: page.loaded and page.send_button.isEnabled(), timeout=TIMEOUT)
    assert page.send_button.text() == "Enter mine in the ledger (1)…"
    send = page.send_pending()
    assert send is not None
    qtbot.keyClicks(send.passphrase.edit, team.aud.passphrase)
    send.sign_button.click()
    qtbot.waitUntil(lambda: page.dialog is None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not page.send_button.isEnabled(), timeout=TIMEOUT)
    assert "1 finding(s) entered in the ledger" in console.window.statusBar().currentMessage()
    found = team.ada.reopen().findings.findings()
    assert [(f.auditor, f.text) for f in found] == [
        ("aud", "No owner sign-off on the bias review.")
    ]


def test_a_ledger_lost_while_the_console_runs_keeps_the_approval_and_sends_it_when_back(
    team: Team, qtbot: QtBot, consoles: list[Console]
) -> None:
    """No restart: the approver signs while the team ledger has just stopped answering;
    the console keeps the approval, says so, tries the ledger again and sends it."""
    rid = _request(team, 2)
    with TcpProxy.before(team.ann.ledger_url) as proxy:
        _through(team.ann, proxy)
        console = _open(team.ann, qtbot)
        consoles.append(console)
        gov = console.governance
        assert not gov.data.collecting and not gov.replica_banner.isVisible()
        console.window.select_page("approvals")
        inbox = gov.approvals
        _select(inbox, qtbot, rid)

        proxy.cut()
        # Whether a background read or the signing itself finds the ledger gone first
        # (both happen in a running console), the approval is kept, not refused.
        qtbot.mouseClick(inbox.detail.approve_button, Qt.MouseButton.LeftButton)
        dialog = inbox.dialog
        assert isinstance(dialog, SigningDialog)
        qtbot.waitExposed(dialog)
        qtbot.keyClicks(dialog.comment, "Checked VR-9.")
        qtbot.keyClicks(dialog.passphrase, team.ann.passphrase)
        qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: inbox.dialog is None, timeout=TIMEOUT)
        assert "waiting to be sent" in inbox.banner.label.text()
        qtbot.waitUntil(lambda: gov.data.collecting and len(gov.data.outbox) == 1, timeout=TIMEOUT)
        assert gov.replica_banner.isVisible() and gov.retry_button.isVisible()
        text = gov.replica_banner.label.text()
        assert "cannot be reached" in text and "1 is waiting now" in text
        assert "tries it again every 30 seconds" in text
        save_screenshot(console.window, "outbox_ledger_lost")
        # Trying while it is still down changes nothing.
        gov.try_ledger_again()
        qtbot.waitUntil(lambda: not gov.runner.is_running("governance-reconnect"), timeout=TIMEOUT)
        assert gov.data.collecting and len(ann_outbox := team.ann.ctx.outbox.waiting()) == 1

        proxy.restore()
        qtbot.mouseClick(gov.retry_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: gov.last_flush is not None, timeout=TIMEOUT)
        assert gov.last_flush is not None
        assert [(e.intent_id, e.fate) for e in gov.last_flush.sent] == [
            (ann_outbox[0].intent_id, Fate.RECORDED)
        ]
        qtbot.waitUntil(lambda: not gov.data.collecting and gov.data.outbox == (), timeout=TIMEOUT)
        qtbot.waitUntil(lambda: not gov.replica_banner.isVisible(), timeout=TIMEOUT)
        assert not gov.retry_button.isVisible()
    approvals = team.ada.reopen().governance.request(rid).approvals
    assert [(d.actor, d.comment) for d in approvals] == [("ann", "Checked VR-9.")]
