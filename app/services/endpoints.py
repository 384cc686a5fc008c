"""Serving endpoints: add, edit, remove, probe one, compare with the approved version.

Blocking and thread-safe: two probes of the same endpoint never run at once, probes
of different endpoints run side by side (see EndpointPoller).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from app.domain.endpoint_metrics import WindowStats, compute_window
from app.domain.endpoints import (
    EndpointConfig,
    EndpointKind,
    EndpointObservation,
    EndpointRecord,
    EndpointSample,
    url_without_credentials,
)
from app.domain.errors import UsageError
from app.domain.ledger import LedgerAction
from app.domain.serving import ServingCatalog, ServingState, ServingStatus, assess_serving
from app.services.audit import AuditService
from app.stores.config_file import ConfigFile
from app.stores.endpoint_config import EndpointConfigFile
from app.stores.endpoint_history import CompactionStats, EndpointHistory
from app.stores.endpoint_store import EndpointStore

log = logging.getLogger("gavel.endpoints")

# The actor of events Gavel records from what it observes, not from a person's decision.
OBSERVER = "gavel-poller"


class EndpointProber(Protocol):
    """What the service needs from an endpoint connector (see EndpointClient)."""

    def probe(self, candidate_labels: Sequence[str] = ...) -> EndpointObservation: ...

    def close(self) -> None: ...


# Builds a connector for an endpoint; token is its bearer token, if any.
ProberFactory = Callable[[EndpointConfig, str | None], EndpointProber]
# Records a drift, or its end (a MATCH status), in the audit ledger (bound by bootstrap).
DriftRecorder = Callable[[EndpointConfig, ServingStatus], None]


@dataclass(frozen=True)
class EndpointStatus:
    """An endpoint's settings with what the cache last observed of it."""

    config: EndpointConfig
    record: EndpointRecord


@dataclass(frozen=True)
class ProbeOutcome:
    config: EndpointConfig
    observation: EndpointObservation
    serving: ServingStatus
    # Serving figures since the previous scrape (None on the first, or without metrics).
    stats: WindowStats | None
    # True when this probe recorded a new drift in the audit ledger.
    drift_recorded: bool = False


