"""Governance pages without a registry server: page navigation and its shortcuts, empty
states, the disabled-with-a-reason actions, and qtmodeltester on every governance
item model (inbox, timeline, violations, alias moves) over a real embedded ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.cancel import CancelToken
from app.domain.governance import Role
from app.presentation.formatting import badge_text
from app.services.governance_inbox import load_governance
from app.ui.console import Console, build_console
from app.ui.governance.alias_history import AliasMovesModel, load_alias_history
from app.ui.governance.inbox_model import InboxColumn, InboxFilter, InboxModel, filter_items
from app.ui.governance.request_detail import TimelineModel, load_request_detail
from app.ui.governance.violations_page import ViolationsModel
from tests.ui_helpers import make_context, no_leaks, save_screenshot, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

ENROLL = "No identity yet — Identity → Enroll…"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    console.window.activateWindow()
    qtbot.waitUntil(console.window.isActiveWindow)
    qtbot.waitUntil(lambda: console.governance.data.loaded)
    try:
        yield console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_pages_have_tabs_shortcuts_and_a_go_menu(console: Console, qtbot: QtBot) -> None:
    pages = console.window.pages
    assert pages.keys()[:5] == ["overview", "portfolio", "approvals", "audit", "violations"]
    assert pages.current_key == "overview"  # the managers' summary comes first
    for n, key in ((3, "approvals"), (4, "audit"), (5, "violations"), (2, "portfolio")):
        QTest.keyClick(
            console.window, getattr(Qt.Key, f"Key_{n}"), Qt.KeyboardModifier.ControlModifier
        )
        assert pages.current_key == key
        assert pages.stack.currentWidget() is pages.page(key)
    assert pages.menu is not None
    titles = [a.text() for a in pages.menu.actions()]
    assert titles[:5] == ["Overview", "Portfolio", "Approvals", "Audit trail", "Violations"]
    menus = [a.text() for a in console.window.menuBar().actions()]
    assert menus.index("&Identity") < menus.index("&Go") < menus.index("&Help")
    assert "(Ctrl+3)" in pages.tabs.tabToolTip(2)

    # Another area adds its page with a badge; the count shows in its tab.
    count: list[int | None] = [None]
    extra = QLabel("extra")
    console.window.add_page("extra", "Extra", extra, badge=lambda: count[0], position=1)
    assert pages.keys()[1] == "extra"
    assert pages.tab_text("extra") == "Extra"
    count[0] = 3
    pages.refresh_badges()
    assert pages.tab_text("extra") == "Extra (3)"
    QTest.keyClick(console.window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert pages.current_key == "extra"
    with pytest.raises(ValueError, match="already exists"):
        console.window.add_page("extra", "Again", QLabel())
    assert badge_text("Violations", 0) == "Violations"
    assert badge_text("Violations", 1200) == "Violations (1,200)"


def test_without_an_identity_every_page_says_what_to_do(console: Console, qtbot: QtBot) -> None:
    console.window.pages.select("approvals")
    gov = console.governance
    assert gov.identity_label.text() == ENROLL
    assert gov.enroll_action.isEnabled()
    assert not gov.roles_action.isEnabled()
    assert gov.roles_action.toolTip() == f"{ENROLL} first."
    assert not gov.request_action.isEnabled()
    assert gov.request_action.toolTip() == "Select a model and one of its versions first."
    approvals = gov.approvals
    assert approvals.empty.title.text() == ENROLL
    assert [b.text() for b in approvals.empty.buttons] == ["Enroll…"]
    assert approvals.detail.empty.title.text() == "No request selected"
    violations = gov.violations
    assert violations.empty.title.text() == "No violations observed"
    audit = console.audit.page
    # The audit table reloads in a worker once governance data has loaded; a new
    # ledger holds only its ledger.created event.
    qtbot.waitUntil(lambda: audit.count_label.text() == "1 event")
    save_screenshot(console.window, "gov_empty_no_identity")


PASS = "ada-passphrase"


def _governed_ledger(ctx: AppContext) -> str:
    """A cached model, an admin-requester, one request, a comment, an alias violation."""
    seed_cache(ctx, "reg", 3)
    ctx.membership.init_identity("ada", "Ada Lovelace", ("ada.ml",), PASS)
    ctx.membership.grant("ada", Role.REQUESTER, PASS)
    request = ctx.governance.create_request(
        "reg",
        "model-0001",
        2,
        "champion",
        "Better recall.",
        {"rollback_plan": "back to v1"},
        passphrase=PASS,
    )
    ctx.governance.comment(request.request_id, "Validation report follows.", PASS)
    ctx.observer.observe("reg", {"model-0000": {"champion": 1}})  # the baseline
    ctx.observer.observe("reg", {"model-0000": {"champion": 2}})  # moved behind our back
    return request.request_id


def test_governance_models_pass_qtmodeltester(
    ctx: AppContext, qtbot: QtBot, request: pytest.FixtureRequest
) -> None:
    rid = _governed_ledger(ctx)
    data = load_governance(ctx.governance, ctx.observer, ctx.team_status, CancelToken())
    assert data.me is not None and data.is_admin
    assert [i.request.request_id for i in data.mine()] == [rid]
    # Ada is no approver: nothing waits for her, and the reason says why.
    assert data.waiting() == []
    assert "Only someone with the approver role" in data.items[0].reason

    inbox = InboxModel()
    inbox.set_items(filter_items(data, InboxFilter.ALL))
    ModelTester(request.config).check(inbox, force_py=True)
    assert inbox.rowCount() == 1
    assert inbox.data(inbox.index(0, 1)) == "model-0001 v2 → champion"
    assert inbox.data(inbox.index(0, 5)) == "0/1"
    assert inbox.data(inbox.index(0, 3), Qt.ItemDataRole.ToolTipRole) is None
    assert "Still needed: 1 more approval" in inbox.data(
        inbox.index(0, 4), Qt.ItemDataRole.ToolTipRole
    )

    # A stricter tier seen since the request (a sync, the cache) is the one shown: the
    # inbox never shows the milder tier whose policy no longer applies.
    item = data.items[0]
    stricter = replace(item, view=replace(item.view, tier="high"))
    assert item.request.risk_tier != "high"
    inbox.set_items([stricter])
    assert inbox.data(inbox.index(0, InboxColumn.RISK_TIER)) == "High"
    assert "high-risk policy applies" in inbox.data(
        inbox.index(0, InboxColumn.RISK_TIER), Qt.ItemDataRole.ToolTipRole
    )

    detail = load_request_detail(ctx.governance, rid)
    timeline = TimelineModel()
    timeline.set_events(detail.events)
    ModelTester(request.config).check(timeline, force_py=True)
    assert [timeline.data(timeline.index(r, 3)) for r in range(2)] == [
        "Promotion requested",
        "Comment",
    ]

    violations = ViolationsModel()
    violations.set_violations(data.violations)
    ModelTester(request.config).check(violations, force_py=True)
    assert violations.rowCount() == 1
    assert violations.data(violations.index(0, 3)) == "v1 → v2"

    history = load_alias_history(ctx.audit, "reg", "model-0000", (), None)
    assert history.aliases == ("champion",) and len(history.moves) == 2
    moves = AliasMovesModel()
    moves.set_moves(history.moves, frozenset(v.seq for v in data.violations))
    ModelTester(request.config).check(moves, force_py=True)
    assert moves.data(moves.index(0, 3)) == "Moved without an approved request"


def test_admin_sees_roles_and_a_request_without_a_decision_right(
    ctx: AppContext, qtbot: QtBot
) -> None:
    rid = _governed_ledger(ctx)
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    try:
        gov = console.governance
        qtbot.waitUntil(lambda: gov.data.loaded)
        assert gov.identity_label.text() == "Signed in as Ada Lovelace (ada) · admin, requester"
        assert gov.roles_action.isEnabled()
        assert console.window.pages.tab_text("violations") == "Violations (1)"
        assert console.window.pages.tab_text("approvals") == "Approvals"  # nothing waits for Ada

        page = gov.approvals
        console.window.pages.select("approvals")
        assert page.empty.title.text() == "No requests waiting for you"
        assert "do not have the approver role" in page.empty.text.text()
        page.set_filter(InboxFilter.MINE)
        assert page.filters.tabText(1) == "Requested by me (1)"
        assert page.select_request(rid)
        qtbot.waitUntil(lambda: page.detail.request_id == rid)
        assert not page.detail.approve_button.isEnabled()
        reason = page.detail.approve_button.toolTip()
        assert reason.startswith("Only someone with the approver role can approve")
        assert page.detail.reasons.isVisible() and reason in page.detail.reasons.text()
        assert page.detail.comment_button.isEnabled()
        assert page.detail.status_line.text() == (
            "Still needed: 1 more approval from an approver; checklist item 'validation "
            "report' missing."
        )
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
