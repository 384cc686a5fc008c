"""Start the console: application, logging, crash handler, context, main window.

The start has two stages. Stage one shows the window with the cached portfolio's
first screen, read with sqlite3, before anything heavy is imported (this module and
app/ui/console.py import PySide6 and light modules only). Stage two, once that frame
is painted, builds the context (SQLAlchemy, services) and attaches every feature.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.domain.errors import GavelError
from app.ui.common.resources import follow_palette, icon
from app.ui.console import Console, FirstScreenPaths, attach_features, open_first_screen
from app.ui.shell.crash import EXIT_CRASHED, CrashHandler, DialogHook, show_crash_dialog
from app.ui.shell.main_window import MainWindow
from app.ui.shell.qt_log import install_qt_message_handler, restore_qt_message_handler

if TYPE_CHECKING:  # imports every service: stage two only
    from app.ui.common.context import ConsoleContext

log = logging.getLogger("gavel.ui")

EXIT_OK, EXIT_FAILED = 0, 1

ContextFactory = Callable[[], "ConsoleContext"]
PathsFactory = Callable[[], FirstScreenPaths]

# Stage two starts once the first frame is painted, at the latest after this long.
FIRST_PAINT_WAIT_S = 1.0


def default_paths() -> FirstScreenPaths:
    """The profile's paths as app.bootstrap.build_context resolves them by default."""
    from app.stores.paths import resolve_paths

    return resolve_paths()


def show_startup_error(message: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Critical, "Gavel cannot start", message)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.exec()


def _configure(app: QApplication) -> None:
    app.setApplicationName("Gavel")
    app.setOrganizationName("Gavel")
    app.setWindowIcon(icon("app"))


def run_console(
    context_factory: ContextFactory,
    start_demo: bool = True,
    argv: Sequence[str] | None = None,
    error_dialog: Callable[[str], None] = show_startup_error,
    crash_dialog: DialogHook = show_crash_dialog,
    smoke_test: bool = False,
    paths_factory: PathsFactory = default_paths,
) -> int:
    """Run the console until the user quits; returns the process exit code.

    smoke_test: quit once the window has painted (packaging checks use it).

    context_factory: builds the context (the entry layer passes
    app.bootstrap.build_context, the composition root, which ui does not import).
    start_demo: start the bundled demo registry when the profile has no registry
    (or already has the demo). error_dialog / crash_dialog: how a startup error
    and a crash are shown (tests replace the modal boxes). paths_factory: where
    stage one finds the settings and the cache (the same profile the context opens).
    """
    existing = QApplication.instance()
    app = (
        existing
        if isinstance(existing, QApplication)
        else QApplication(list(argv) if argv is not None else sys.argv)
    )
    _configure(app)
    previous_qt_handler = install_qt_message_handler()
    crash = CrashHandler(log_path=None, show_dialog=crash_dialog)
    crash.install()
    previous_sigint = signal.getsignal(signal.SIGINT)
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    window: MainWindow | None = None
    console: Console | None = None
    ctx: ConsoleContext | None = None
    try:
        follow_palette(app)
        window, runner = open_first_screen(paths_factory())
        window.show()
        _wait_for_first_paint(app, window)
        try:
            ctx = context_factory()
        except GavelError as exc:
            log.error("console cannot start: %s", exc.message)
            window.hide()
            error_dialog(exc.message)
            return EXIT_FAILED
        crash.log_path = ctx.paths.log_file
        window.use_paths(ctx.paths)
        console = attach_features(window, runner, ctx)
        return _run_window(app, console, crash, start_demo, smoke_test)
    except Exception:  # a bug while starting goes through the crash path
        crash.handle(*sys.exc_info())
        return EXIT_CRASHED
    finally:
        if window is not None:
            _dispose(window)
        app.setStyleSheet("")
        if ctx is not None:
            ctx.close()
            log.info("console closed")
        signal.signal(signal.SIGINT, previous_sigint)
        signal.signal(signal.SIGTERM, previous_sigterm)
        crash.uninstall()
        restore_qt_message_handler(previous_qt_handler)


def _wait_for_first_paint(app: QApplication, window: MainWindow) -> None:
    """Let the event loop paint the first screen before stage two's imports block it."""
    deadline = time.monotonic() + FIRST_PAINT_WAIT_S
    while not window.first_paint.opened and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def _run_window(
    app: QApplication, console: Console, crash: CrashHandler, demo: bool, smoke: bool = False
) -> int:
    window = console.window
    _close_on_signals(window)
    # Python runs signal handlers only between bytecodes; let it in regularly.
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(500)
    console.start(demo)
    if smoke:
        QTimer.singleShot(0, window, lambda: (window.grab(), app.quit()))
    # Said from inside the event loop: from here a signal closes the console cleanly.
    QTimer.singleShot(0, window, lambda: log.info("console running"))
    code = EXIT_CRASHED if crash.crashed else app.exec()
    return EXIT_CRASHED if crash.crashed else code


def _dispose(window: MainWindow) -> None:
    if window.isVisible():
        window.close()
    window.shutdown()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _close_on_signals(window: QWidget) -> None:
    """Ctrl+C in a terminal, and SIGTERM (a logout, `kill`, a service manager), close the
    console as its window's close does: running work is cancelled, the demo server is
    stopped and the stores are closed. Python's default for SIGTERM ends the process at
    once and leaves a demo server behind until the next start."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("%s; closing the console", signal.Signals(signum).name)
        window.close()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
