"""The main window against a real MLflow registry: sync through the real worker,
filter, detail panel, offline banner, F5, cancel, settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.portfolio import PortfolioSort
from app.domain.registry import RegistryConfig
from app.services.demo_portfolio import DEMO_MODELS
from app.ui.console import Console, build_console
from app.ui.portfolio.portfolio_model import Column
from app.ui.portfolio.registry_sidebar import ALL_REGISTRIES
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import dead_url, make_context, no_leaks, save_screenshot, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

REGISTRY = "seeded"
SYNC_TIMEOUT_MS = 60_000
DEMO_NAMES = {m.name for m in DEMO_MODELS}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    # Shortcuts (F5, Ctrl+F) only reach the active window.
    console.window.activateWindow()
    qtbot.waitUntil(console.window.isActiveWindow)
    return console


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    console = _open(ctx, qtbot)
    try:
        yield console
    finally:
        _close(console)


@pytest.fixture
def synced(
    ctx: AppContext, console: Console, seeded_registry: MlflowRegistry, qtbot: QtBot
) -> Console:
    """The window after F5 synced the seeded registry through the real worker."""
    ctx.registries.add(seeded_registry.config(REGISTRY))
    console.portfolio.reload_registries()
    QTest.keyClick(console.window, Qt.Key.Key_F5)
    assert console.portfolio.syncer.syncing
    qtbot.waitUntil(lambda: console.portfolio.settled, timeout=SYNC_TIMEOUT_MS)
    return console


def unsynced_cfg(name: str) -> RegistryConfig:
    """A registry whose cache is filled by seed_cache (its URL is never called)."""
    return RegistryConfig(name=name, url=f"http://{name}.invalid")


def _names(console: Console) -> set[str]:
    model = console.portfolio.portfolio_model
    return {model.data(model.index(r, Column.MODEL)) for r in range(model.rowCount())}


def _select_model(console: Console, qtbot: QtBot, name: str) -> None:
    model = console.portfolio.portfolio_model
    row = next(r for r in range(model.rowCount()) if model.row_at(r).name == name)  # type: ignore[union-attr]
    table = console.portfolio.portfolio_view.table
    rect = table.visualRect(model.index(row, Column.MODEL))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_empty_profile_says_what_to_do(console: Console) -> None:
    view = console.portfolio.portfolio_view
    assert view.stack.currentWidget() is view.empty
    assert view.empty.title.text() == "No registries yet"
    assert [b.text() for b in view.empty.buttons] == ["Add a registry…", "Start the demo"]
    assert console.portfolio.status.connectivity.text() == "No registries"
    assert not console.portfolio.actions.sync.isEnabled()
    assert console.portfolio.actions.start_demo.isVisible()
    assert console.portfolio.detail_view.currentWidget() is console.portfolio.detail_view.empty


def test_window_closed_before_its_first_paint_starts_nothing_later(
    ctx: AppContext, qtbot: QtBot
) -> None:
    # Start-up work (endpoint polling, governance refresh) waits for the first paint,
    # or for a fallback timer. A window closed before either must not start it: a
    # poller started after shutdown would report into deleted widgets.
    console = build_console(ctx)
    qtbot.addWidget(console.window)
    console.start(start_demo=False)
    assert not console.window.first_paint.opened
    console.window.close()
    console.window.first_paint.open()  # what the fallback timer would do a moment later
    assert not console.serving.monitor.running


@pytest.mark.integration
def test_f5_sync_shows_the_registry_models(synced: Console, ctx: AppContext) -> None:
    console = synced
    assert _names(console) >= DEMO_NAMES
    view = console.portfolio.portfolio_view
    assert view.stack.currentWidget() is view.table
    assert view.count_label.text() == f"{console.portfolio.portfolio_model.rowCount()} models"
    sidebar = console.portfolio.sidebar
    assert sidebar.topLevelItem(0).text(0) == ALL_REGISTRIES  # type: ignore[union-attr]
    seeded_item = sidebar.topLevelItem(1)
    assert seeded_item is not None
    assert seeded_item.text(0) == f"{REGISTRY}\nonline\nsynced just now"
    assert int(seeded_item.text(1)) == console.portfolio.portfolio_model.rowCount()
    assert console.portfolio.status.connectivity.text() == "Online"
    assert console.portfolio.status.synced.text() == "Synced just now"
    assert console.portfolio.failure_banner.isHidden()
    assert console.portfolio.demo_banner.isHidden()  # a plain registry, not the demo
    assert "Synced seeded" in console.window.statusBar().currentMessage()


@pytest.mark.integration
def test_filter_box_filters_and_ctrl_f_focuses_it(synced: Console, qtbot: QtBot) -> None:
    console = synced
    search = console.portfolio.portfolio_view.search
    assert search.placeholderText() == "Filter by name, owner, team or risk tier"
    console.window.activateWindow()
    QTest.keyClick(console.window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(search.hasFocus)
    qtbot.keyClicks(search, "credit")
    expected = {m.name for m in DEMO_MODELS if "credit" in f"{m.name} {m.owner} {m.team}".lower()}
    qtbot.waitUntil(lambda: _names(console) == expected)

    search.clear()
    qtbot.keyClicks(search, "no-such-model")
    view = console.portfolio.portfolio_view
    qtbot.waitUntil(lambda: view.stack.currentWidget() is view.empty)
    assert view.empty.title.text() == "No models match “no-such-model”"
    view.empty.buttons[0].click()  # Clear filter
    qtbot.waitUntil(lambda: _names(console) >= DEMO_NAMES)


@pytest.mark.integration
def test_selecting_a_model_and_version_fills_the_detail_panel(
    synced: Console, ctx: AppContext, qtbot: QtBot
) -> None:
    console = synced
    demo = next(m for m in DEMO_MODELS if m.name == "credit-default-scorer")
    save_screenshot(console.window, "main_window_synced")
    _select_model(console, qtbot, demo.name)
    detail = console.portfolio.detail_view
    qtbot.waitUntil(lambda: detail.currentWidget() is detail.splitter)
    assert detail.title.text() == demo.name
    assert demo.owner in detail.subtitle.text()
    assert detail.description.text() == demo.description
    assert detail.versions_model.rowCount() == demo.versions
    assert detail.versions_title.text() == f"Versions ({demo.versions})"
    assert dict(demo.aliases) == {"production": 4, "champion": 4, "challenger": 5}
    assert detail.aliases.text() == "Aliases: challenger → v5 · champion, production → v4"

    # The newest version is selected first; pick the champion instead.
    champion = dict(demo.aliases)["champion"]
    row = detail.versions_model.row_of_version(champion)
    assert row is not None
    rect = detail.versions.visualRect(detail.versions_model.index(row, 0))
    qtbot.mouseClick(detail.versions.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    version = detail.selected_version
    assert version is not None and version.version == champion
    run = ctx.portfolio.run_detail(REGISTRY, version.run_id)
    assert run is not None
    panel = detail.run_panel
    assert panel.showing_run
    assert panel.metrics.rowCount() == len(run.metrics) > 0
    assert panel.params.rowCount() == len(run.params) > 0
    assert panel.datasets.rowCount() == len(run.datasets) > 0
    names = [panel.params.item(r, 0) for r in range(panel.params.rowCount())]
    assert {item.text() for item in names if item is not None} == set(run.params)
    assert panel.tabs.tabText(2) == f"Datasets ({len(run.datasets)})"
    save_screenshot(console.window, "detail_version_selected")


@pytest.mark.integration
def test_unreachable_registry_shows_offline_banner_and_keeps_cached_rows(
    synced: Console, ctx: AppContext, qtbot: QtBot
) -> None:
    console = synced
    rows = console.portfolio.portfolio_model.rowCount()
    _select_model(console, qtbot, "mortgage-pd")
    cfg = ctx.registries.get(REGISTRY)
    ctx.registries.update(REGISTRY, replace(cfg, url=dead_url(), timeout_s=2.0))

    console.portfolio.actions.sync.trigger()
    qtbot.waitUntil(lambda: console.portfolio.settled, timeout=SYNC_TIMEOUT_MS)

    banner = console.portfolio.failure_banner
    assert banner.isVisible() and banner.kind == "offline"
    text = banner.label.text()
    assert text.startswith("Offline — showing cached data from ")
    assert "(just now)" in text and text.endswith("Press F5 to retry.")
    assert "127.0.0.1" in text  # the reason, as the connector put it
    assert console.portfolio.portfolio_model.rowCount() == rows
    assert (
        console.portfolio.portfolio_view.stack.currentWidget()
        is console.portfolio.portfolio_view.table
    )
    assert console.portfolio.detail_view.title.text() == "mortgage-pd"  # selection survived
    assert console.portfolio.status.connectivity.text() == "Offline"
    item = console.portfolio.sidebar.topLevelItem(1)
    assert item is not None and "Last sync failed" in item.toolTip(0)
    save_screenshot(console.window, "offline_banner")

    # F5 retries; once the registry is back the banner goes.
    ctx.registries.update(REGISTRY, cfg)
    QTest.keyClick(console.window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: console.portfolio.settled, timeout=SYNC_TIMEOUT_MS)
    assert console.portfolio.failure_banner.isHidden()
    assert console.portfolio.status.connectivity.text() == "Online"


@pytest.mark.integration
def test_cancel_stops_the_sync_and_keeps_the_cache(
    ctx: AppContext, console: Console, seeded_registry: MlflowRegistry, qtbot: QtBot
) -> None:
    ctx.registries.add(seeded_registry.config(REGISTRY))
    console.portfolio.reload_registries()
    QTest.keyClick(console.window, Qt.Key.Key_F5)
    assert console.portfolio.actions.cancel.isEnabled()
    assert not console.portfolio.actions.sync.isEnabled()
    QTest.keyClick(console.window, Qt.Key.Key_F5)  # a second F5 does not start another
    assert len(console.runner.running("sync")) == 1
    console.portfolio.actions.cancel.trigger()
    qtbot.waitUntil(lambda: console.portfolio.settled, timeout=SYNC_TIMEOUT_MS)
    assert console.window.statusBar().currentMessage() == (
        "Sync cancelled; the cache keeps its previous snapshot."
    )
    assert console.portfolio.portfolio_model.rowCount() == 0
    assert console.portfolio.failure_banner.isHidden()  # cancelling is not a failure
    [status] = ctx.registries.statuses()
    assert status.last_error == "" and status.last_synced_at is None
    assert console.portfolio.portfolio_view.empty.title.text() == "Nothing synced yet"


def test_remove_asks_first_then_drops_the_cached_models(
    ctx: AppContext, console: Console, qtbot: QtBot
) -> None:
    ctx.registries.add(unsynced_cfg("archive"))
    seed_cache(ctx, "archive", 12, prefix="old")
    console.portfolio.reload_registries()
    console.portfolio.sidebar.select_registry("archive")
    assert console.portfolio.portfolio_model.rowCount() == 12
    questions: list[str] = []

    def decline(_parent: object, title: str, text: str) -> bool:
        questions.append(text)
        return False

    console.portfolio.confirm = decline
    console.portfolio.actions.remove_registry.trigger()
    assert "delete its cached data" in questions[0] and "12 models" in questions[0]
    assert [c.name for c in ctx.registries.configs()] == ["archive"]

    console.portfolio.confirm = lambda *_: True
    console.portfolio.actions.remove_registry.trigger()
    assert ctx.registries.configs() == []
    assert console.portfolio.sidebar.selected_registry is None
    assert console.portfolio.portfolio_model.rowCount() == 0
    assert console.portfolio.portfolio_view.empty.title.text() == "No registries yet"


def test_window_state_is_restored_from_the_profile(ctx: AppContext, qtbot: QtBot) -> None:
    for name in ("alpha", "beta"):
        ctx.registries.add(unsynced_cfg(name))
        seed_cache(ctx, name, 5, prefix=name)
    first = _open(ctx, qtbot)
    try:
        first.portfolio.sidebar.select_registry("beta")
        first.portfolio.portfolio_view.table.sortByColumn(
            Column.VERSIONS, Qt.SortOrder.DescendingOrder
        )
        first.portfolio.content_splitter.setSizes([300, 500])
    finally:
        _close(first)
    assert (ctx.paths.config_dir / "console.ini").exists()

    second = _open(ctx, qtbot)
    try:
        assert second.portfolio.sidebar.selected_registry == "beta"
        assert second.portfolio.portfolio_model.registry == "beta"
        assert second.portfolio.portfolio_model.sort_key == (PortfolioSort.VERSION_COUNT, True)
        header = second.portfolio.portfolio_view.table.horizontalHeader()
        assert header.sortIndicatorSection() == Column.VERSIONS
        assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        assert {second.portfolio.portfolio_model.row_at(r).registry for r in range(5)} == {"beta"}  # type: ignore[union-attr]
    finally:
        _close(second)


def test_f5_syncs_only_the_selected_registry(
    ctx: AppContext, console: Console, qtbot: QtBot
) -> None:
    for name in ("alpha", "beta"):
        ctx.registries.add(RegistryConfig(name=name, url=dead_url(), timeout_s=2.0))
    console.portfolio.reload_registries()
    console.portfolio.sidebar.select_registry("beta")
    assert console.portfolio.actions.sync.text() == "Sync beta"
    QTest.keyClick(console.window, Qt.Key.Key_F5)
    [handle] = console.runner.running("sync")
    assert handle.label == "Syncing beta"
    qtbot.waitUntil(lambda: console.portfolio.settled, timeout=SYNC_TIMEOUT_MS)
    assert console.portfolio.syncer.checked == {"beta"}
    assert console.portfolio.failure_banner.isVisible()
    assert "there is no cached data yet" in console.portfolio.failure_banner.label.text()
    console.portfolio.sidebar.select_registry("alpha")
    assert console.portfolio.failure_banner.isHidden()  # alpha was not tried
