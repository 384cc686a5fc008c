"""The window's menus, filled by title: the shell keeps their order and separators.

Features name the menu they add to ('&Registry'); a new menu goes before the
shell's trailing menus (Go, Help). Inside a menu, actions of one section sit
together with a separator between sections, and the shell's own entries (Quit)
stay at the end whatever a feature adds later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMenuBar


@dataclass
class _Section:
    name: str
    last: bool
    actions: list[QAction] = field(default_factory=list)


class Menus:
    def __init__(self, bar: QMenuBar) -> None:
        self._bar = bar
        self._menus: dict[str, QMenu] = {}
        self._sections: dict[str, list[_Section]] = {}
        self._trailing: list[QMenu] = []

    def menu(self, title: str) -> QMenu:
        """The menu titled `title`, created (before the trailing menus) when new."""
        found = self._menus.get(title)
        if found is not None:
            return found
        menu = QMenu(title, self._bar)
        menu.setToolTipsVisible(True)  # a disabled entry's tooltip says why
        if self._trailing:
            self._bar.insertMenu(self._trailing[0].menuAction(), menu)
        else:
            self._bar.addMenu(menu)
        self._menus[title] = menu
        self._sections[title] = []
        return menu

    def trailing_menu(self, title: str) -> QMenu:
        """A shell menu that stays at the end of the bar (Go, then Help)."""
        menu = QMenu(title, self._bar)
        menu.setToolTipsVisible(True)
        self._bar.addMenu(menu)
        self._menus[title] = menu
        self._sections[title] = []
        self._trailing.append(menu)
        return menu

    def add(self, title: str, action: QAction, section: str = "", *, last: bool = False) -> None:
        """Add `action` to a section of the menu; last: a section kept at the end."""
        self.menu(title)
        sections = self._sections[title]
        found = next((s for s in sections if s.name == section and s.last == last), None)
        if found is None:
            found = _Section(section, last)
            sections.append(found)
        found.actions.append(action)
        self._rebuild(title)

    def menus(self) -> list[QMenu]:
        """The menus in the order the bar shows them."""
        by_action = {m.menuAction(): m for m in self._menus.values()}
        return [by_action[a] for a in self._bar.actions() if a in by_action]

    def _rebuild(self, title: str) -> None:
        menu = self._menus[title]
        if not self._sections[title]:
            return  # a menu someone else fills (Go)
        menu.clear()
        ordered = [s for s in self._sections[title] if not s.last]
        ordered += [s for s in self._sections[title] if s.last]
        for index, section in enumerate(ordered):
            if index:
                menu.addSeparator()
            for action in section.actions:
                menu.addAction(action)
