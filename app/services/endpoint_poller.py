"""Background polling of every serving endpoint on the schedule the user set.

One scheduler thread decides what is due; probes run in a small thread pool, each
bounded by its endpoint's own timeout, so a slow or dead endpoint holds one worker
for at most its timeout and never delays the others. No Qt here: the console
subscribes a callback and hops to its GUI thread itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from app.domain.cancel import CancelToken
from app.domain.endpoints import EndpointConfig
from app.domain.errors import GavelError
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.endpoints import EndpointService, ProbeOutcome

log = logging.getLogger("gavel.endpoints.poller")

PROBE_PHASE = "Probing endpoints"
DEFAULT_WORKERS = 4
# How often the scheduler looks at config.toml for added, removed or changed endpoints.
_CONFIG_CHECK_S = 1.0
COMPACT_EVERY_S = 3600.0


@dataclass(frozen=True)
class ProbeFailure:
    """A probe that could not complete (the cache was busy, a token is missing...)."""

    endpoint: str
    message: str


OutcomeCallback = Callable[[ProbeOutcome], None]
FailureCallback = Callable[[ProbeFailure], None]


class EndpointPoller:
    """Probes every endpoint every interval (its own, else the global one).

    workers: size of the probe pool; interval_s: overrides the global interval from
    config.toml when set (benchmarks, tests).
    """

    def __init__(
        self,
        service: EndpointService,
        *,
        workers: int = DEFAULT_WORKERS,
        interval_s: float | None = None,
        compact_every_s: float = COMPACT_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._workers = max(1, workers)
        self._interval_override = interval_s
        self._compact_every_s = compact_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._next_due: dict[str, float] = {}
        self._in_flight: set[str] = set()
        self._on_outcome: list[OutcomeCallback] = []
        self._on_failure: list[FailureCallback] = []
        self.probes_done = 0

    # -- observers -----------------------------------------------------------------------

    def subscribe(
        self, on_outcome: OutcomeCallback, on_failure: FailureCallback | None = None
    ) -> Callable[[], None]:
        """Call on_outcome after each probe (on a pool thread); returns an unsubscribe."""
        with self._lock:
            self._on_outcome.append(on_outcome)
            if on_failure is not None:
                self._on_failure.append(on_failure)

        def unsubscribe() -> None:
            with self._lock:
                if on_outcome in self._on_outcome:
                    self._on_outcome.remove(on_outcome)
                if on_failure is not None and on_failure in self._on_failure:
                    self._on_failure.remove(on_failure)

        return unsubscribe

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start polling in the background (no-op when running)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="gavel-probe")
            self._thread = threading.Thread(
                target=self._run, name="gavel-endpoint-poller", daemon=True
            )
            self._thread.start()
        log.info("endpoint poller started (%d workers)", self._workers)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop scheduling, let probes in flight finish (each within its timeout), join."""
        with self._lock:
            thread, pool = self._thread, self._pool
            self._thread, self._pool = None, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout_s)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._in_flight.clear()
            self._next_due.clear()
        log.info("endpoint poller stopped")

    def poll_now(self, name: str | None = None) -> None:
        """Probe one endpoint (or all) at the next turn instead of waiting for its interval."""
        with self._lock:
            if name is None:
                self._next_due.clear()
            else:
                self._next_due.pop(name, None)
        self._wake.set()

    def set_interval(self, seconds: float) -> None:
        """Set the global interval (saved in config.toml) and reschedule."""
        self._service.set_poll_interval_s(seconds)
        self.poll_now()

    # -- one-shot, for the CLI -----------------------------------------------------------

    def probe_all(
        self,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        names: Sequence[str] | None = None,
    ) -> list[ProbeOutcome | ProbeFailure]:
        """Probe every endpoint (or those named) once, in parallel; in config order."""
        configs = self._service.configs()
        if names is not None:
            configs = [c for c in configs if c.name in set(names)]
        total = len(configs)
        progress(Progress(PROBE_PHASE, 0, total))
        results: dict[str, ProbeOutcome | ProbeFailure] = {}
        with ThreadPoolExecutor(
            min(self._workers, max(total, 1)), thread_name_prefix="gavel-probe-once"
        ) as pool:
            futures = {pool.submit(self._probe_safely, c): c.name for c in configs}
            try:
                for done in as_completed(futures):
                    results[futures[done]] = done.result()
                    progress(Progress(PROBE_PHASE, len(results), total))
                    if cancel is not None:
                        cancel.raise_if_cancelled()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return [results[c.name] for c in configs]

    # -- internals -----------------------------------------------------------------------

    def _interval(self, cfg: EndpointConfig, default: float) -> float:
        return cfg.interval_s or self._interval_override or default

    def _run(self) -> None:
        # First compaction soon after start (the console may have been closed for days).
        next_compact = self._monotonic() + min(60.0, self._compact_every_s)
        configs: list[EndpointConfig] = []
        default = 30.0
        next_config_check = 0.0
        while not self._stop.is_set():
            now = self._monotonic()
            if now >= next_config_check:
                try:
                    configs = self._service.configs()
                    default = self._service.poll_interval_s()
                except GavelError as exc:
                    log.warning("endpoint configuration unreadable: %s", exc.message)
                next_config_check = now + _CONFIG_CHECK_S
            self._submit_due(configs, default, now)
            if now >= next_compact:
                next_compact = now + self._compact_every_s
                self._submit(self._compact)
            with self._lock:
                due = [self._next_due.get(c.name, now) for c in configs]
            wake_at = min([*due, next_config_check, next_compact])
            self._wake.wait(max(0.0, min(wake_at - self._monotonic(), _CONFIG_CHECK_S)))
            self._wake.clear()

    def _submit_due(self, configs: list[EndpointConfig], default: float, now: float) -> None:
        names = {c.name for c in configs}
        with self._lock:
            for gone in set(self._next_due) - names:
                del self._next_due[gone]
            due = [
                c
                for c in configs
                if c.name not in self._in_flight and self._next_due.get(c.name, now) <= now
            ]
            for cfg in due:
                self._in_flight.add(cfg.name)
                # Scheduled from the start of this probe, so the cadence does not drift.
                self._next_due[cfg.name] = now + self._interval(cfg, default)
        for cfg in due:
            if not self._submit(self._probe_and_publish, cfg):
                with self._lock:
                    self._in_flight.discard(cfg.name)

    def _submit(self, fn: Callable[..., object], *args: object) -> Future[object] | None:
        pool = self._pool
        if pool is None or self._stop.is_set():
            return None
        try:
            return pool.submit(fn, *args)
        except RuntimeError:  # shut down meanwhile
            return None

    def _probe_and_publish(self, cfg: EndpointConfig) -> None:
        try:
            result = self._probe_safely(cfg)
        finally:
            with self._lock:
                self._in_flight.discard(cfg.name)
                self.probes_done += 1
            self._wake.set()
        with self._lock:
            on_outcome, on_failure = list(self._on_outcome), list(self._on_failure)
        try:
            if isinstance(result, ProbeOutcome):
                for outcome_cb in on_outcome:
                    outcome_cb(result)
            else:
                for failure_cb in on_failure:
                    failure_cb(result)
        except Exception:
            log.exception("endpoint poller callback failed")

    def _probe_safely(self, cfg: EndpointConfig) -> ProbeOutcome | ProbeFailure:
        try:
            return self._service.probe_config(cfg)
        except GavelError as exc:
            log.warning("probe of %s failed: %s", cfg.name, exc.message)
            return ProbeFailure(cfg.name, exc.message)
        except Exception:
            # A bug in one probe must not stop the polling of every endpoint.
            log.exception("probe of %s crashed", cfg.name)
            return ProbeFailure(cfg.name, f"Probing endpoint '{cfg.name}' failed unexpectedly.")

    def _compact(self) -> None:
        try:
            self._service.compact()
        except GavelError as exc:
            log.warning("endpoint sample compaction failed: %s", exc.message)
