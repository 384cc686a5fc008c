"""The shell and its seams, without a registry server: menus and toolbar as features
register them, Help → Keyboard shortcuts read from the actions, and the model
detail's tabs (built when first shown, loaded only while shown)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.registry import RegistryConfig
from app.ui.console import Console, build_console
from app.ui.shell.shortcuts_dialog import ShortcutsDialog
from tests.ui_helpers import make_context, no_leaks, save_screenshot, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    context.registries.add(RegistryConfig(name="prod", url="http://prod.invalid"))
    seed_cache(context, "prod", 6, prefix="credit")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    built = build_console(ctx)
    built.window.resize(1360, 860)
    built.window.show()
    qtbot.waitExposed(built.window)
    try:
        yield built
    finally:
        built.window.close()
        built.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _texts(actions: list[QAction]) -> list[str]:
    return [a.text() or "---" for a in actions]


def test_features_fill_menus_and_toolbar_in_order(console: Console) -> None:
    window = console.window
    bar = [a.text() for a in window.menuBar().actions()]
    assert bar == ["&File", "&Registry", "&View", "&Identity", "&Go", "&Help"]
    menus = {m.title(): _texts(m.actions()) for m in window.menus.menus()}
    # The shell's Quit stays last, whatever a feature adds; sections are separated.
    assert menus["&File"] == [
        "Add registry…",
        "Start demo registry",
        "---",
        "Export audit bundle…",
        "Open audit bundle…",
        "---",
        "Export overview as CSV…",
        "Export overview as PDF…",
        "Export portfolio as CSV…",
        "---",
        "Quit",
    ]
    assert menus["&Registry"] == ["Sync", "Cancel sync", "---", "Edit…", "Remove…"]
    assert menus["&Identity"] == [
        "Enroll…",
        "Roles…",
        "Pending keys…",
        "---",
        "Send decisions made offline",
    ]
    assert menus["&Help"] == ["Open log folder", "Keyboard shortcuts…", "About Gavel"]
    assert _texts(window.toolbar.actions()) == ["Sync", "Add registry…", "Request promotion…"]
    # The page order is the console's, whatever order the features installed in.
    assert window.pages.keys() == [
        "overview",
        "portfolio",
        "approvals",
        "audit",
        "violations",
        "endpoints",
        "findings",
        "delivery",
        "settings",
    ]

    # A late feature's menu goes before Go and Help; its action lands in a section.
    late = QAction("Late action", window)
    window.add_action("&Extra", late)
    assert [a.text() for a in window.menuBar().actions()][-3:] == ["&Extra", "&Go", "&Help"]


def test_keyboard_shortcuts_lists_every_window_shortcut(
    console: Console, qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    window = console.window
    dialog = window.shortcuts_dialog()
    rows = {(s.keys, s.action, s.where) for s in dialog.model._rows}
    native = QKeySequence.SequenceFormat.NativeText
    f5 = QKeySequence("F5").toString(native)
    assert (f5, "Sync", "Registry menu") in rows
    assert (QKeySequence("Ctrl+Q").toString(native), "Quit", "File menu") in rows
    assert (QKeySequence("Ctrl+1").toString(native), "Overview", "Go menu") in rows
    assert (QKeySequence("Ctrl+2").toString(native), "Portfolio", "Go menu") in rows
    assert (QKeySequence("Ctrl+6").toString(native), "Endpoints", "Go menu") in rows
    assert (QKeySequence("Ctrl+Shift+P").toString(native), "Request promotion…", "Toolbar") in rows
    # Nothing drifts: every action in the window that answers to a key is listed.
    listed = {action for _keys, action, _where in rows}
    wired = {
        a.text().replace("&", "")
        for a in window.findChildren(QAction)
        if a.shortcuts() and a.shortcutContext() != Qt.ShortcutContext.WidgetShortcut
    }
    assert wired <= listed
    assert len(rows) == len(dialog.model._rows)  # each action once
    qtmodeltester.check(dialog.model)
    dialog.show()
    qtbot.waitExposed(dialog)
    save_screenshot(dialog, "keyboard_shortcuts")
    dialog.close()  # and deleted: it is built afresh each time

    # Help → Keyboard shortcuts… opens it.
    window.shell_actions.shortcuts.trigger()
    [opened] = [d for d in window.findChildren(ShortcutsDialog) if d.isVisible()]
    opened.close()


class _CountingTab:
    """A detail tab that counts the versions it was asked to show."""

    def __init__(self) -> None:
        self.label = QLabel("counting")
        self.shown: list[tuple[str | None, int | None]] = []

    @property
    def widget(self) -> QWidget:
        return self.label

    def show_version(self, model: ModelDetail | None, version: VersionRow | None) -> None:
        self.shown.append((model.name if model else None, version.version if version else None))


def test_detail_tabs_build_when_first_shown_and_load_only_while_shown(
    console: Console, qtbot: QtBot
) -> None:
    portfolio = console.portfolio
    built: list[_CountingTab] = []

    def factory() -> _CountingTab:
        built.append(_CountingTab())
        return built[-1]

    portfolio.focus.add_detail_tab("counting", "Counting", factory, tooltip="A test tab")
    tabs = portfolio.detail_view.tabs
    assert tabs.keys() == ["run", "lineage", "metrics", "compare", "governance", "counting"]
    with pytest.raises(ValueError, match="already exists"):
        portfolio.focus.add_detail_tab("counting", "Again", factory)

    model = portfolio.portfolio_model
    assert portfolio.portfolio_view.select_key(model.key_at(3))
    qtbot.waitUntil(lambda: portfolio.focus.version is not None)
    assert built == []  # never shown, never built
    portfolio.focus.show_detail_tab("counting")
    [tab] = built
    assert tab.shown == [("credit-0003", 4)]

    # While shown it follows the version; hidden, it waits and catches up once.
    portfolio.detail_view.select_version(2)
    assert tab.shown[-1] == ("credit-0003", 2)
    tabs.select("run")
    assert portfolio.portfolio_view.select_key(model.key_at(1))
    portfolio.detail_view.select_version(1)
    count = len(tab.shown)
    portfolio.focus.show_detail_tab("counting")
    assert tab.shown[count:] == [("credit-0001", 1)]
    assert len(built) == 1
