"""The Audit trail page: a lazy model over the ledger (qtmodeltester), filters in SQL,
Verify (intact, then tampered: the first bad event is named and selected), Export,
and the first paint over a million events."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.ledger import (
    ExportFormat,
    LedgerAction,
    LedgerDraft,
    canonical_body,
)
from app.domain.ledger_query import LedgerQuery, alias_payload, model_subject
from app.ui.audit.audit_model import LOADING_TEXT, AuditColumn, AuditTrailModel
from app.ui.audit.audit_page import AuditTrailPage
from app.ui.common.tasks import TaskRunner
from app.ui.console import Console, build_console
from tests.ui_helpers import make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

ACTORS = ("ada", "bob", "gavel-sync")
EVENTS = 450
# Event 1 of every ledger is its ledger.created event; _fill's events follow it.
TOTAL = EVENTS + 1


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


def _fill(ctx: AppContext, n: int = EVENTS) -> None:
    """n events: registry observations and alias moves by three actors about five models.

    Observations, because they carry no authority: a comment is signed and written
    through the governance services only."""
    for i in range(n):
        subject = model_subject("reg", f"model-{i % 5}")
        if i % 10 == 9:
            ctx.audit.record(
                "gavel-sync",
                LedgerAction.ALIAS_OBSERVED,
                subject,
                before=alias_payload("champion", i // 10),
                after={**alias_payload("champion", i // 10 + 1), "unapproved": True},
                reason="Sync saw alias 'champion' change with no approved promotion.",
            )
        else:
            ctx.audit.record(
                ACTORS[i % 2],
                LedgerAction.REGISTRY_CHANGE_OBSERVED,
                subject,
                reason=f"Review note {i}.",
            )


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    return console


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    _fill(ctx)
    console = _open(ctx, qtbot)
    try:
        yield console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _audit_page(console: Console, qtbot: QtBot) -> AuditTrailPage:
    assert console.window.pages.select("audit")
    page = console.audit.page
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() > 0)
    return page


def _wait_rows_loaded(qtbot: QtBot, model: AuditTrailModel, rows: range) -> None:
    def loaded() -> bool:
        for r in rows:
            model.data(model.index(r, AuditColumn.ACTOR))  # starts the fetch if needed
        return all(model.is_loaded(r) for r in rows)

    qtbot.waitUntil(loaded)


def _column(model: AuditTrailModel, column: AuditColumn) -> list[str]:
    return [model.data(model.index(r, column)) for r in range(model.rowCount())]


def test_model_passes_qtmodeltester_loaded_or_not(
    ctx: AppContext, qtbot: QtBot, qtmodeltester: ModelTester, request: pytest.FixtureRequest
) -> None:
    _fill(ctx)
    runner = TaskRunner()
    model = AuditTrailModel(ctx.audit, runner, block_size=100)
    try:
        model.reload()
        qtbot.waitUntil(lambda: not model.loading and model.rowCount() == TOTAL)
        # Rows not fetched yet: the seq is known, the rest is a placeholder.
        assert model.data(model.index(0, AuditColumn.SEQ)) == str(TOTAL)
        assert model.data(model.index(0, AuditColumn.ACTOR)) == LOADING_TEXT
        # The tester stays connected: every fetch, reset and sort below is checked too.
        qtmodeltester.check(model, force_py=True)
        _wait_rows_loaded(qtbot, model, range(TOTAL))
        ModelTester(request.config).check(model, force_py=True)
        assert model.data(model.index(TOTAL - 1, AuditColumn.SEQ)) == "1"
        assert model.data(model.index(0, AuditColumn.ACTION)) == "Alias change seen"
        assert "without an approved request" in model.data(model.index(0, AuditColumn.SUMMARY))

        model.set_query(LedgerQuery(actor="bob"))
        qtbot.waitUntil(lambda: not model.loading)
        bob = sum(1 for i in range(EVENTS) if i % 10 != 9 and i % 2 == 1)
        assert model.rowCount() == bob
        ModelTester(request.config).check(model, force_py=True)
        _wait_rows_loaded(qtbot, model, range(model.rowCount()))
        assert set(_column(model, AuditColumn.ACTOR)) == {"bob"}
        # Ledger order both ways: only the seq column sorts.
        model.sort(AuditColumn.SEQ, Qt.SortOrder.AscendingOrder)
        seqs = [model.seq_at(r) for r in range(model.rowCount())]
        assert seqs == sorted(seqs)
    finally:
        runner.shutdown()


def test_filters_run_in_sql_and_say_when_nothing_matches(console: Console, qtbot: QtBot) -> None:
    page = _audit_page(console, qtbot)
    model = page.model
    assert page.count_label.text() == f"{TOTAL} events"

    page.action.setCurrentIndex(page.action.findData(LedgerAction.ALIAS_OBSERVED.value))
    qtbot.waitUntil(lambda: model.query.actions == (LedgerAction.ALIAS_OBSERVED.value,))
    qtbot.waitUntil(lambda: not model.loading and model.rowCount() == EVENTS // 10)
    assert page.count_label.text() == f"{EVENTS // 10} events match the filters"

    page.clear_filters()
    page.filter_model("reg", "model-1")
    qtbot.waitUntil(lambda: not model.loading and model.rowCount() == EVENTS // 5)
    _wait_rows_loaded(qtbot, model, range(model.rowCount()))
    assert set(_column(model, AuditColumn.SUBJECT)) == {"model:reg/model-1"}

    page.actor.setCurrentText("ada")
    qtbot.waitUntil(lambda: model.query.actor == "ada" and not model.loading)
    _wait_rows_loaded(qtbot, model, range(model.rowCount()))
    assert set(_column(model, AuditColumn.ACTOR)) == {"ada"}
    assert model.rowCount() > 0

    # A time range entirely in the future: nothing matches, and the page says so.
    page.since.setDateTime(page.since.dateTime().addYears(5))
    page.since_on.setChecked(True)
    qtbot.waitUntil(lambda: model.query.since is not None and not model.loading)
    assert model.rowCount() == 0
    assert page.stack.currentWidget() is page.empty
    assert page.empty.title.text() == "No events match these filters"
    page.empty.buttons[0].click()
    qtbot.waitUntil(lambda: not model.loading and model.query == LedgerQuery())
    assert page.stack.currentWidget() is page.table


def test_verify_reports_an_intact_ledger_with_a_checkpoint_to_keep(
    console: Console, qtbot: QtBot, ctx: AppContext
) -> None:
    page = _audit_page(console, qtbot)
    assert not page.checks.progress.isVisible()
    qtbot.mouseClick(page.checks.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.checks.report is not None)
    report = page.checks.report
    assert report is not None and report.ok and report.head is not None
    assert page.checks.result.isVisible() and page.checks.result.kind == "success"
    text_ = page.checks.result.label.text()
    assert text_.startswith(f"Ledger intact: {report.events_checked:,} events")
    assert f"head checkpoint {report.head} — keep it for your next audit" in text_
    assert page.checks.copy_button.isVisible() and not page.checks.jump_button.isVisible()
    page.checks.copy_button.click()
    assert QApplication.clipboard().text() == str(report.head)
    _wait_rows_loaded(qtbot, page.model, range(30))
    save_screenshot(console.window, "gov_audit_verified")

    # The kept checkpoint proves, next time, that nothing before it was rewritten.
    page.checks.checkpoint.setText(str(report.head))
    page.checks.report = None
    page.checks.verify_button.click()
    qtbot.waitUntil(lambda: page.checks.report is not None)
    assert "still extends your checkpoint" in page.checks.result.label.text()

    page.checks.checkpoint.setText("yesterday's")
    page.checks.verify_button.click()
    assert page.checks.checkpoint_error.isVisible()
    assert "SEQ:HASH" in page.checks.checkpoint_error.text()


def _tamper(ctx: AppContext, seq: int, body: bytes) -> None:
    """What someone with the ledger file does: drop the guards and rewrite a row."""
    with closing(sqlite3.connect(ctx.paths.ledger_db)) as conn, conn:
        for name in (
            "ledger_events_no_update",
            "ledger_events_no_delete",
            "ledger_head_forward_only",
            "ledger_head_no_delete",
        ):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE ledger_events SET body = ? WHERE seq = ?", (body, seq))


def test_tampered_event_is_reported_and_selected(
    console: Console, qtbot: QtBot, ctx: AppContext
) -> None:
    page = _audit_page(console, qtbot)
    victim = ctx.audit.events([122])[0]  # an observation recorded by ada
    forged = canonical_body(
        seq=victim.seq,
        at=victim.at,
        draft=LedgerDraft(victim.actor, victim.action, victim.subject, reason="Nothing to see."),
        prev_hash=victim.prev_hash,
    )
    _tamper(ctx, victim.seq, forged)
    # A filter that hides the bad event: jumping must clear it.
    page.actor.setCurrentText("bob")
    qtbot.waitUntil(lambda: page.model.query.actor == "bob" and not page.model.loading)
    assert page.model.row_of_seq(122) is None

    page.checks.verify_button.click()
    qtbot.waitUntil(lambda: page.checks.report is not None)
    assert page.checks.report is not None and page.checks.report.problem is not None
    assert page.checks.report.problem.seq == 122
    assert page.checks.result.kind == "error"
    message = page.checks.result.label.text()
    assert message.startswith("Ledger NOT intact — first bad event 122: Event 122 was altered")
    assert "Events 1–121 verify" in message
    assert (
        page.checks.jump_button.isVisible()
        and page.checks.jump_button.text() == "Jump to event 122"
    )
    assert not page.checks.copy_button.isVisible()

    page.checks.jump_button.click()
    qtbot.waitUntil(lambda: page.selected_seq == 122)
    row = page.model.row_of_seq(122)
    assert row is not None
    bad = page.model.index(row, AuditColumn.SEQ)
    assert page.model.data(bad, Qt.ItemDataRole.BackgroundRole) is not None
    assert "Event 122 was altered" in page.model.data(bad, Qt.ItemDataRole.ToolTipRole)
    assert page.model.query == LedgerQuery()
    row = page.model.row_of_seq(122)
    assert row is not None
    _wait_rows_loaded(qtbot, page.model, range(max(0, row - 15), row + 15))
    assert page.model.data(page.model.index(row, AuditColumn.SUMMARY)).endswith("Nothing to see.")
    save_screenshot(console.window, "gov_audit_tampered")


def test_export_runs_in_a_worker_and_is_recorded(
    console: Console, qtbot: QtBot, ctx: AppContext, tmp_path: Path
) -> None:
    page = _audit_page(console, qtbot)
    before = page.model.rowCount()
    target = tmp_path / "ledger.jsonl"
    page.checks.choose_export = lambda _parent: (target, ExportFormat.JSONL)
    page.checks.export_button.click()
    qtbot.waitUntil(lambda: page.checks.result.isVisible())
    assert page.checks.result.kind == "success", page.checks.result.label.text()
    assert target.exists()
    lines = target.read_bytes().splitlines()
    assert len(lines) == before
    assert json.loads(lines[0])["body"]["seq"] == 1
    assert f"Exported {before:,} events to {target}" in page.checks.result.label.text()
    # The export.made event appears at the top once the model re-reads the ledger.
    qtbot.waitUntil(lambda: page.model.rowCount() == before + 1)
    _wait_rows_loaded(qtbot, page.model, range(1))
    assert page.model.data(page.model.index(0, AuditColumn.ACTION)) == "Ledger exported"

    # A cancelled file dialog does nothing.
    page.checks.choose_export = lambda _parent: None
    page.checks.export_button.click()
    assert not page.checks.progress.isVisible()


@pytest.mark.slow
def test_a_million_events_load_lazily_and_verify_cancels(
    ctx: AppContext, qtbot: QtBot, tmp_path: Path
) -> None:
    from bench.ledger_data import stream_ledger

    store = ctx.audit.store
    head = store.head()
    assert head is not None and head.seq == 1
    assert store.import_events(stream_ledger(1_000_000 - 1, start=head), head) == 999_999
    console = _open(ctx, qtbot)
    try:
        page = console.audit.page
        # How fast is measured in bench/bench_audit_view.py; this checks it stays lazy.
        console.window.pages.select("audit")
        page.model.reload()
        qtbot.waitUntil(lambda: page.model.rowCount() == 1_000_000, timeout=5000)
        qtbot.waitUntil(lambda: page.model.is_loaded(0), timeout=5000)
        assert page.model.data(page.model.index(0, AuditColumn.SEQ)) == "1000000"
        # Only the blocks around what is on screen were read.
        assert page.model.blocks_fetched <= 2
        page.table.scrollToBottom()
        qtbot.waitUntil(lambda: page.model.is_loaded(1_000_000 - 1), timeout=5000)
        assert page.model.data(page.model.index(999_999, AuditColumn.SEQ)) == "1"

        # Verifying a million events shows progress and can be cancelled.
        messages: list[str] = []
        page.message.connect(messages.append)
        page.checks.verify_button.click()
        assert page.checks.cancel_button.isVisible() and not page.checks.verify_button.isEnabled()
        qtbot.waitUntil(lambda: "of 1,000,000" in page.checks.progress_label.text(), timeout=10_000)
        page.checks.cancel_button.click()
        qtbot.waitUntil(lambda: not page.checks.cancel_button.isVisible(), timeout=10_000)
        assert messages[-1] == "Verification was cancelled; nothing was changed."
        assert page.checks.report is None and page.checks.verify_button.isEnabled()
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
