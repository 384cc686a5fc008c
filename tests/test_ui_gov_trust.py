"""What the console shows about trust, on both ledger stores: a red banner naming an
event the fold refused (forged straight into the shared ledger) that only an admin
may acknowledge, with a signature; the keys waiting for an admin, approved from the
console; and solo / team / "as of replica" in the status bar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from app.domain.governance import MemberStatus, Role
from app.domain.ledger import LedgerAction
from app.stores.migrate import open_ledger_database
from app.stores.profile_file import ProfileFile
from app.ui.console import Console, build_console
from app.ui.governance.keys_dialog import PendingKeysDialog
from app.ui.governance.sign_dialog import SignDialog
from tests.fixtures.desks import Desk, DeskFactory, enrol
from tests.ledger_forgery import RandomSignature, append
from tests.ui_helpers import no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

TIMEOUT = 30_000


def _open(desk: Desk, qtbot: QtBot) -> Console:
    console = build_console(desk.ctx)
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
def consoles(qtbot: QtBot) -> Iterator[list[Console]]:
    opened: list[Console] = []
    try:
        yield opened
    finally:
        for console in opened:
            _close(console)


def test_a_forged_grant_raises_the_red_banner_until_an_admin_acknowledges_it(
    desks: DeskFactory, qtbot: QtBot, consoles: list[Console]
) -> None:
    ada, ann = desks("ada"), desks("ann")
    enrol(ada, ada)
    enrol(ada, ann, Role.APPROVER)
    ada_key = ada.ctx.actor.me().key_id
    assert ada_key is not None
    # Someone with the ledger database's credentials: ada's key id, random signature
    # bytes, chained correctly and the head moved. It would make ann an admin.
    db = open_ledger_database(ada.ledger_url)
    try:
        forged = append(
            db,
            "ada",
            LedgerAction.ROLE_GRANTED,
            "user:ann",
            after={"user": "ann", "role": "admin"},
            reason="Trust me.",
            signer=RandomSignature(ada_key),
        )
    finally:
        db.dispose()

    ann.reopen()  # a desktop started afresh folds the shared ledger
    ann_console = _open(ann, qtbot)
    consoles.append(ann_console)
    gov = ann_console.governance
    banner = gov.problem_banner
    qtbot.waitUntil(banner.isVisible, timeout=TIMEOUT)
    text = banner.label.text()
    assert text.startswith(
        f"The ledger does not verify: Event {forged.seq} (role.granted by ada) does not count"
    )
    assert "signature" in text and "Nothing that depends on it can be applied" in text
    # The forged grant gave nothing: ann is still an approver, and may not acknowledge.
    assert gov.identity_label.text() == "Signed in as Ann (ann) · approver"
    assert not gov.roles_action.isEnabled()
    assert not gov.acknowledge_button.isEnabled()
    assert "Only an admin" in gov.acknowledge_button.toolTip()
    # "Show in audit trail" goes to the event.
    with qtbot.waitSignal(gov.event_requested, timeout=TIMEOUT) as shown:
        gov.show_problem_button.click()
    assert shown.args == [forged.seq]
    save_screenshot(ann_console.window, "gov_ledger_does_not_verify")

    # Ada, the admin, investigates and acknowledges it with her signature.
    ada.reopen()
    ada_console = _open(ada, qtbot)
    consoles.append(ada_console)
    ada_gov = ada_console.governance
    qtbot.waitUntil(ada_gov.problem_banner.isVisible, timeout=TIMEOUT)
    assert ada_gov.acknowledge_button.isEnabled()
    ada_gov.acknowledge_button.click()
    dialog = ada_gov.dialog
    assert isinstance(dialog, SignDialog)
    qtbot.waitExposed(dialog)
    assert f"Event {forged.seq}" in dialog.what.text()
    assert not dialog.sign_button.isEnabled()
    qtbot.keyClicks(dialog.reason, "Row inserted by hand with the shared credentials.")
    qtbot.keyClicks(dialog.passphrase.edit, "not-her-passphrase")
    dialog.sign_button.click()
    qtbot.waitUntil(dialog.passphrase.error.isVisible, timeout=TIMEOUT)
    assert ada_gov.problem_banner.isVisible()  # nothing was signed
    qtbot.keyClicks(dialog.passphrase.edit, ada.passphrase)
    dialog.sign_button.click()
    qtbot.waitUntil(lambda: ada_gov.dialog is None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not ada_gov.problem_banner.isVisible(), timeout=TIMEOUT)
    # Acknowledged, the event still never counts.
    assert Role.ADMIN not in ada.ctx.membership.roles_of("ann")
    [problem] = ada.ctx.membership.problems()
    assert problem.seq == forged.seq and problem.acknowledged is not None


def test_an_admin_sees_and_approves_a_pending_key(
    desks: DeskFactory, qtbot: QtBot, consoles: list[Console]
) -> None:
    ada, ann = desks("ada"), desks("ann")
    enrol(ada, ada)
    ann.ctx.membership.init_identity("ann", "Ann", ("ann.ml",), ann.passphrase)

    ann_console = _open(ann, qtbot)
    consoles.append(ann_console)
    assert ann_console.governance.identity_label.text() == ("Ann (ann) · key waiting for an admin")
    assert not ann_console.governance.keys_banner.isVisible()  # not an admin

    ada.reopen()
    ada_console = _open(ada, qtbot)
    consoles.append(ada_console)
    gov = ada_console.governance
    qtbot.waitUntil(gov.keys_banner.isVisible, timeout=TIMEOUT)
    assert gov.keys_banner.label.text().startswith("1 signing key waits for your approval (ann)")
    assert gov.keys_action.text() == "Pending keys (1)…"
    gov.keys_action.trigger()
    keys = gov.dialog
    assert isinstance(keys, PendingKeysDialog)
    qtbot.waitExposed(keys)
    assert keys.model.rowCount() == 1
    assert keys.model.key_at(0) is not None and keys.model.key_at(0).user_id == "ann"  # type: ignore[union-attr]
    save_screenshot(keys, "gov_pending_keys")
    assert keys.approve_button.isEnabled()
    keys.approve_button.click()
    sign = keys.sign_dialog
    assert isinstance(sign, SignDialog)
    qtbot.keyClicks(sign.reason, "Key id read out by Ann on a call.")
    qtbot.keyClicks(sign.passphrase.edit, ada.passphrase)
    sign.sign_button.click()
    qtbot.waitUntil(lambda: keys.sign_dialog is None, timeout=TIMEOUT)
    assert "The key of ann now counts" in keys.outcome.text()
    assert ada.ctx.actor.identity.user_id() == "ada"
    assert ada.ctx.membership.identities()["ann"].status is MemberStatus.ACTIVE
    qtbot.waitUntil(lambda: keys.model.rowCount() == 0, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not gov.keys_banner.isVisible(), timeout=TIMEOUT)


def test_status_bar_says_solo_team_or_as_of_replica(
    desks: DeskFactory, qtbot: QtBot, consoles: list[Console], pg_database_url: str
) -> None:
    solo = desks("sam", ledger_url="")
    enrol(solo, solo)
    console = _open(solo, qtbot)
    consoles.append(console)
    assert console.governance.ledger_label.text() == "Solo ledger"

    ada = desks("ada", ledger_url=pg_database_url)
    enrol(ada, ada)
    ada.reopen()
    console = _open(ada, qtbot)
    consoles.append(console)
    gov = console.governance
    assert gov.ledger_label.text() == "Team ledger"
    assert not gov.replica_banner.isVisible()
    _close(consoles.pop())

    # The team ledger goes away: the console works from the replica, read-only, and
    # every view says how old it is.
    profile = ProfileFile(ada.ctx.paths.profile_file)
    ada.close()
    profile.save(replace(profile.load(), team_ledger_url="postgresql+psycopg://127.0.0.1:1/gone"))
    console = _open(ada, qtbot)
    consoles.append(console)
    gov = console.governance
    assert gov.ledger_label.text().startswith("Team ledger, as of replica ")
    assert gov.replica_banner.isVisible()
    banner = gov.replica_banner.label.text()
    assert "cannot be reached" in banner and "shown as of replica" in banner
    assert "events" in banner
    # One sentence names the server and what to check; the URL is not said twice.
    assert banner.startswith("The database server of the audit ledger at postgresql")
    assert banner.count("127.0.0.1:1/gone") == 1
    label = gov.replica_banner.label
    assert label.height() >= label.heightForWidth(label.width()), (label.height(), label.width())
    assert not gov.roles_action.isEnabled()
    assert "decisions wait in the outbox" in gov.identity_label.text()
    save_screenshot(console.window, "gov_as_of_replica")
