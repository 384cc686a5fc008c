"""The portfolio's actions: registries (add, sync, edit, remove, the demo) and what the
page shows, registered with the shell's menus and toolbar."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from app.ui.common.host import Host
from app.ui.common.widgets import make_action

FILE_MENU, REGISTRY_MENU, VIEW_MENU = "&File", "&Registry", "&View"


@dataclass
class RegistryActions:
    add_registry: QAction
    start_demo: QAction
    sync: QAction
    cancel: QAction
    edit_registry: QAction
    remove_registry: QAction
    show_sidebar: QAction
    show_detail: QAction


def build_actions(parent: QObject) -> RegistryActions:
    show_sidebar = make_action(parent, "Registries list")
    show_sidebar.setCheckable(True)
    show_sidebar.setChecked(True)
    show_detail = make_action(parent, "Model details")
    show_detail.setCheckable(True)
    show_detail.setChecked(True)
    return RegistryActions(
        add_registry=make_action(
            parent, "Add registry…", "add", "Ctrl+Shift+N", "Connect Gavel to an MLflow registry"
        ),
        start_demo=make_action(
            parent,
            "Start demo registry",
            "demo",
            tip="Start a local MLflow server with sample models to explore Gavel",
        ),
        sync=make_action(
            parent, "Sync", "sync", "F5", "Fetch the latest models and versions from the registry"
        ),
        cancel=make_action(parent, "Cancel sync", "cancel", tip="Stop the running sync"),
        edit_registry=make_action(parent, "Edit…", "edit", tip="Change the registry's settings"),
        remove_registry=make_action(
            parent, "Remove…", "remove", tip="Forget the registry and delete its cached data"
        ),
        show_sidebar=show_sidebar,
        show_detail=show_detail,
    )


def register_actions(host: Host, a: RegistryActions, focus_filter: QAction) -> None:
    host.add_action(FILE_MENU, a.add_registry, section="registries")
    host.add_action(FILE_MENU, a.start_demo, section="registries")
    host.add_action(REGISTRY_MENU, a.sync, section="sync")
    host.add_action(REGISTRY_MENU, a.cancel, section="sync")
    host.add_action(REGISTRY_MENU, a.edit_registry, section="settings")
    host.add_action(REGISTRY_MENU, a.remove_registry, section="settings")
    host.add_action(VIEW_MENU, a.show_sidebar, section="panes")
    host.add_action(VIEW_MENU, a.show_detail, section="panes")
    host.add_action(VIEW_MENU, focus_filter, section="filter")
    host.add_toolbar_action(a.sync)
    host.add_toolbar_action(a.add_registry)
