"""The console's side of the EndpointPoller: start and stop it, and bring its probe
outcomes (reported on the poller's threads) to the GUI thread as Qt signals.

The public signals are emitted on the GUI thread only. A poller thread emits a
private signal whose receiver is the monitor's own slot (a queued call Qt owns);
the slot re-emits. Connecting plain Python callables (lambdas, a waitSignal
blocker) straight to a signal emitted from a foreign thread crashed PySide6 when
such a connection was torn down while a queued call to it was pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from app.services.endpoint_poller import EndpointPoller, ProbeFailure
from app.services.endpoints import ProbeOutcome
from app.ui.common.signals import emit

log = logging.getLogger("gavel.ui.endpoints")


class EndpointMonitor(QObject):
    """Lives on the GUI thread; its signals, emitted from poller threads, are queued."""

    outcome = Signal(object)  # ProbeOutcome
    failure = Signal(object)  # ProbeFailure
    running_changed = Signal(bool)
    # Emitted on poller threads; delivered, queued, to the slots below.
    _outcome_reported = Signal(object)
    _failure_reported = Signal(object)

    def __init__(self, poller: EndpointPoller, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._poller = poller
        self._unsubscribe: Callable[[], None] | None = None
        self._outcome_reported.connect(self._deliver_outcome)
        self._failure_reported.connect(self._deliver_failure)

    @property
    def running(self) -> bool:
        return self._poller.running

    def start(self) -> None:
        """Start polling in the background (no-op when running)."""
        if self._unsubscribe is None:
            self._unsubscribe = self._poller.subscribe(self._on_outcome, self._on_failure)
        self._poller.start()
        emit(self.running_changed, True)

    def stop(self) -> None:
        """Stop polling; waits for probes in flight (each bounded by its timeout)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._poller.stop()
        emit(self.running_changed, False)

    def poll_now(self, name: str | None = None) -> None:
        self._poller.poll_now(name)

    def set_interval(self, seconds: float) -> None:
        """The global polling interval, saved in config.toml (a small file write)."""
        self._poller.set_interval(seconds)

    # Called on poller threads: nothing here but a queued emit.
    def _on_outcome(self, outcome: ProbeOutcome) -> None:
        self._send(self._outcome_reported, outcome)

    def _on_failure(self, failure: ProbeFailure) -> None:
        self._send(self._failure_reported, failure)

    # On the GUI thread. A probe that finished while stop() waited for it arrives
    # after the stop: nobody asked for it any more.
    @Slot(object)
    def _deliver_outcome(self, outcome: ProbeOutcome) -> None:
        if self._unsubscribe is not None:
            emit(self.outcome, outcome)

    @Slot(object)
    def _deliver_failure(self, failure: ProbeFailure) -> None:
        if self._unsubscribe is not None:
            emit(self.failure, failure)

    def _send(self, signal: object, payload: object) -> None:
        try:
            emit(signal, payload)  # type: ignore[arg-type]
        except RuntimeError:
            # The monitor was deleted while a probe finished: nobody is listening.
            log.debug("probe result dropped: the console is closing")
