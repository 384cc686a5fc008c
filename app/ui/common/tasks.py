"""Background tasks: run a blocking service call off the GUI thread.

In the style of Anki's QueryOp and napari's workers: a task is a function taking a
CancelToken and a progress callback; it runs on a QThreadPool, and its progress,
result or error come back on the GUI thread through queued signals. Each task has
a request id; a newer task with the same key supersedes the older one, whose result
is then dropped. A GavelError is an expected failure (its sentence goes to the
failure callback); anything else is a bug and goes to the crash handler.
"""

from __future__ import annotations

import enum
import itertools
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError
from app.domain.progress import Progress, ProgressCallback
from app.ui.common.signals import emit

log = logging.getLogger("gavel.ui.tasks")

T = TypeVar("T")

TaskFunction = Callable[[CancelToken, ProgressCallback], T]
CrashCallback = Callable[[type[BaseException], BaseException, Any], None]

# Anki's figure: shorter operations finish before a progress display would even be
# readable, so showing one only makes the window flicker.
PROGRESS_DELAY_MS = 600
# Progress from a worker is coalesced to at most one report per interval.
_PROGRESS_INTERVAL_S = 0.05


class Lane(enum.Enum):
    """Which threads a task runs on.

    LEDGER is for tasks that read the authority fold (governance, overview, findings,
    delivery, reviews). The fold answers one reader at a time under its lock, and its
    first catch-up over a large ledger takes seconds; on the shared pool, three such
    readers parked on that lock plus the one folding filled every thread, and the
    audit trail's page of events waited behind them. One thread of their own costs
    them nothing (they would wait for each other anyway) and keeps the general pool
    free for what the screen is waiting for.
    """

    GENERAL = "general"
    LEDGER = "ledger"


class TaskHandle(QObject):
    """The GUI-thread face of one running task: progress, cancel, finished."""

    progressed = Signal(object)  # Progress
    # Emitted once when the task is still running after PROGRESS_DELAY_MS.
    progress_due = Signal()
    finished = Signal()

    def __init__(self, request_id: int, key: str, label: str) -> None:
        # No Qt parent: Python owns the handle, so a caller holding it after the task
        # ended never touches a deleted C++ object.
        super().__init__()
        self.request_id = request_id
        self.key = key
        self.label = label
        self.token = CancelToken()
        self.latest: Progress | None = None
        self.superseded = False
        self.done = False

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled


@dataclass
class _Callbacks(Generic[T]):
    on_success: Callable[[T], None] | None
    on_failure: Callable[[GavelError], None] | None


class _WorkerSignals(QObject):
    # Signals of an object living on the GUI thread, emitted from the worker: Qt
    # queues them, so the slots run on the GUI thread.
    progressed = Signal(int, object)
    succeeded = Signal(int, object)
    failed = Signal(int, object)
    crashed = Signal(int, object, object, object)


class _Worker(QRunnable):
    def __init__(
        self, request_id: int, fn: TaskFunction[Any], token: CancelToken, signals: _WorkerSignals
    ) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._id = request_id
        self._fn = fn
        self._token = token
        self._signals = signals
        self._last_progress = 0.0

    def _progress(self, progress: Progress) -> None:
        now = time.monotonic()
        final = progress.total is not None and progress.done >= progress.total
        if final or progress.done == 0 or now - self._last_progress >= _PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._send("progressed", progress)

    def run(self) -> None:
        if self._token.cancelled:
            # Superseded or cancelled while it waited for a thread: never start it.
            self._send("failed", Cancelled())
            return
        try:
            result = self._fn(self._token, self._progress)
        except GavelError as exc:
            self._send("failed", exc)
        except BaseException as exc:  # every bug must reach the crash handler
            self._send("crashed", type(exc), exc, exc.__traceback__)
        else:
            self._send("succeeded", result)

    def _send(self, signal: str, *args: object) -> None:
        try:
            emit(getattr(self._signals, signal), self._id, *args)
        except RuntimeError:
            # The runner was deleted after a shutdown that timed out: nobody listens.
            log.info("task %d finished after its runner was gone", self._id)