class EndpointService:
    """Endpoint use cases over config.toml (definitions) and the cache (observations).

    drift_recorder: called once per new drift and once when it ends; None leaves drift in
    the cache only.
    """

    def __init__(
        self,
        config: EndpointConfigFile,
        registries: ConfigFile,
        store: EndpointStore,
        history: EndpointHistory,
        prober_factory: ProberFactory,
        drift_recorder: DriftRecorder | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._registries = registries
        self._store = store
        self._history = history
        self._factory = prober_factory
        self._drift_recorder = drift_recorder
        self._clock = clock
        self._lock = threading.Lock()
        self._probers: dict[str, tuple[EndpointConfig, EndpointProber]] = {}
        self._probe_locks: dict[str, threading.Lock] = {}

    # -- definitions ---------------------------------------------------------------------

    def configs(self) -> list[EndpointConfig]:
        return self._config.endpoints()

    def get(self, name: str) -> EndpointConfig:
        return self._config.endpoint(name)

    def add(self, cfg: EndpointConfig) -> None:
        """Add an endpoint bound to a configured registry."""
        self._registries.registry(cfg.registry)  # a clear error for an unknown registry
        self._config.add_endpoint(cfg)
        self._store.ensure(cfg.name)
        log.info(
            "endpoint %s added (%s, %s)",
            cfg.name,
            cfg.kind.value,
            url_without_credentials(cfg.url),
        )

    def update(self, old_name: str, cfg: EndpointConfig) -> None:
        """Change an endpoint; a new name keeps its history."""
        self._registries.registry(cfg.registry)
        self._config.update_endpoint(old_name, cfg)
        if cfg.name != old_name:
            self._store.rename(old_name, cfg.name)
        self._forget_prober(old_name)
        log.info("endpoint %s updated", cfg.name)

    def remove(self, name: str) -> None:
        """Forget an endpoint and its sampled history (drift events stay in the ledger)."""
        self._config.remove_endpoint(name)
        self._store.drop(name)
        self._forget_prober(name)
        log.info("endpoint %s removed", name)

    def poll_interval_s(self) -> float:
        return self._config.poll_interval_s()

    def set_poll_interval_s(self, seconds: float) -> None:
        self._config.set_poll_interval_s(seconds)

    def statuses(self) -> list[EndpointStatus]:
        records = self._store.records()
        return [
            EndpointStatus(cfg, records.get(cfg.name, EndpointRecord(cfg.name)))
            for cfg in self._config.endpoints()
        ]

    # -- probing -------------------------------------------------------------------------

    def probe(self, name: str) -> ProbeOutcome:
        return self.probe_config(self.get(name))

    def probe_config(self, cfg: EndpointConfig) -> ProbeOutcome:
        """Probe one endpoint, store the sample, compare with its alias, record drift."""
        with self._probe_lock(cfg.name):
            catalog = self._store.serving_catalog(cfg.registry, cfg.model)
            obs = self._prober(cfg).probe(candidate_labels(cfg, catalog))
            record = self._store.record(cfg.name)
            serving = assess_serving(
                endpoint=cfg.name,
                registry=cfg.registry,
                model=cfg.model,
                alias=cfg.alias,
                catalog=catalog,
                identifiers=served_identifiers(cfg, obs),
                version_map=cfg.version_map,
                unreachable_reason="" if obs.up else obs.reason,
            )
            stats = None
            if obs.snapshot is not None and record.last_scrape is not None:
                stats = compute_window(record.last_scrape, obs.snapshot)
            self._store.save_probe(obs, serving, stats)
            recorded = self._track_drift(cfg, record, serving)
        return ProbeOutcome(cfg, obs, serving, stats, recorded)

    def _track_drift(
        self, cfg: EndpointConfig, record: EndpointRecord, serving: ServingStatus
    ) -> bool:
        """Record a new drift, or the end of a recorded one; True for a new drift.

        An unreachable or unknown state changes nothing: only a probe that saw what is
        served can say the drift began or ended.
        """
        old, new = record.drift_key, serving.drift_key
        resolved = serving.state is ServingState.MATCH and bool(old)
        if not resolved and (serving.state is not ServingState.DRIFT or new == old):
            return False
        # The claim makes one process, and one probe, record this change.
        if not self._store.claim_drift(cfg.name, old, new):
            return False
        if self._drift_recorder is None:
            log.warning("serving drift change on %s not recorded: no audit ledger", cfg.name)
            return False
        try:
            self._drift_recorder(cfg, serving)
        except BaseException:
            self._store.claim_drift(cfg.name, new, old)
            raise
        if resolved:
            log.info("serving drift on %s resolved: %s", cfg.name, serving.reason)
            return False
        log.warning("serving drift on %s: %s", cfg.name, serving.reason)
        return True

    def _prober(self, cfg: EndpointConfig) -> EndpointProber:
        with self._lock:
            held = self._probers.get(cfg.name)
            if held is not None and held[0] == cfg:
                return held[1]
            if held is not None:
                held[1].close()
            token = os.environ.get(cfg.token_env) if cfg.token_env else None
            if cfg.token_env and not token:
                raise UsageError(
                    f"Endpoint '{cfg.name}' needs a token in the environment variable "
                    f"{cfg.token_env}, which is not set."
                )
            prober = self._factory(cfg, token)
            self._probers[cfg.name] = (cfg, prober)
            return prober

    def _probe_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._probe_locks.setdefault(name, threading.Lock())

    def _forget_prober(self, name: str) -> None:
        with self._lock:
            held = self._probers.pop(name, None)
        if held is not None:
            held[1].close()

    def close(self) -> None:
        with self._lock:
            probers, self._probers = list(self._probers.values()), {}
        for _, prober in probers:
            prober.close()

    # -- history -------------------------------------------------------------------------

    def series(
        self, name: str, since: datetime, until: datetime, max_points: int = 500
    ) -> list[EndpointSample]:
        """An endpoint's samples over [since, until), at most max_points of them."""
        return self._history.series(name, since, until, max_points)

    def compact(self, now: datetime | None = None) -> CompactionStats:
        """Merge aged samples into minute and hour rows (nothing is dropped)."""
        stats = self._history.compact(now or self._clock())
        if stats.rows_before != stats.rows_after:
            log.info(
                "endpoint samples compacted: %d rows -> %d (%d probes)",
                stats.rows_before,
                stats.rows_after,
                stats.probes,
            )
        return stats


def ledger_drift_recorder(
    audit: AuditService, actor: Callable[[], str | None] = lambda: None
) -> DriftRecorder:
    """Record each new drift as a serving.drift_observed event about the endpoint's model,
    and its end (the alias's version served again) as serving.drift_resolved.

    actor: who is observing (the console's user), or None for OBSERVER.
    """

    def record(cfg: EndpointConfig, status: ServingStatus) -> None:
        action = (
            LedgerAction.SERVING_DRIFT_RESOLVED
            if status.state is ServingState.MATCH
            else LedgerAction.SERVING_DRIFT_OBSERVED
        )
        audit.record(
            actor() or OBSERVER,
            action,
            cfg.subject,
            before={"alias": cfg.alias, "version": status.expected_version},
            after={
                "endpoint": cfg.name,
                "url": cfg.url,
                "served_versions": list(status.served_versions),
                "served_label": status.served_label,
            },
            reason=status.reason,
        )

    return record


def candidate_labels(cfg: EndpointConfig, catalog: ServingCatalog) -> list[str]:
    """Version labels to try when an OIP server names none: the approved version first."""
    if cfg.kind is not EndpointKind.OIP:
        return []
    expected = catalog.aliases.get(cfg.alias)
    order = [v.version for v in catalog.versions]
    if expected is not None:
        order = [expected, *(v for v in order if v != expected)]
    mapped = [[k for k, v in cfg.version_map.items() if v == n] for n in order]
    labels = [label for group in mapped for label in group]
    labels += [f"v{n}" for n in order] + [str(n) for n in order]
    return list(dict.fromkeys(labels))


def served_identifiers(cfg: EndpointConfig, obs: EndpointObservation) -> list[str]:
    """What identifies the served model: the server's own words, else the configuration."""
    if obs.reported_versions:
        return list(obs.reported_versions)
    if cfg.served_model:
        return [cfg.served_model]
    if cfg.kind is EndpointKind.MLFLOW:
        # The scoring server never says; the version map names what was deployed.
        return list(cfg.version_map)
    return []
