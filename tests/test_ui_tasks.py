"""The background task runner: results on the GUI thread, progress, stale results
dropped, cancel, and waiting for every worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled, GavelError, RegistryUnavailable
from app.domain.progress import Progress, ProgressCallback
from app.presentation.formatting import progress_text
from app.ui.common.tasks import Lane, TaskRunner
from app.ui.shell.status import TaskProgress
from tests.ui_helpers import no_leaks

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner(progress_delay_ms=50)
    try:
        yield tasks
    finally:
        assert tasks.shutdown(5000)


def test_result_and_progress_arrive_on_the_gui_thread(runner: TaskRunner, qtbot: QtBot) -> None:
    seen: list[tuple[str, object]] = []

    def work(cancel: CancelToken, progress: ProgressCallback) -> str:
        progress(Progress("demo: reading runs", 0, 3))
        progress(Progress("demo: reading runs", 3, 3))
        return threading.current_thread().name

    handle = runner.run(work, key="k", on_success=lambda r: seen.append(("ok", r)))
    handle.progressed.connect(
        lambda p: seen.append(("progress", (p.done, threading.current_thread().name)))
    )
    with qtbot.waitSignal(handle.finished):
        pass
    main = threading.main_thread().name
    assert ("progress", (3, main)) in seen
    assert seen[-1][0] == "ok" and seen[-1][1] != main  # worked off the GUI thread
    assert progress_text(Progress("demo: reading runs", 40, 120)) == "demo: reading runs 40 of 120"


def test_expected_failure_goes_to_the_failure_callback(runner: TaskRunner, qtbot: QtBot) -> None:
    failures: list[GavelError] = []

    def work(cancel: CancelToken, progress: ProgressCallback) -> None:
        raise RegistryUnavailable("The registry at http://x could not be reached.")

    handle = runner.run(work, key="k", on_success=lambda _: None, on_failure=failures.append)
    with qtbot.waitSignal(handle.finished):
        pass
    assert [f.message for f in failures] == ["The registry at http://x could not be reached."]


def test_newer_task_with_same_key_drops_the_stale_result(runner: TaskRunner, qtbot: QtBot) -> None:
    release = threading.Event()
    results: list[str] = []

    def slow(cancel: CancelToken, progress: ProgressCallback) -> str:
        release.wait(5)
        return "stale"

    def fast(cancel: CancelToken, progress: ProgressCallback) -> str:
        return "fresh"

    first = runner.run(slow, key="probe", on_success=results.append)
    second = runner.run(fast, key="probe", on_success=results.append)
    assert first.cancelled and first.superseded
    with qtbot.waitSignal(second.finished):
        pass
    release.set()
    # It may have finished already: superseded before it had a thread, it never ran.
    qtbot.waitUntil(lambda: first.done, timeout=5000)
    assert results == ["fresh"]


def test_cancel_reaches_the_worker_and_progress_shows_after_the_delay(
    runner: TaskRunner, qtbot: QtBot
) -> None:
    started = threading.Event()
    failures: list[GavelError] = []

    def loop(cancel: CancelToken, progress: ProgressCallback) -> None:
        started.set()
        for i in range(10_000):
            progress(Progress("syncing", i, 10_000))
            cancel.raise_if_cancelled()
            threading.Event().wait(0.005)

    panel = TaskProgress()
    qtbot.addWidget(panel)
    handle = runner.run(loop, key="sync", label="Syncing", on_failure=failures.append)
    panel.track(handle)
    assert panel.isHidden()  # nothing flashes for short tasks
    with qtbot.waitSignal(handle.progress_due, timeout=2000):
        pass
    assert panel.handle is handle and "syncing" in panel.label.text()
    panel.cancel_button.click()
    with qtbot.waitSignal(handle.finished, timeout=5000):
        pass
    assert len(failures) == 1 and isinstance(failures[0], Cancelled)
    assert panel.handle is None


def test_shutdown_cancels_and_waits_for_every_worker(qtbot: QtBot) -> None:
    runner = TaskRunner()
    running = threading.Event()
    results: list[object] = []

    def loop(cancel: CancelToken, progress: ProgressCallback) -> None:
        running.set()
        while not cancel.cancelled:
            threading.Event().wait(0.01)

    for i in range(3):
        runner.run(loop, key=f"k{i}", on_success=results.append, on_failure=results.append)
    assert running.wait(5)
    assert runner.shutdown(5000)
    # The workers' queued results are all posted by now; deliver them.
    QCoreApplication.processEvents()
    assert results == []  # callbacks of a shut-down runner are dropped
    with pytest.raises(RuntimeError):
        runner.run(loop, key="late")


def test_ledger_readers_parked_on_the_fold_leave_the_screen_its_threads(
    runner: TaskRunner, qtbot: QtBot
) -> None:
    """Readers of the authority fold wait for each other on its lock; they must not fill
    the pool the audit trail's next page of events needs (a million-event ledger did)."""
    fold = threading.Lock()
    fold.acquire()  # a long first catch-up holds the fold

    def reader(cancel: CancelToken, progress: ProgressCallback) -> str:
        with fold:
            return "read"

    readers = [
        runner.run(reader, key=f"reader-{i}", lane=Lane.LEDGER, on_success=lambda _r: None)
        for i in range(6)
    ]
    try:
        page = runner.run(lambda cancel, progress: "page", key="page", on_success=lambda _r: None)
        with qtbot.waitSignal(page.finished, timeout=5000):
            pass
        assert not any(r.done for r in readers)
    finally:
        fold.release()
    qtbot.waitUntil(lambda: all(r.done for r in readers), timeout=5000)


def test_a_task_superseded_before_it_had_a_thread_never_runs(
    runner: TaskRunner, qtbot: QtBot
) -> None:
    gate = threading.Event()
    ran: list[str] = []

    def hold(cancel: CancelToken, progress: ProgressCallback) -> None:
        gate.wait(5)

    def work(cancel: CancelToken, progress: ProgressCallback) -> None:
        ran.append("stale")

    holder = runner.run(hold, key="hold", lane=Lane.LEDGER)
    stale = runner.run(work, key="refresh", lane=Lane.LEDGER)
    fresh = runner.run(
        lambda cancel, progress: ran.append("fresh"), key="refresh", lane=Lane.LEDGER
    )
    gate.set()
    with qtbot.waitSignal(fresh.finished, timeout=5000):
        pass
    assert holder.done and stale.done
    assert ran == ["fresh"]
