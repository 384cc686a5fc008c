"""The shell's own actions: quit, and the Help menu (logs, about)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.ui.common.widgets import make_action


@dataclass
class ShellActions:
    quit: QAction
    open_logs: QAction
    about: QAction


def build_shell_actions(window: QWidget) -> ShellActions:
    return ShellActions(
        quit=make_action(window, "Quit", None, "Ctrl+Q"),
        open_logs=make_action(window, "Open log folder", "folder", tip="Show Gavel's log files"),
        about=make_action(window, "About Gavel", "info"),
    )
