"""Help → Keyboard shortcuts: every shortcut the window answers to.

The list is read from the window's actions each time the dialog opens (its menus in
the order the bar shows them, then the toolbar, then actions that live only on the
window), so it cannot drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenu, QVBoxLayout, QWidget

from app.ui.common.row_list_model import AnyIndex, RowListModel
from app.ui.common.widgets import muted_label, row_table


@dataclass(frozen=True)
class Shortcut:
    keys: str  # as the platform writes them: "Ctrl+Shift+P"
    action: str  # "Request promotion…"
    where: str  # "Registry menu", "Toolbar", "Window"


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def collect_shortcuts(
    menus: Sequence[QMenu], toolbar: Sequence[QAction], window: Sequence[QAction]
) -> list[Shortcut]:
    """Each action with a shortcut once, where a person finds it first."""
    seen: set[QAction] = set()
    found: list[Shortcut] = []

    def take(actions: Sequence[QAction], where: str) -> None:
        for action in actions:
            if action in seen or action.isSeparator():
                continue
            seen.add(action)
            native = QKeySequence.SequenceFormat.NativeText
            keys = [text for k in action.shortcuts() if (text := k.toString(native))]
            if keys:
                found.append(Shortcut(", ".join(keys), _plain(action.text()), where))

    for menu in menus:
        take(menu.actions(), f"{_plain(menu.title())} menu")
    take(toolbar, "Toolbar")
    take(window, "Window")
    return found


class ShortcutsModel(RowListModel[Shortcut]):
    def __init__(self, shortcuts: Sequence[Shortcut], parent: Any = None) -> None:
        super().__init__(("Shortcut", "Action", "Where"), parent)
        self._reset(shortcuts)

    def shortcut_at(self, row: int) -> Shortcut | None:
        return self._row(row)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        shortcut = self.shortcut_at(index.row()) if index.isValid() else None
        if shortcut is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        return (shortcut.keys, shortcut.action, shortcut.where)[index.column()]


class ShortcutsDialog(QDialog):
    def __init__(self, shortcuts: Sequence[Shortcut], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("ShortcutsDialog")
        self.model = ShortcutsModel(shortcuts, self)
        self.table = row_table(
            self.model, "ShortcutsTable", widths=((0, 140), (1, 240)), row_height=24
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(muted_label("Every shortcut works anywhere in the console window."))
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(560, 460)
