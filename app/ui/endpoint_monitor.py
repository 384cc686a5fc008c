"""The console's side of the EndpointPoller: start and stop it, and bring its probe
outcomes (reported on the poller's threads) to the GUI thread as Qt signals."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.services.endpoint_poller import EndpointPoller, ProbeFailure
from app.services.endpoints import ProbeOutcome
from app.ui.signals import emit

log = logging.getLogger("gavel.ui.endpoints")


class EndpointMonitor(QObject):
    """Lives on the GUI thread; its signals, emitted from poller threads, are queued."""

    outcome = Signal(object)  # ProbeOutcome
    failure = Signal(object)  # ProbeFailure
    running_changed = Signal(bool)

    def __init__(self, poller: EndpointPoller, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._poller = poller
        self._unsubscribe: Callable[[], None] | None = None

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
        self._send(self.outcome, outcome)

    def _on_failure(self, failure: ProbeFailure) -> None:
        self._send(self.failure, failure)

    def _send(self, signal: object, payload: object) -> None:
        try:
            emit(signal, payload)  # type: ignore[arg-type]
        except RuntimeError:
            # The monitor was deleted while a probe finished: nobody is listening.
            log.debug("probe result dropped: the console is closing")
