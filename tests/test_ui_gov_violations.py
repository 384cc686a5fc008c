"""One officer's console on a real seeded MLflow (embedded ledger): enrolment from the
empty state, an alias moved directly in MLflow showing up as a violation after the
next sync (page, badge, portfolio marker, audit trail), and the alias history panel
answering "which version held the alias at time T"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QDateTime, QEvent, Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import MetricPoint
from app.ui.common.tasks import TaskRunner
from app.ui.console import Console, build_console
from app.ui.governance.identity_dialogs import SESSION_ONLY_WARNING, EnrollDialog
from app.ui.governance.violations_page import ViolationColumn
from app.ui.portfolio.portfolio_model import VIOLATION_TOOLTIP, Column
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.integration, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

TIMEOUT = 60_000


def _seed_model(registry: MlflowRegistry, name: str) -> None:
    with MlflowRegistryClient(registry.config(), None) as c:
        exp = c.create_experiment(f"{name}-exp")
        c.create_registered_model(
            name,
            description="Predicts which customers cancel within 90 days.",
            tags={"risk_tier": "low", "owner": "dana@example.com", "team": "retention"},
        )
        for v in (1, 2, 3):
            run = c.create_run(exp, f"{name}-{v}", user_id="dana.ml", start_time=1, tags={})
            c.log_batch(run, {"depth": str(v)}, [MetricPoint("auc", 0.7 + v / 100, 0, 1)], {})
            c.update_run(run, "FINISHED", 2)
            c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)
        c.set_registered_model_alias(name, "production", 1)


@pytest.fixture
def model(seeded_registry: MlflowRegistry) -> str:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    _seed_model(seeded_registry, name)
    return name


@pytest.fixture
def ctx(tmp_path: Path, seeded_registry: MlflowRegistry) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    context.registries.add(seeded_registry.config("reg"))
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
    qtbot.waitUntil(lambda: console.governance.data.loaded, timeout=TIMEOUT)
    try:
        yield console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _sync(console: Console, qtbot: QtBot) -> None:
    refreshes = console.governance.controller
    console.portfolio.sync_now()
    assert console.portfolio.syncer.syncing
    qtbot.waitUntil(lambda: console.portfolio.settled, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not refreshes.refreshing, timeout=TIMEOUT)


def _show_model(console: Console, ctx: AppContext, qtbot: QtBot, name: str) -> None:
    console.window.pages.select("portfolio")
    key = ctx.portfolio.find_model(name, "reg").model_key
    assert console.portfolio.portfolio_view.select_key(key)
    qtbot.waitUntil(lambda: console.portfolio.detail_view.detail is not None)


def _enroll(console: Console, qtbot: QtBot) -> None:
    gov = console.governance
    page = gov.approvals
    console.window.pages.select("approvals")
    assert page.list_stack.currentWidget() is page.empty
    assert page.empty.title.text() == "No identity yet — Identity → Enroll…"
    [enroll] = page.empty.buttons
    assert enroll.text() == "Enroll…"
    enroll.click()
    dialog = gov.dialog
    assert isinstance(dialog, EnrollDialog)
    qtbot.waitExposed(dialog)
    assert not dialog.warning.isVisible()  # the tests' keyring keeps secrets
    qtbot.keyClicks(dialog.user_id, "carol")
    qtbot.keyClicks(dialog.display_name, "Carol Compliance")
    qtbot.keyClicks(dialog.registry_names, "carol.ml, cc")
    qtbot.keyClicks(dialog.passphrase, "carol-passphrase")
    qtbot.keyClicks(dialog.repeat, "carol-passphrasE")
    assert not dialog.enroll_button.isEnabled()
    assert dialog.hint.text() == "The two passphrases differ."
    dialog.repeat.clear()
    qtbot.keyClicks(dialog.repeat, "carol-passphrase")
    assert dialog.enroll_button.isEnabled()
    dialog.enroll_button.click()
    qtbot.waitUntil(lambda: gov.dialog is None, timeout=TIMEOUT)
    qtbot.waitUntil(
        lambda: gov.identity_label.text() == "Signed in as Carol Compliance (carol) · admin",
        timeout=TIMEOUT,
    )
    assert not gov.enroll_action.isEnabled()
    assert "already belongs to Carol Compliance (carol)" in gov.enroll_action.toolTip()
    assert gov.roles_action.isEnabled()
    assert page.empty.title.text() == "No requests waiting for you"
    assert "approver role" in page.empty.text.text()


def test_alias_moved_in_mlflow_is_a_violation_with_its_history(
    console: Console, ctx: AppContext, qtbot: QtBot, seeded_registry: MlflowRegistry, model: str
) -> None:
    gov = console.governance
    # Nothing known yet: the identity hint and the empty violations page.
    assert gov.identity_label.text() == "No identity yet — Identity → Enroll…"
    console.window.pages.select("violations")
    assert gov.violations.stack.currentWidget() is gov.violations.empty
    assert gov.violations.empty.title.text() == "No violations observed"
    assert console.window.pages.tab_text("violations") == "Violations"

    _sync(console, qtbot)  # the first sync records the registry's aliases as the baseline
    _show_model(console, ctx, qtbot, model)
    panel = gov.panel
    assert not panel.request_button.isEnabled()
    assert panel.request_button.toolTip() == "No identity yet — Identity → Enroll… first."

    _enroll(console, qtbot)
    _show_model(console, ctx, qtbot, model)
    qtbot.waitUntil(panel.request_button.isEnabled, timeout=TIMEOUT)

    with MlflowRegistryClient(seeded_registry.config(), None) as client:
        client.set_registered_model_alias(model, "production", 3)
    _sync(console, qtbot)

    # The Violations page, its badge and the portfolio marker all show it.
    page = gov.violations
    console.window.pages.select("violations")
    qtbot.waitUntil(lambda: any(v.model == model for v in gov.data.violations), timeout=TIMEOUT)
    assert page.stack.currentWidget() is page.listing
    row = next(
        r
        for r in range(page.model.rowCount())
        if page.model.violation_at(r).model == model  # type: ignore[union-attr]
    )
    cells = [page.model.data(page.model.index(row, c)) for c in ViolationColumn]
    assert cells[: ViolationColumn.WHEN] == [model, "reg", "production", "v1 → v3"]
    assert cells[ViolationColumn.OBSERVED_BY] == "carol"
    count = len(gov.data.violations)
    assert console.window.pages.tab_text("violations") == f"Violations ({count})"
    page.table.selectRow(row)
    assert page.description.text() == (
        f"Alias 'production' of {model} (reg) moved from v1 to v3 without an approved "
        "promotion request."
    )
    save_screenshot(console.window, "gov_violations")

    pm = console.portfolio.portfolio_model
    key = ctx.portfolio.find_model(model, "reg").model_key
    prow = pm.row_of(key)
    assert prow is not None
    index = pm.index(prow, Column.MODEL)
    assert not pm.data(index, Qt.ItemDataRole.DecorationRole).isNull()
    assert VIOLATION_TOOLTIP in pm.data(index, Qt.ItemDataRole.ToolTipRole)

    # "Show in audit trail" selects the recorded event.
    violation = page.selected
    assert violation is not None
    page.show_event_button.click()
    assert console.window.pages.current_key == "audit"
    qtbot.waitUntil(lambda: console.audit.page.selected_seq == violation.seq, timeout=TIMEOUT)

    # "Show model" opens the model's governance tab: the baseline, then the unapproved move.
    console.window.pages.select("violations")
    page.show_model_button.click()
    assert console.window.pages.current_key == "portfolio"
    assert (
        console.portfolio.detail_view.detail is not None
        and console.portfolio.detail_view.detail.name == model
    )
    assert panel.isVisible()
    qtbot.waitUntil(
        lambda: (
            panel.history is not None
            and panel.history.model == model
            and len(panel.history.moves) == 2
        ),
        timeout=TIMEOUT,
    )
    assert panel.alias.currentText() == "production"
    moves = panel.moves_model
    assert [moves.data(moves.index(r, 2)) for r in range(2)] == ["v1 → v3", "nothing → v1"]
    assert moves.data(moves.index(0, 3)) == "Moved without an approved request"
    assert moves.data(moves.index(1, 3)) == "Seen at the first sync (baseline)"
    assert panel.flag.isVisible() and "1 alias move of this model" in panel.flag.text()
    first, second = panel.history.moves  # type: ignore[union-attr]
    between = first.at + timedelta(milliseconds=1)
    assert between < second.at
    panel.when.setDateTime(QDateTime.fromMSecsSinceEpoch(int(between.timestamp() * 1000) + 1))
    assert "alias 'production' pointed at v1" in panel.answer.text()
    panel.now_button.click()
    assert "alias 'production' pointed at v3" in panel.answer.text()
    assert f"since event {second.seq}" in panel.answer.text()
    panel.when.setDateTime(QDateTime.fromMSecsSinceEpoch(int(first.at.timestamp() * 1000) - 60_000))
    assert "knew nothing of 'production' yet" in panel.answer.text()
    panel.now_button.click()
    save_screenshot(console.window, "gov_alias_history")


def test_enroll_warns_when_the_key_would_be_session_only(ctx: AppContext, qtbot: QtBot) -> None:
    runner = TaskRunner()
    dialog = EnrollDialog(ctx.governance, runner, keyring_persistent=False)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    try:
        assert dialog.warning.isVisible()
        assert dialog.warning.text() == SESSION_ONLY_WARNING
        assert dialog.hint.text() == "Enter your user id."
        qtbot.keyClicks(dialog.user_id, "two words")
        assert dialog.hint.text() == "A user id has no spaces, e.g. a.lovelace."
    finally:
        runner.shutdown()
