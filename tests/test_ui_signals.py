"""emit(): signals emitted from Python must not eat references to True.

PySide6 6.12.0's SignalInstance.emit() returns a borrowed True; each emit takes one
reference away, and CPython 3.11 aborts when True's count reaches zero. A long
session (progress reports, selection changes) gets there.
"""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import QObject, Signal

from app.ui.common.signals import emit

pytestmark = pytest.mark.gui


class Source(QObject):
    changed = Signal(object)


def test_many_emits_keep_true_alive() -> None:
    source = Source()
    received: list[object] = []
    source.changed.connect(received.append)
    emit(source.changed, 0)  # the first call probes the binding
    before = sys.getrefcount(True)
    for i in range(5000):
        emit(source.changed, i)
    # Other threads may hold or drop a few references meanwhile; a leak is 5000.
    assert abs(sys.getrefcount(True) - before) < 50
    assert len(received) == 5001


def test_emits_from_worker_threads_keep_true_alive() -> None:
    source = Source()
    emit(source.changed, None)
    before = sys.getrefcount(True)

    def work() -> None:
        for _ in range(1000):
            emit(source.changed, None)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert abs(sys.getrefcount(True) - before) < 50
