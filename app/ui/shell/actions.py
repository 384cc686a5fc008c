"""The main window's actions, menus and toolbar, declared in one place."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from app.ui.common.resources import icon


@dataclass
class ConsoleActions:
    add_registry: QAction
    start_demo: QAction
    quit: QAction
    sync: QAction
    cancel: QAction
    edit_registry: QAction
    remove_registry: QAction
    show_sidebar: QAction
    show_detail: QAction
    about: QAction
    open_logs: QAction


def _action(
    window: QMainWindow,
    text: str,
    icon_name: str | None = None,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, window)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    return action


def build_actions(window: QMainWindow) -> ConsoleActions:
    show_sidebar = _action(window, "Registries list")
    show_sidebar.setCheckable(True)
    show_sidebar.setChecked(True)
    show_detail = _action(window, "Model details")
    show_detail.setCheckable(True)
    show_detail.setChecked(True)
    return ConsoleActions(
        add_registry=_action(
            window, "Add registry…", "add", "Ctrl+Shift+N", "Connect Gavel to an MLflow registry"
        ),
        start_demo=_action(
            window,
            "Start demo registry",
            "demo",
            tip="Start a local MLflow server with sample models to explore Gavel",
        ),
        quit=_action(window, "Quit", None, "Ctrl+Q"),
        sync=_action(
            window, "Sync", "sync", "F5", "Fetch the latest models and versions from the registry"
        ),
        cancel=_action(window, "Cancel sync", "cancel", tip="Stop the running sync"),
        edit_registry=_action(window, "Edit…", "edit", tip="Change the registry's settings"),
        remove_registry=_action(
            window, "Remove…", "remove", tip="Forget the registry and delete its cached data"
        ),
        show_sidebar=show_sidebar,
        show_detail=show_detail,
        about=_action(window, "About Gavel", "info"),
        open_logs=_action(window, "Open log folder", "folder", tip="Show Gavel's log files"),
    )


def build_menus(window: QMainWindow, a: ConsoleActions, extra_view: list[QAction]) -> QToolBar:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(a.add_registry)
    file_menu.addAction(a.start_demo)
    file_menu.addSeparator()
    file_menu.addAction(a.quit)

    registry_menu = bar.addMenu("&Registry")
    registry_menu.addAction(a.sync)
    registry_menu.addAction(a.cancel)
    registry_menu.addSeparator()
    registry_menu.addAction(a.edit_registry)
    registry_menu.addAction(a.remove_registry)

    view_menu = bar.addMenu("&View")
    view_menu.addAction(a.show_sidebar)
    view_menu.addAction(a.show_detail)
    view_menu.addSeparator()
    for action in extra_view:
        view_menu.addAction(action)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a.open_logs)
    help_menu.addAction(a.about)

    toolbar = QToolBar("Main")
    toolbar.setObjectName("MainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.addAction(a.sync)
    toolbar.addAction(a.add_registry)
    window.addToolBar(toolbar)
    return toolbar