class TaskRunner(QObject):
    """Runs tasks on its own thread pool; one per main window (or dialog in tests)."""

    task_started = Signal(object)  # TaskHandle
    task_finished = Signal(object)  # TaskHandle

    def __init__(
        self,
        crash: CrashCallback | None = None,
        parent: QObject | None = None,
        max_threads: int = 4,
        progress_delay_ms: int = PROGRESS_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ledger_pool = QThreadPool(self)
        self._ledger_pool.setMaxThreadCount(1)
        self._crash = crash
        self._delay_ms = progress_delay_ms
        self._ids = itertools.count(1)
        self._handles: dict[int, TaskHandle] = {}
        self._callbacks: dict[int, _Callbacks[Any]] = {}
        self._by_key: dict[str, TaskHandle] = {}
        self._signals = _WorkerSignals(self)
        self._signals.progressed.connect(self._on_progressed)
        self._signals.succeeded.connect(self._on_succeeded)
        self._signals.failed.connect(self._on_failed)
        self._signals.crashed.connect(self._on_crashed)
        self._closing = False

    def set_crash_handler(self, crash: CrashCallback | None) -> None:
        self._crash = crash

    def run(
        self,
        fn: TaskFunction[T],
        *,
        key: str,
        label: str = "",
        on_success: Callable[[T], None] | None = None,
        on_failure: Callable[[GavelError], None] | None = None,
        lane: Lane = Lane.GENERAL,
    ) -> TaskHandle:
        """Start `fn(cancel_token, progress)` on the pool.

        key: tasks with the same key supersede each other: starting one cancels the
        previous and drops its result, so a slow stale answer never overwrites a
        fresh one.
        lane: Lane.LEDGER for tasks that read the authority fold (see Lane).
        """
        if self._closing:
            raise RuntimeError("the task runner is shut down")
        previous = self._by_key.get(key)
        if previous is not None and not previous.done:
            previous.superseded = True
            previous.cancel()
        request_id = next(self._ids)
        handle = TaskHandle(request_id, key, label)
        self._handles[request_id] = handle
        self._callbacks[request_id] = _Callbacks(on_success, on_failure)
        self._by_key[key] = handle
        QTimer.singleShot(self._delay_ms, handle, lambda: self._progress_due(handle))
        log.debug("task %d (%s) started", request_id, key)
        pool = self._ledger_pool if lane is Lane.LEDGER else self._pool
        pool.start(_Worker(request_id, fn, handle.token, self._signals))
        emit(self.task_started, handle)
        return handle

    def running(self, key: str | None = None) -> list[TaskHandle]:
        return [h for h in self._handles.values() if key is None or h.key == key]

    def is_running(self, key: str) -> bool:
        handle = self._by_key.get(key)
        return handle is not None and not handle.done

    def discard(self, handle: TaskHandle) -> None:
        """Cancel a task and drop whatever it returns (its requester went away)."""
        handle.superseded = True
        handle.cancel()

    def cancel_all(self) -> None:
        for handle in list(self._handles.values()):
            handle.cancel()

    def wait_for_all(self, timeout_ms: int = -1) -> bool:
        """Block until every worker has returned (shutdown, tests); False on timeout."""
        if timeout_ms < 0:
            return self._pool.waitForDone(-1) and self._ledger_pool.waitForDone(-1)
        deadline = time.monotonic() + timeout_ms / 1000
        if not self._pool.waitForDone(timeout_ms):
            return False
        left = max(0, int((deadline - time.monotonic()) * 1000))
        return self._ledger_pool.waitForDone(left)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, wait for the workers and drop whatever they still send."""
        self._closing = True
        self.cancel_all()
        finished = self.wait_for_all(timeout_ms)
        if not finished:
            log.warning("background tasks still running after %d ms at shutdown", timeout_ms)
        for handle in list(self._handles.values()):
            handle.superseded = True
        return finished

    def _progress_due(self, handle: TaskHandle) -> None:
        if not handle.done and not handle.superseded:
            emit(handle.progress_due)

    def _finish(self, request_id: int) -> tuple[TaskHandle, _Callbacks[Any]] | None:
        handle = self._handles.pop(request_id, None)
        callbacks = self._callbacks.pop(request_id, None)
        if handle is None or callbacks is None:
            return None
        handle.done = True
        if self._by_key.get(handle.key) is handle:
            del self._by_key[handle.key]
        emit(handle.finished)
        emit(self.task_finished, handle)
        if handle.superseded:
            log.debug("task %d (%s) result dropped: superseded", request_id, handle.key)
            return None
        return handle, callbacks

    @Slot(int, object)
    def _on_progressed(self, request_id: int, progress: Progress) -> None:
        handle = self._handles.get(request_id)
        if handle is not None and not handle.superseded:
            handle.latest = progress
            emit(handle.progressed, progress)

    @Slot(int, object)
    def _on_succeeded(self, request_id: int, result: object) -> None:
        found = self._finish(request_id)
        if found is not None and found[1].on_success is not None:
            found[1].on_success(result)

    @Slot(int, object)
    def _on_failed(self, request_id: int, error: GavelError) -> None:
        found = self._finish(request_id)
        if found is None:
            return
        if isinstance(error, Cancelled):
            log.info("task %d (%s) cancelled", request_id, found[0].key)
        else:
            log.info("task %d (%s) failed: %s", request_id, found[0].key, error.message)
        if found[1].on_failure is not None:
            found[1].on_failure(error)

    @Slot(int, object, object, object)
    def _on_crashed(
        self, request_id: int, exc_type: type[BaseException], exc: BaseException, tb: Any
    ) -> None:
        self._finish(request_id)
        log.debug("task %d crashed", request_id)
        # Without an explicit handler, whatever sys.excepthook is now decides: the
        # console's crash handler in the app, pytest-qt's capture in tests.
        crash = self._crash or sys.excepthook
        crash(exc_type, exc, tb)
