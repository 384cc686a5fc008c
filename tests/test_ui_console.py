"""The real console, offscreen: run_console end to end, from an empty profile to
the demo portfolio on screen, then quit cleanly."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, qWarning
from PySide6.QtWidgets import QApplication

from app.bootstrap import AppContext
from app.domain.errors import CacheCorrupt
from app.ui.main import run_console
from app.ui.portfolio.portfolio_ui import PortfolioUi
from app.ui.shell.main_window import MainWindow
from app.ui.shell.qt_log import install_qt_message_handler, restore_qt_message_handler
from tests.ui_helpers import make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

# Starting and seeding a fresh MLflow server, then syncing it.
DEMO_DEADLINE_S = 180


def _main_window() -> MainWindow | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow) and widget.isVisible():
            return widget
    return None


@pytest.mark.integration
@pytest.mark.slow
def test_console_starts_the_demo_on_an_empty_profile_and_quits_cleanly(
    tmp_path: Path, qapp: QApplication
) -> None:
    contexts: list[AppContext] = []
    crashes: list[str] = []
    seen_pages: set[str] = set()
    shots: list[Path] = []
    started = time.monotonic()

    def factory() -> AppContext:
        contexts.append(make_context(tmp_path / "home"))
        return contexts[0]

    def poll() -> None:
        window = _main_window()
        portfolio = window.findChild(PortfolioUi) if window is not None else None
        if window is None or portfolio is None:
            return
        view = portfolio.portfolio_view
        if window.progress.isVisible() and "progress" not in seen_pages:
            seen_pages.add("progress")
            shots.append(save_screenshot(window, "console_demo_progress"))
        if view.stack.currentWidget() is view.empty:
            seen_pages.add(view.empty.title.text())
        done = portfolio.settled and portfolio.portfolio_model.rowCount() > 0
        if not done and time.monotonic() - started < DEMO_DEADLINE_S:
            return
        if done:
            view.select_key(portfolio.portfolio_model.key_at(1))
            shots.append(save_screenshot(window, "console_demo"))
        window.shell_actions.quit.trigger()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    try:
        code = run_console(
            start_demo=True,
            argv=[],
            context_factory=factory,
            crash_dialog=lambda message, details: crashes.append(details),
        )
    finally:
        timer.stop()

    assert crashes == []
    assert code == 0
    assert shots and shots[-1].name == "console_demo.png", "the demo portfolio never appeared"
    assert "Starting the demo registry…" in seen_pages
    ctx = contexts[0]
    assert not ctx.demo.running  # quitting stopped the demo server
    [status] = ctx.registries.statuses()
    assert status.is_demo and status.model_count >= 10 and status.last_error == ""
    assert (ctx.paths.config_dir / "console.ini").exists()


def test_unreadable_cache_is_explained_and_exits_1(qapp: QApplication) -> None:
    shown: list[str] = []

    def factory() -> AppContext:
        raise CacheCorrupt(
            "The cache file /x/cache.sqlite3 is damaged; move it away and sync again."
        )

    code = run_console(
        start_demo=False, argv=[], context_factory=factory, error_dialog=shown.append
    )
    assert code == 1
    assert shown == ["The cache file /x/cache.sqlite3 is damaged; move it away and sync again."]


def test_qt_messages_go_to_the_gavel_qt_logger(caplog: pytest.LogCaptureFixture) -> None:
    previous = install_qt_message_handler()
    try:
        with caplog.at_level(logging.WARNING, logger="gavel.qt"):
            qWarning("QLayout: attempting to add a layout twice")
    finally:
        restore_qt_message_handler(previous)
    [record] = [r for r in caplog.records if r.name == "gavel.qt"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("QLayout: attempting to add a layout twice")
