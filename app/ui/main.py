"""Start the console: application, logging, crash handler, context, main window."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.domain.errors import GavelError
from app.ui.common.context import ConsoleContext
from app.ui.common.resources import follow_palette, icon
from app.ui.console import Console, build_console
from app.ui.shell.crash import EXIT_CRASHED, CrashHandler, DialogHook, show_crash_dialog
from app.ui.shell.qt_log import install_qt_message_handler, restore_qt_message_handler

log = logging.getLogger("gavel.ui")

EXIT_OK, EXIT_FAILED = 0, 1

ContextFactory = Callable[[], ConsoleContext]


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
) -> int:
    """Run the console until the user quits; returns the process exit code.

    smoke_test: quit once the window has painted (packaging checks use it).

    context_factory: builds the context (the entry layer passes
    app.bootstrap.build_context, the composition root, which ui does not import).
    start_demo: start the bundled demo registry when the profile has no registry
    (or already has the demo). error_dialog / crash_dialog: how a startup error
    and a crash are shown (tests replace the modal boxes).
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
    try:
        try:
            ctx = context_factory()
        except GavelError as exc:
            log.error("console cannot start: %s", exc.message)
            error_dialog(exc.message)
            return EXIT_FAILED
        crash.log_path = ctx.paths.log_file
        return _run_window(app, ctx, crash, start_demo, smoke_test)
    except Exception:  # a bug while starting goes through the crash path
        crash.handle(*sys.exc_info())
        return EXIT_CRASHED
    finally:
        signal.signal(signal.SIGINT, previous_sigint)
        crash.uninstall()
        restore_qt_message_handler(previous_qt_handler)


def _run_window(
    app: QApplication, ctx: ConsoleContext, crash: CrashHandler, demo: bool, smoke: bool = False
) -> int:
    console: Console | None = None
    try:
        follow_palette(app)
        console = build_console(ctx)
        window = console.window
        _quit_on_sigint(window)
        # Python runs signal handlers only between bytecodes; let it in regularly.
        wake = QTimer(window)
        wake.timeout.connect(lambda: None)
        wake.start(500)
        window.show()
        console.start(demo)
        if smoke:
            QTimer.singleShot(0, window, lambda: (window.grab(), app.quit()))
        code = EXIT_CRASHED if crash.crashed else app.exec()
        return EXIT_CRASHED if crash.crashed else code
    finally:
        if console is not None:
            window = console.window
            if window.isVisible():
                window.close()
            window.shutdown()
            window.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.setStyleSheet("")
        ctx.close()
        log.info("console closed")


def _quit_on_sigint(window: QWidget) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        log.info("interrupted; closing the console")
        window.close()

    signal.signal(signal.SIGINT, handler)
