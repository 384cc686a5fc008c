"""The Overview page: the console's first page, read on a worker; every figure opens
the list behind it (portfolio filtered, approvals, violations, endpoints); the
portfolio's Team column and filter; screenshots in a light and a dark palette."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.endpoints import EndpointConfig, EndpointKind
from app.domain.governance import Role
from app.stores.engine import sqlite_url
from app.ui.console import Console, build_console
from app.ui.overview.overview_ui import OVERVIEW_PAGE
from app.ui.portfolio.portfolio_model import Column
from tests.fixtures.desks import DeskFactory, enrol
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_governance_e2e import CHECKLIST
from tests.test_trust_attacks import _seed
from tests.test_ui_looks import dark_palette, snap
from tests.ui_helpers import SCREENSHOTS, dead_url, make_context, seed_cache

pytestmark = pytest.mark.gui


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1400, 900)
    console.window.show()
    qtbot.waitExposed(console.window)
    qtbot.waitUntil(lambda: console.overview.overview is not None and console.overview.settled)
    return console


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def shared_ledger_url(tmp_path: Path) -> Iterator[str]:
    yield sqlite_url(tmp_path / "team-ledger.sqlite3")


def _shown_models(console: Console) -> set[tuple[str, str]]:
    model = console.portfolio.portfolio_model
    rows = [model.row_at(r) for r in range(model.rowCount())]
    return {(r.registry, r.name) for r in rows if r is not None}


@pytest.mark.integration
def test_every_figure_opens_the_list_behind_it(
    desks: DeskFactory, seeded_registry: MlflowRegistry, qtbot: QtBot
) -> None:
    model = f"ovui-{uuid.uuid4().hex[:8]}"
    _seed(seeded_registry, model, tier="high")
    ada, carl = desks("ada"), desks("carl")
    enrol(ada, ada, Role.REQUESTER, Role.APPROVER)
    enrol(ada, carl, names=("carl.ml",))  # who trains the models: mapped, no role
    ctx = ada.ctx
    ctx.registries.add(seeded_registry.config("reg"))
    ctx.sync.sync("reg")
    rid = ctx.governance.create_request(
        "reg", model, 2, "production", "Better recall.", CHECKLIST, passphrase=ada.passphrase
    ).request_id
    # Someone moves the alias in the registry, behind governance's back.
    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        c.set_registered_model_alias(model, "production", 3)
    ctx.sync.sync("reg")
    ctx.endpoints.add(
        EndpointConfig("ep-down", EndpointKind.OIP, dead_url(), "reg", model, "production")
    )
    ctx.endpoints.probe("ep-down")

    console = _open(ctx, qtbot)
    try:
        window, page = console.window, console.overview.page
        assert window.pages.current_key == OVERVIEW_PAGE  # the first page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(SCREENSHOTS / "overview-live.png"))
        o = console.overview.overview
        assert o is not None
        # Every figure with models behind it lists exactly those in the portfolio.
        for key in ("tier.high", "production.alias", "hygiene.team", "reviews.overdue"):
            figure = o.figure(key)
            window.select_page(OVERVIEW_PAGE)
            qtbot.mouseClick(page.buttons[key], Qt.MouseButton.LeftButton)
            assert window.pages.current_key == "portfolio"
            assert console.portfolio.portfolio_view.scope_bar.isVisibleTo(window)
            assert _shown_models(console) == set(figure.drill.models), key
            assert figure.drill.title in console.portfolio.portfolio_view.scope_label.text()
        assert ("reg", model) in _shown_models(console) or o.figure("reviews.overdue").value == 0
        qtbot.mouseClick(console.portfolio.portfolio_view.scope_clear, Qt.MouseButton.LeftButton)
        assert len(_shown_models(console)) == o.models

        # The request waits for approval: its figure opens the Approvals page on it.
        assert o.figure("requests.pending").value >= 1
        window.select_page(OVERVIEW_PAGE)
        qtbot.waitUntil(lambda: console.overview.settled)
        qtbot.mouseClick(page.buttons["requests.pending"], Qt.MouseButton.LeftButton)
        assert window.pages.current_key == "approvals"
        qtbot.waitUntil(lambda: console.governance.approvals.selected_request_id is not None)
        assert console.governance.approvals.selected_request_id in (
            console.overview.overview.figure("requests.pending").drill.requests  # type: ignore[union-attr]
        )
        assert rid in console.overview.overview.figure("requests.pending").drill.requests  # type: ignore[union-attr]

        window.select_page(OVERVIEW_PAGE)
        qtbot.waitUntil(lambda: console.overview.settled)
        o = console.overview.overview
        assert o is not None and ("reg", model) in o.figure("violations.open").drill.models
        qtbot.mouseClick(page.buttons["violations.open"], Qt.MouseButton.LeftButton)
        assert window.pages.current_key == "violations"

        window.select_page(OVERVIEW_PAGE)
        qtbot.waitUntil(lambda: console.overview.settled)
        assert console.overview.overview.figure("endpoints.down").drill.endpoints == ("ep-down",)  # type: ignore[union-attr]
        qtbot.mouseClick(page.buttons["endpoints.down"], Qt.MouseButton.LeftButton)
        assert window.pages.current_key == "endpoints"
        assert console.serving.page.selected_name == "ep-down"

        # A team row opens that team's models.
        window.select_page(OVERVIEW_PAGE)
        qtbot.waitUntil(lambda: console.overview.settled)
        team_row = console.overview.overview.teams[0]  # type: ignore[union-attr]
        page.teams.cellClicked.emit(0, 0)
        assert _shown_models(console) == set(team_row.drill.models)

        # The model's Governance tab: when v3 (moved into production) is due, and a
        # signed review recorded from there.
        assert console.portfolio.focus.show_model("reg", model)
        panel = console.governance.panel
        qtbot.waitUntil(lambda: "v3" in panel.review_line.text())
        assert "never reviewed" in panel.review_line.text()
        assert "every 90 days" in panel.review_line.text()
        qtbot.waitUntil(panel.review_button.isEnabled)
        qtbot.mouseClick(panel.review_button, Qt.MouseButton.LeftButton)
        dialog = console.governance.reviews.dialog
        assert dialog is not None and "still fit for purpose" in dialog.what.text()
        assert not dialog.sign_button.isEnabled()  # nothing said yet
        dialog.reason.setPlainText("Drift checked on the Q3 holdout; no change needed.")
        dialog.passphrase.edit.setText(ada.passphrase)
        with qtbot.waitSignal(console.overview.loaded, timeout=20_000):
            qtbot.mouseClick(dialog.sign_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "last reviewed" in panel.review_line.text())
        assert "by ada" in panel.review_line.text()
        (review,) = ctx.reviews.reviews()[("reg", model, 3)]
        assert review.reviewer == "ada" and review.comment.startswith("Drift checked")
        console.portfolio.focus.show_detail_tab("governance")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        console.window.grab().save(str(SCREENSHOTS / "model-review.png"))
    finally:
        _close(console)


def test_team_column_and_filter(tmp_path: Path, qtbot: QtBot) -> None:
    ctx = make_context(tmp_path / "home")
    seed_cache(ctx, "fleet", 40)
    console = _open(ctx, qtbot)
    try:
        view, model = console.portfolio.portfolio_view, console.portfolio.portfolio_model
        console.window.select_page("portfolio")
        teams = [view.team_box.itemText(i) for i in range(view.team_box.count())]
        assert teams == ["All teams", "credit-risk", "fraud", "marketing", "operations"]
        view.team_box.setCurrentIndex(teams.index("fraud"))
        assert model.rowCount() == 10  # every 4th of 40 sample models
        cells = {model.data(model.index(r, Column.TEAM)) for r in range(model.rowCount())}
        assert cells == {"fraud"}
        view.team_box.setCurrentIndex(0)
        assert model.rowCount() == 40
        # The overview counts the same: no team tag is missing, tiers as seeded.
        o = console.overview.overview
        assert o is not None
        assert (o.figure("hygiene.team").value, o.figure("tier.none").value) == (0, 10)

        # File → Export portfolio as CSV…: written on a worker, said in the status bar.
        target = tmp_path / "portfolio.csv"
        console.overview.choose_path = lambda *_: target
        with qtbot.waitSignal(console.overview.exported, timeout=10_000):
            console.overview.export_portfolio_action.trigger()
        lines = target.read_text(encoding="utf-8-sig").splitlines()
        assert len(lines) == 41 and lines[0].startswith("registry,model,team")
        target = tmp_path / "overview.csv"
        with qtbot.waitSignal(console.overview.exported, timeout=10_000):
            console.overview.export_overview_action.trigger()
        assert "No risk tier (counts as high),10" in target.read_text(encoding="utf-8-sig")
        # File → Export overview as PDF…: one page for a management meeting.
        target = tmp_path / "overview.pdf"
        with qtbot.waitSignal(console.overview.exported, timeout=10_000):
            console.overview.export_pdf_action.trigger()
        pdf = target.read_bytes()
        assert pdf.startswith(b"%PDF")
        assert b"/Count 1" in pdf  # one page
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "overview.pdf").write_bytes(pdf)
    finally:
        _close(console)
        ctx.close()


def test_an_empty_profile_says_what_to_do(tmp_path: Path, qtbot: QtBot) -> None:
    ctx = make_context(tmp_path / "home")
    console = _open(ctx, qtbot)
    try:
        page = console.overview.page
        assert page.stack.currentWidget() is page.empty
        assert "No model in the cache yet" in page.empty.title.text()
        assert [b.text() for b in page.empty.buttons] == ["Add a registry…", "Start the demo"]
    finally:
        _close(console)
        ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_overview_screenshots(tmp_path: Path, qtbot: QtBot, scheme: str, qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    original = QApplication.palette()
    if scheme == "dark":
        QApplication.setPalette(dark_palette())
    ctx = make_context(tmp_path / "home")
    seed_cache(ctx, "fleet", 40)
    # One alias moved behind governance's back, seen by two syncs.
    ctx.observer.observe("fleet", {"model-0000": {"production": 1}})
    ctx.observer.observe(
        "fleet", {"model-0000": {"production": 1}, "model-0003": {"production": 2}}
    )
    console = _open(ctx, qtbot)
    try:
        o = console.overview.overview
        assert o is not None and o.figure("violations.open").value == 1
        assert console.overview.page.buttons["violations.open"].property("alarm") == "true"
        path = snap(console.window, tmp_path, f"overview-{scheme}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path.replace(SCREENSHOTS / path.name)
    finally:
        _close(console)
        ctx.close()
        QApplication.setPalette(original)
