"""The shell's own actions: quit, and the Help menu (logs, shortcuts, about)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.ui.common.widgets import make_action


@dataclass
class ShellActions:
    quit: QAction
    open_logs: QAction
    shortcuts: QAction
    about: QAction


def build_shell_actions(window: QWidget) -> ShellActions:
    return ShellActions(
        quit=make_action(window, "Quit", None, "Ctrl+Q"),
        open_logs=make_action(window, "Open log folder", "folder", tip="Show Gavel's log files"),
        shortcuts=make_action(
            window, "Keyboard shortcuts…", None, "Ctrl+/", "Every shortcut of the console"
        ),
        about=make_action(window, "About Gavel", "info"),
    )
