"""Pages of the main window: a tab bar with counts over a stack of page widgets.

Features add their pages through the shell's host (`add_page`): the portfolio
first, then governance, the audit trail, endpoints. A page's badge is a cheap
callable returning the count to show ("Approvals (3)"); pages that compute counts in
workers cache them and call `refresh_badges()` when they change. Ctrl+1…Ctrl+9 select the
page in that position, whatever order pages were added in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QMenu,
    QStackedWidget,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from app.presentation.formatting import badge_text
from app.ui.common.signals import emit

if TYPE_CHECKING:  # host imports the domain's portfolio types: not before the first paint
    from app.ui.common.host import Badge

MAX_SHORTCUTS = 9


@dataclass
class _Page:
    key: str
    title: str
    widget: QWidget
    badge: Badge | None
    tooltip: str


class PageNavigator(QWidget):
    """The tab bar and the page stack; emits the key of the page shown."""

    page_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PageNavigator")
        self.tabs = QTabBar()
        self.tabs.setObjectName("PageTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setExpanding(False)
        self.tabs.setDrawBase(True)
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stack = QStackedWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.tabs)
        layout.addWidget(self.stack, 1)
        self._pages: list[_Page] = []
        self._actions: list[QAction] = []
        self.menu: QMenu | None = None
        self._window: QWidget | None = None
        self._order: tuple[str, ...] = ()
        self.tabs.currentChanged.connect(self._tab_changed)

    # -- pages -----------------------------------------------------------------------

    def set_order(self, keys: tuple[str, ...]) -> None:
        """Where pages go that are added without a position: in this order, whatever
        order they are added in; pages not named here go after them."""
        self._order = keys

    def add_page(
        self,
        key: str,
        title: str,
        widget: QWidget,
        badge: Badge | None = None,
        tooltip: str = "",
        position: int | None = None,
    ) -> None:
        """Add a page at `position` (else where the order puts it). Keys are unique."""
        if any(p.key == key for p in self._pages):
            raise ValueError(f"a page '{key}' already exists")
        at = self._position_of(key) if position is None else position
        at = max(0, min(at, len(self._pages)))
        page = _Page(key, title, widget, badge, tooltip)
        self._pages.insert(at, page)
        self.stack.insertWidget(at, widget)
        self.tabs.blockSignals(True)
        self.tabs.insertTab(at, badge_text(title, self._count(page)))
        self.tabs.blockSignals(False)
        self._sync_tabs()

    def replace_page(
        self,
        key: str,
        title: str,
        widget: QWidget,
        badge: Badge | None = None,
        tooltip: str = "",
    ) -> QWidget:
        """Put `widget` where the page `key` stands (same tab, same selection); returns
        the widget it replaced, which the caller disposes of."""
        index = self._index_of(key)
        if index is None:
            raise ValueError(f"there is no page '{key}' to replace")
        old = self._pages[index].widget
        current = self.stack.currentIndex()
        self._pages[index] = _Page(key, title, widget, badge, tooltip)
        self.stack.insertWidget(index, widget)
        if self.stack.currentWidget() is old:
            # Straight from the stand-in to its page: removing the current widget first
            # would make the stack show a neighbour in between.
            self.stack.setCurrentWidget(widget)
        self.stack.removeWidget(old)
        self.stack.setCurrentIndex(current)
        self.tabs.blockSignals(True)
        self.tabs.setTabText(index, badge_text(title, self._count(self._pages[index])))
        self.tabs.blockSignals(False)
        self._sync_tabs()
        return old

    def keys(self) -> list[str]:
        return [p.key for p in self._pages]

    def page(self, key: str) -> QWidget | None:
        return next((p.widget for p in self._pages if p.key == key), None)

    def tab_text(self, key: str) -> str:
        index = self._index_of(key)
        return "" if index is None else self.tabs.tabText(index)

    @property
    def current_key(self) -> str | None:
        index = self.tabs.currentIndex()
        return self._pages[index].key if 0 <= index < len(self._pages) else None

    def select(self, key: str) -> bool:
        index = self._index_of(key)
        if index is None:
            return False
        self.select_index(index)
        return True

    def select_index(self, index: int) -> None:
        if 0 <= index < len(self._pages):
            self.tabs.setCurrentIndex(index)
            self.stack.setCurrentIndex(index)

    def refresh_badges(self) -> None:
        for index, page in enumerate(self._pages):
            text = badge_text(page.title, self._count(page))
            if self.tabs.tabText(index) != text:
                self.tabs.setTabText(index, text)

    # -- shortcuts and menu ------------------------------------------------------------

    def install(self, window: QWidget, menu: QMenu) -> None:
        """Ctrl+1…9 on the window, and the pages listed in `menu` (the Go menu)."""
        self._window = window
        self.menu = menu
        self._sync_tabs()

    def _sync_tabs(self) -> None:
        for index, page in enumerate(self._pages):
            self.tabs.setTabToolTip(index, _tab_tooltip(page, index))
        if self._window is not None:
            # One Ctrl+N action per page: the keyboard shortcuts list shows no empty slots.
            while len(self._actions) < min(len(self._pages), MAX_SHORTCUTS):
                self._actions.append(self._page_action(self._window, len(self._actions)))
        for index, action in enumerate(self._actions):
            action.setText(self._pages[index].title)
        if self.menu is not None:
            self.menu.clear()
            for action in self._actions:
                self.menu.addAction(action)
        current = self.tabs.currentIndex()
        if self.stack.currentIndex() != current and current >= 0:
            self.stack.setCurrentIndex(current)

    def _page_action(self, window: QWidget, index: int) -> QAction:
        action = QAction(window)
        action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _=False: self.select_index(index))
        window.addAction(action)
        return action

    def _position_of(self, key: str) -> int:
        rank = {k: i for i, k in enumerate(self._order)}
        mine = rank.get(key, len(self._order))
        return sum(1 for p in self._pages if rank.get(p.key, len(self._order)) <= mine)

    def _count(self, page: _Page) -> int | None:
        return page.badge() if page.badge is not None else None

    def _index_of(self, key: str) -> int | None:
        return next((i for i, p in enumerate(self._pages) if p.key == key), None)

    def _tab_changed(self, index: int) -> None:
        if 0 <= index < len(self._pages):
            self.stack.setCurrentIndex(index)
            emit(self.page_changed, self._pages[index].key)


def _tab_tooltip(page: _Page, index: int) -> str:
    shortcut = f" (Ctrl+{index + 1})" if index < MAX_SHORTCUTS else ""
    return f"{page.tooltip or page.title}{shortcut}"
