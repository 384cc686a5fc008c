"""The crash path: an unexpected exception is logged, shown once, and the app quits."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.progress import ProgressCallback
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.shell.crash import CrashHandler, crash_message
from tests.ui_helpers import no_leaks

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]


class Emitter(QObject):
    fired = Signal()


class Recorder:
    def __init__(self) -> None:
        self.dialogs: list[tuple[str, str]] = []
        self.quits = 0
        self.dialog_threads: list[str] = []

    def dialog(self, message: str, details: str) -> None:
        self.dialogs.append((message, details))
        self.dialog_threads.append(threading.current_thread().name)

    def quit(self) -> None:
        self.quits += 1


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def handler(tmp_path: Path, recorder: Recorder) -> Iterator[CrashHandler]:
    crash = CrashHandler(tmp_path / "logs" / "gavel.log", recorder.dialog, recorder.quit)
    crash.install()
    try:
        yield crash
    finally:
        crash.uninstall()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_is_logged_shown_and_quits(
    handler: CrashHandler, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_slot() -> None:
        raise ZeroDivisionError("the portfolio has no models to divide by")

    emitter = Emitter()
    emitter.fired.connect(broken_slot)
    with caplog.at_level(logging.CRITICAL, logger="gavel.crash"):
        emit(emitter.fired)

    assert handler.crashed
    assert recorder.quits == 1
    [(message, details)] = recorder.dialogs
    assert str(handler.log_path) in message
    assert message.startswith("Gavel hit an unexpected error")
    assert "ZeroDivisionError: the portfolio has no models to divide by" in details
    assert "broken_slot" in details
    assert any(
        r.name == "gavel.crash" and "ZeroDivisionError" in r.getMessage() for r in caplog.records
    )
    assert handler.log_path is not None
    assert "ZeroDivisionError" in handler.log_path.read_text(encoding="utf-8")

    # Fallout of the first error is logged, not shown again.
    emit(emitter.fired)
    assert len(recorder.dialogs) == 1


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_python_thread_is_shown_on_the_gui_thread(
    handler: CrashHandler, recorder: Recorder, qtbot: QtBot
) -> None:
    def work() -> None:
        raise RuntimeError("background bug")

    thread = threading.Thread(target=work, name="demo-watcher")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: recorder.dialogs != [])
    assert "RuntimeError: background bug" in recorder.dialogs[0][1]
    assert recorder.dialog_threads == [threading.main_thread().name]
    assert recorder.quits == 1


def test_bug_in_a_task_goes_to_the_crash_handler(
    handler: CrashHandler, recorder: Recorder, qtbot: QtBot
) -> None:
    runner = TaskRunner(crash=handler.handle)
    failures: list[GavelError] = []
    prices: dict[str, int] = {}

    def buggy(cancel: CancelToken, progress: ProgressCallback) -> int:
        return prices["missing"]

    runner.run(buggy, key="bug", on_success=lambda _: None, on_failure=failures.append)
    qtbot.waitUntil(lambda: recorder.dialogs != [])
    assert runner.wait_for_all(5000)
    assert "KeyError: 'missing'" in recorder.dialogs[0][1]
    assert failures == []  # a bug is not an expected failure


def test_message_names_the_log_or_the_terminal(tmp_path: Path) -> None:
    assert str(tmp_path / "gavel.log") in crash_message(tmp_path / "gavel.log")
    assert "terminal" in crash_message(None)


def test_uninstall_restores_previous_hooks(tmp_path: Path, recorder: Recorder) -> None:
    import sys

    before = sys.excepthook, threading.excepthook
    crash = CrashHandler(tmp_path / "gavel.log", recorder.dialog, recorder.quit)
    crash.install()
    assert sys.excepthook != before[0]
    crash.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
