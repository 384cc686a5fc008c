"""Emit Qt signals from Python without PySide6 6.12.0's reference-count bug.

PySide6 6.12.0's `SignalInstance.emit()` returns `True` without taking a reference
to it, so every emit from Python takes one reference away from `True`. CPython 3.11
does not make `True` immortal: after a few thousand emits the interpreter aborts
("Fatal Python error: bool_dealloc"). Every emit in the console goes through
`emit()`, which gives the reference back when, and only when, a probe at first use
shows the running PySide6 drops it.
"""

from __future__ import annotations

import ctypes
import sys
import threading

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBE_EMITS = 64
_lock = threading.Lock()
_drops_true_ref: bool | None = None


class _Probe(QObject):
    ping = Signal()


def _measure() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    # Other threads may move the count a little; a buggy emit loses one per call.
    return lost >= _PROBE_EMITS // 2


def emit_drops_true_reference() -> bool:
    """Whether this PySide6 build's emit() loses a reference to True (probed once)."""
    global _drops_true_ref
    with _lock:
        if _drops_true_ref is None:
            _drops_true_ref = _measure()
            if _drops_true_ref:
                # The probe itself lost references; give them back.
                for _ in range(_PROBE_EMITS):
                    _give_back_true()
        return _drops_true_ref


def _give_back_true() -> None:
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


def emit(signal: SignalInstance, *args: object) -> None:
    """`signal.emit(*args)`, compensating PySide6 6.12.0's lost reference to True."""
    # The stubs say None; the 6.12.0 binding returns (a borrowed) True.
    result: object = signal.emit(*args)  # type: ignore[func-returns-value]
    if result is True and emit_drops_true_reference():
        _give_back_true()
