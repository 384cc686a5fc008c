"""The seams features plug into, as structural types (napari's `add_dock_widget`).

The shell's main window implements `Host`: pages, menus, the toolbar, banners and
the status bar. The portfolio implements `ModelFocus`: the model and version the
console is looking at, the detail panel's tabs and the portfolio table's markers.
A feature receives them, the console context and the task runner when it is
installed, and registers everything through them: it never sees the main window,
searches its children, or touches another feature's widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.domain.portfolio import ModelDetail, VersionRow
from app.ui.common.tasks import TaskHandle

# The count a page's tab shows ("Approvals (3)"); None or 0 shows the bare title.
Badge = Callable[[], int | None]


class Host(Protocol):
    """What the main window offers a feature."""

    def add_page(
        self,
        key: str,
        title: str,
        widget: QWidget,
        *,
        badge: Badge | None = None,
        tooltip: str = "",
        position: int | None = None,
    ) -> None:
        """A page (tab) of the window; Ctrl+1…9 select pages by position. Keys are unique."""
        ...

    def has_placeholder(self, key: str) -> bool:
        """Whether stage one of the start drew a stand-in for this page (add_page replaces
        it; a feature may wait until it has something to show)."""
        ...

    def select_page(self, key: str) -> bool: ...

    def refresh_badges(self) -> None:
        """Re-read every page's badge (call when a count changed)."""
        ...

    def on_page_shown(self, callback: Callable[[str], None]) -> None:
        """Call back with the page's key whenever the user moves to a page."""
        ...

    def add_action(self, menu: str, action: QAction, *, section: str = "") -> None:
        """Put an action in the menu titled `menu` ('&Registry'), created the first time.

        New menus go before the shell's Go and Help menus. Actions of one section sit
        together, a separator between sections. The action's shortcut works anywhere
        in the window and is listed in Help → Keyboard shortcuts.
        """
        ...

    def add_toolbar_action(self, action: QAction) -> None:
        """Put an action on the main toolbar (its shortcut works in the whole window)."""
        ...

    def add_banner(self, banner: QWidget) -> None:
        """A strip above the pages (offline, demo…); the feature shows and hides it."""
        ...

    def add_status_widget(self, widget: QWidget) -> None:
        """A permanent widget on the right of the status bar."""
        ...

    def show_status(self, text: str, timeout_ms: int = 8000) -> None:
        """A passing message in the status bar."""
        ...

    def show_notice(self, text: str) -> None:
        """An error the user should read: the dismissable banner above the pages."""
        ...

    def track_task(self, handle: TaskHandle) -> None:
        """Show a task's progress, with Cancel, in the status bar (after its delay)."""
        ...

    @property
    def settings(self) -> QSettings:
        """The profile's console.ini: what a feature keeps between sessions."""
        ...

    def after_first_paint(self, callback: Callable[[], object]) -> None:
        """Run start-up work once the window has painted (now, if it has)."""
        ...

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call back when the window closes, before shutdown: save state here."""
        ...

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        """Call back at shutdown, before the task runner stops: stop timers and tasks."""
        ...


class DetailTab(Protocol):
    """A tab of the model detail panel: a widget that follows the version shown."""

    @property
    def widget(self) -> QWidget: ...

    def show_version(self, model: ModelDetail | None, version: VersionRow | None) -> None:
        """The panel's model or version changed; called only while the tab is shown (or
        when it is next shown), so a hidden tab never queries."""
        ...


class ModelFocus(Protocol):
    """The model the console is looking at, as the portfolio offers it to other features."""

    @property
    def model(self) -> ModelDetail | None: ...

    @property
    def version(self) -> VersionRow | None: ...

    def on_focus_changed(self, callback: Callable[[], None]) -> None:
        """Call back when the model or its selected version changed."""
        ...

    def on_synced(self, callback: Callable[[], None]) -> None:
        """Call back after every sync, and after every `refresh_model`: the cache changed."""
        ...

    def refresh_model(self, registry: str, model: str) -> None:
        """Re-read one model from its registry now (off the GUI thread), e.g. after an
        action moved an alias, so that the portfolio, the detail panel and the versions
        list show the change at once instead of at the next sync. Returns at once; the
        views update when the read is back, then on_synced callbacks run. A failure is
        said in the status bar (the cache keeps what it had)."""
        ...

    def show_model(self, registry: str, name: str, version: int | None = None) -> bool:
        """Bring a model (and version) into the detail panel, on the portfolio page."""
        ...

    def show_models(self, title: str, models: tuple[tuple[str, str], ...]) -> None:
        """The portfolio page listing only these (registry, model) pairs, with a bar
        naming the list (``title``) and a way back to every model."""
        ...

    def add_detail_tab(
        self,
        key: str,
        title: str,
        factory: Callable[[], DetailTab],
        *,
        tooltip: str = "",
        wide: bool = False,
        lazy: bool = True,
    ) -> None:
        """A tab of the detail panel, built the first time it is shown.

        wide: the tab gets the panel's whole width (the versions list hides while it
        is shown; the version is picked in the tab bar's corner instead). lazy=False
        builds it now: for a tab whose feature updates it while it is hidden.
        """
        ...

    def show_detail_tab(self, key: str) -> None: ...

    def add_version_action(self, action: QAction) -> None:
        """An entry of the versions list's context menu."""
        ...

    def add_detail_line(self, widget: QWidget) -> None:
        """A line under the detail panel's header (the feature keeps it up to date)."""
        ...

    def mark_violations(self, models: frozenset[tuple[str, str]]) -> None:
        """(registry, model) pairs whose alias moved without an approved request."""
        ...

    def mark_serving_drift(self, drift: Mapping[tuple[str, str], str]) -> None:
        """(registry, model) -> why an endpoint serves another version than its alias."""
        ...
