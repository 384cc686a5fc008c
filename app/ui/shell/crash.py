"""The crash path: an unexpected exception is logged, shown, and the console quits.

Like qutebrowser's crash handler: after a bug the application state is unknown, so
carrying on could show wrong data to someone who signs decisions with it. The
dialog and the quit are injectable so tests can check the path without a modal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from app.ui.common.signals import emit

log = logging.getLogger("gavel.crash")

EXIT_CRASHED = 1

DialogHook = Callable[[str, str], None]  # (message, details)
QuitHook = Callable[[], None]


def crash_message(log_path: Path | None) -> str:
    where = (
        f"The details were written to {log_path}."
        if log_path
        else ("The details were printed to the terminal Gavel was started from.")
    )
    return (
        "Gavel hit an unexpected error and has to close so that it does not show you "
        f"wrong data.\n\n{where} Please send them to your Gavel administrator. Your "
        "cached data is safe; start Gavel again to continue."
    )


def show_crash_dialog(message: str, details: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Critical, "Gavel — unexpected error", message)
    box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.exec()


def quit_application() -> None:
    QCoreApplication.exit(EXIT_CRASHED)


class CrashHandler(QObject):
    """Installs sys.excepthook and threading.excepthook; reports on the GUI thread."""

    # Marshals a report from whatever thread raised onto the GUI thread.
    _report = Signal(str)

    def __init__(
        self,
        log_path: Path | None,
        show_dialog: DialogHook = show_crash_dialog,
        quit_app: QuitHook = quit_application,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self._show_dialog = show_dialog
        self._quit = quit_app
        self._saved_hooks: tuple[Any, Any] | None = None
        self.crashed = False
        self._report.connect(self._on_report)

    def install(self) -> None:
        if self._saved_hooks is None:
            self._saved_hooks = (sys.excepthook, threading.excepthook)
            sys.excepthook = self._excepthook
            threading.excepthook = self._threading_excepthook

    def uninstall(self) -> None:
        if self._saved_hooks is not None:
            sys.excepthook, threading.excepthook = self._saved_hooks
            self._saved_hooks = None

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        """Log the exception and report it; safe to call from any thread."""
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.critical("unexpected error on thread %s:\n%s", threading.current_thread().name, details)
        self._ensure_in_log_file(details)
        emit(self._report, details)

    def _excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            log.info("interrupted; quitting")
            QCoreApplication.exit(EXIT_CRASHED)
            return
        self.handle(exc_type, exc, tb)

    def _threading_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(str)
    def _on_report(self, details: str) -> None:
        if self.crashed:
            # One dialog is enough; later errors are usually fallout of the first.
            return
        self.crashed = True
        try:
            self._show_dialog(crash_message(self.log_path), details)
        finally:
            self._quit()

    def _ensure_in_log_file(self, details: str) -> None:
        # A crash before logging is set up (or with logging pointed elsewhere) must
        # still leave the traceback where the dialog says it is.
        if self.log_path is None:
            print(details, file=sys.stderr)
            return
        target = self.log_path.resolve()
        logger: logging.Logger | None = log
        while logger is not None:
            for handler in logger.handlers:
                name = getattr(handler, "baseFilename", None)
                if (
                    name
                    and Path(name).resolve() == target
                    and logger.isEnabledFor(logging.CRITICAL)
                ):
                    return
            logger = logger.parent if logger.propagate else None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a", encoding="utf-8") as fh:
                stamp = datetime.now(UTC).isoformat(timespec="seconds")
                fh.write(f"{stamp} CRITICAL gavel.crash: unexpected error:\n{details}\n")
        except OSError as exc:
            print(f"gavel: could not write {target}: {exc}\n{details}", file=sys.stderr)
