"""The console's main window: pages, menus, toolbar, banners and status bar.

It implements the host protocol (`app.ui.common.host.Host`) and knows nothing of the
features it hosts: they add their pages, actions, banners and status widgets through
it, and save their state and stop their work through its close and shutdown hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QShowEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox, QToolBar, QVBoxLayout, QWidget

from app import __version__
from app.ui.common.settings import console_settings, read_bytes
from app.ui.common.tasks import TaskHandle, TaskRunner
from app.ui.common.widgets import Banner
from app.ui.shell.actions import build_shell_actions
from app.ui.shell.first_paint import FirstPaintGate
from app.ui.shell.menus import Menus
from app.ui.shell.navigation import PageNavigator
from app.ui.shell.status import TaskProgress

if TYPE_CHECKING:  # context imports every service, host the domain: not before first paint
    from app.ui.common.context import ConsolePaths
    from app.ui.common.host import Badge
    from app.ui.shell.shortcuts_dialog import ShortcutsDialog

log = logging.getLogger("gavel.ui")

# Held-back start-up work begins at the latest this long after the window appears.
FIRST_PAINT_FALLBACK_MS = 1000
FILE_MENU, GO_MENU, HELP_MENU = "&File", "&Go", "&Help"


class MainWindow(QMainWindow):
    def __init__(self, paths: ConsolePaths, runner: TaskRunner) -> None:
        super().__init__()
        self.setWindowTitle("Gavel — model governance console")
        self.setObjectName("MainWindow")
        self._paths = paths
        self._runner = runner
        self._settings = console_settings(paths.config_dir)
        self._on_close: list[Callable[[], None]] = []
        self._on_shutdown: list[Callable[[], None]] = []
        self._shut_down = False
        # Pages shown before their feature is built (the first screen): key -> widget.
        self._placeholders: dict[str, QWidget] = {}

        self.notice_banner = Banner("error", "error")
        self.notice_banner.add_button("Dismiss", self.notice_banner.hide)
        self.pages = PageNavigator()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 6, 8, 4)
        layout.setSpacing(6)
        self._banners = QVBoxLayout()
        self._banners.setSpacing(6)
        self._banners.addWidget(self.notice_banner)
        layout.addLayout(self._banners)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        # Whatever page is restored, the tab bar paints with the window's first frame.
        self.first_paint = FirstPaintGate(self.pages.tabs, self)

        self.menus = Menus(self.menuBar())
        self.toolbar = QToolBar("Main")
        self.toolbar.setObjectName("MainToolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(self.toolbar)
        self.shell_actions = build_shell_actions(self)
        a = self.shell_actions
        self.menus.add(FILE_MENU, a.quit, "quit", last=True)
        self.pages.install(self, self.menus.trailing_menu(GO_MENU))
        self.menus.trailing_menu(HELP_MENU)
        for action in (a.open_logs, a.shortcuts, a.about):
            self.menus.add(HELP_MENU, action, last=True)
        a.quit.triggered.connect(self.close)
        a.open_logs.triggered.connect(self.open_log_folder)
        a.shortcuts.triggered.connect(self.show_shortcuts)
        a.about.triggered.connect(self.show_about)

        self.progress = TaskProgress()
        self.statusBar().addPermanentWidget(self.progress)
        geometry = read_bytes(self._settings, "window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1360, 860)

    # -- Host: pages -----------------------------------------------------------------

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
        placeholder = self._placeholders.pop(key, None)
        if placeholder is not None:
            self.pages.replace_page(key, title, widget, badge, tooltip)
            placeholder.deleteLater()
            return
        self.pages.add_page(key, title, widget, badge, tooltip, position)

    def add_placeholder_page(self, key: str, title: str, widget: QWidget) -> None:
        """A stand-in for a page whose feature is not built yet; the feature's own
        add_page puts its widget in the stand-in's place."""
        self.pages.add_page(key, title, widget)
        self._placeholders[key] = widget

    def has_placeholder(self, key: str) -> bool:
        return key in self._placeholders

    def set_page_order(self, keys: tuple[str, ...]) -> None:
        """The order pages stand in, whichever feature adds its page first."""
        self.pages.set_order(keys)

    def select_page(self, key: str) -> bool:
        return self.pages.select(key)

    def refresh_badges(self) -> None:
        self.pages.refresh_badges()

    def on_page_shown(self, callback: Callable[[str], None]) -> None:
        self.pages.page_changed.connect(callback)

    # -- Host: actions, banners, status ------------------------------------------------

    def add_action(self, menu: str, action: QAction, *, section: str = "") -> None:
        self.menus.add(menu, action, section)

    def add_toolbar_action(self, action: QAction) -> None:
        self.toolbar.addAction(action)
        # The toolbar can be hidden; the shortcut must not go with it.
        self.addAction(action)

    def add_banner(self, banner: QWidget) -> None:
        self._banners.addWidget(banner)

    def add_status_widget(self, widget: QWidget) -> None:
        self.statusBar().addPermanentWidget(widget)

    def show_status(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_notice(self, text: str) -> None:
        self.notice_banner.show_text(text)

    def track_task(self, handle: TaskHandle) -> None:
        self.progress.track(handle)

    # -- Host: state and life cycle ----------------------------------------------------

    def use_paths(self, paths: ConsolePaths) -> None:
        """The profile the context opened, when stage one guessed another (a caller's
        context factory with its own home): settings and logs follow the context."""
        if paths.config_dir == self._paths.config_dir:
            self._paths = paths
            return
        self._paths = paths
        self._settings = console_settings(paths.config_dir)
        geometry = read_bytes(self._settings, "window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    @property
    def settings(self) -> QSettings:
        return self._settings

    def after_first_paint(self, callback: Callable[[], object]) -> None:
        self.first_paint.after_first_paint(callback)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        self._on_shutdown.append(callback)

    def restore_state(self) -> None:
        """The toolbar and docks as the last session left them (after features installed)."""
        state = read_bytes(self._settings, "window/state")
        if state is not None:
            self.restoreState(state)

    def save_settings(self) -> None:
        for save in self._on_close:
            save()
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue("window/state", self.saveState())
        self._settings.sync()

    def shutdown(self) -> None:
        """Stop timers, cancel tasks and wait for the workers (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.first_paint.close()
        for stop in self._on_shutdown:
            stop()
        # Long enough for a demo server that is still starting to come up, so that
        # ctx.close() can stop it instead of leaving it orphaned.
        self._runner.shutdown(timeout_ms=20_000)

    # -- help ----------------------------------------------------------------------

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Gavel",
            f"<h3>Gavel {__version__}</h3><p>A governance console for machine-learning "
            "models: the portfolio, its versions and the runs behind them, readable "
            "offline from a local cache.</p>"
            f"<p>Logs: {self._paths.log_dir}</p>",
        )

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._paths.log_dir)))

    def shortcuts_dialog(self) -> ShortcutsDialog:
        """The keyboard shortcuts, as the window's actions have them now."""
        # Imported when asked for: stage one of the start paints without it.
        from app.ui.shell.shortcuts_dialog import ShortcutsDialog, collect_shortcuts

        rows = collect_shortcuts(self.menus.menus(), self.toolbar.actions(), self.actions())
        dialog = ShortcutsDialog(rows, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        return dialog

    def show_shortcuts(self) -> None:
        self.shortcuts_dialog().open()

    # -- Qt events -----------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Should the first frame never reach the watched widget, start the held-back
        # work anyway, a moment after the window appears.
        gate = self.first_paint
        QTimer.singleShot(FIRST_PAINT_FALLBACK_MS, gate, gate.open)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.shutdown()
        event.accept()
