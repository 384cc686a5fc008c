"""Sync: mirror one registry (or all) into the cache as one consistent snapshot."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from app.domain.cancel import CancelToken
from app.domain.entities import AliasChange, ModelVersion, RegisteredModel, Run
from app.domain.errors import Cancelled, GavelError
from app.domain.governance import STAGE_NONE, stage_name
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.domain.registry import RegistryConfig
from app.stores.config_file import ConfigFile
from app.stores.snapshot_writer import SnapshotWriter

log = logging.getLogger("gavel.sync")


class RegistryReader(Protocol):
    """What sync needs from a registry connector."""

    def list_registered_models(
        self, cancel: CancelToken | None = ..., progress: ProgressCallback | None = ...
    ) -> list[RegisteredModel]: ...

    def list_model_versions(
        self,
        cancel: CancelToken | None = ...,
        progress: ProgressCallback | None = ...,
        *,
        model_names: Sequence[str] | None = ...,
    ) -> list[ModelVersion]: ...

    def fetch_runs(
        self,
        run_ids: Sequence[str],
        cancel: CancelToken | None = ...,
        progress: ProgressCallback | None = ...,
    ) -> dict[str, Run]: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def close(self) -> None: ...


ReaderFactory = Callable[[RegistryConfig], RegistryReader]
# Told after each successful sync: registry name, model -> alias -> version, and
# model -> version -> stage for the versions in an MLflow stage (not "None").
SyncObserver = Callable[
    [str, Mapping[str, Mapping[str, int]], Mapping[str, Mapping[int, str]]], object
]


@dataclass(frozen=True)
class SyncResult:
    registry: str
    models: int
    versions: int
    runs_fetched: int
    runs_reused: int
    alias_changes: tuple[AliasChange, ...]
    synced_at: datetime
    duration_s: float
    # Sentences about follow-up work that failed (e.g. recording alias moves in the
    # ledger); the snapshot itself was saved.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyncOutcome:
    """Result of one registry within a sync of several: a result or the error, whose
    type says whether the registry was unreachable or refused (the console's "Offline"
    rests on it)."""

    registry: str
    result: SyncResult | None
    error: GavelError | None = None

    @property
    def message(self) -> str:
        return self.error.message if self.error is not None else ""


class RegistrySyncer(Protocol):
    """Syncs one registry: SyncService here, or the console's child-process sync."""

    def sync(
        self, name: str, progress: ProgressCallback = ..., cancel: CancelToken | None = ...
    ) -> SyncResult: ...


def sync_each(
    syncer: RegistrySyncer,
    names: Sequence[str],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> list[SyncOutcome]:
    """Sync several registries; one failing does not stop the others. The one loop the
    command line and the console share."""
    cancel = cancel or CancelToken()
    outcomes: list[SyncOutcome] = []
    for name in names:
        cancel.raise_if_cancelled()
        try:
            outcomes.append(SyncOutcome(name, syncer.sync(name, progress, cancel)))
        except Cancelled:
            raise
        except GavelError as exc:
            outcomes.append(SyncOutcome(name, None, exc))
    return outcomes


class SyncService:
    def __init__(
        self,
        config: ConfigFile,
        writer: SnapshotWriter,
        reader_factory: ReaderFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        observers: Sequence[SyncObserver] = (),
    ) -> None:
        self._observers = list(observers)
        self._config = config
        self._writer = writer
        self._reader_factory = reader_factory
        self._clock = clock

    def sync(
        self,
        name: str,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> SyncResult:
        """Full sync of one registry; the cache keeps its previous snapshot on any failure."""
        cfg = self._config.registry(name)
        cancel = cancel or CancelToken()
        started = time.perf_counter()
        attempt = self._clock()
        try:
            reader = self._reader_factory(cfg)
            try:
                result = self._sync(cfg, reader, progress, cancel, started)
            finally:
                reader.close()
        except Cancelled:
            log.info("sync of %s cancelled; previous snapshot kept", name)
            raise
        except GavelError as exc:
            log.warning("sync of %s failed: %s", name, exc.message)
            self._writer.record_failure(name, cfg.url, attempt, exc.message)
            raise
        log.info(
            "synced %s: %d models, %d versions, %d runs fetched, %d reused in %.2fs",
            name,
            result.models,
            result.versions,
            result.runs_fetched,
            result.runs_reused,
            result.duration_s,
        )
        return result

    def _sync(
        self,
        cfg: RegistryConfig,
        reader: RegistryReader,
        progress: ProgressCallback,
        cancel: CancelToken,
        started: float,
    ) -> SyncResult:
        progress(Progress(f"{cfg.name}: reading models"))
        models = reader.list_registered_models(cancel=cancel, progress=progress)
        cancel.raise_if_cancelled()
        progress(Progress(f"{cfg.name}: reading versions", 0, None))
        versions = reader.list_model_versions(cancel=cancel, progress=progress)
        cancel.raise_if_cancelled()

        wanted = sorted({v.run_id for v in versions if v.run_id})
        # Alias moves and tag edits do not touch MLflow's timestamps, so models and
        # versions are always read in full; runs that had ended when last cached do
        # not change any more and are reused.
        reusable = self._writer.cached_terminal_runs(cfg.name)
        to_fetch = [r for r in wanted if r not in reusable]
        progress(Progress(f"{cfg.name}: reading runs", 0, len(to_fetch)))
        runs = reader.fetch_runs(to_fetch, cancel=cancel, progress=progress) if to_fetch else {}
        cancel.raise_if_cancelled()

        progress(Progress(f"{cfg.name}: saving snapshot", 0, None))
        synced_at = self._clock()
        _, changes = self._writer.write(
            cfg.name, cfg.url, models, versions, runs, synced_at, cancel=cancel
        )
        notes = []
        aliases = {m.name: dict(m.aliases) for m in models}
        stages: dict[str, dict[int, str]] = {}
        for v in versions:
            if stage_name(v.current_stage) != STAGE_NONE:
                stages.setdefault(v.model_name, {})[v.version] = v.current_stage
        for observer in self._observers:
            try:
                observer(cfg.name, aliases, stages)
            except GavelError as exc:
                # The observers compare against the ledger, so the next sync retries.
                log.warning("after syncing %s: %s", cfg.name, exc.message)
                notes.append(exc.message)
        return SyncResult(
            registry=cfg.name,
            models=len(models),
            versions=len(versions),
            runs_fetched=len(runs),
            runs_reused=len(wanted) - len(to_fetch),
            alias_changes=tuple(changes),
            synced_at=synced_at,
            duration_s=time.perf_counter() - started,
            notes=tuple(notes),
        )

    def refresh_model(self, registry: str, model: str) -> bool:
        """Re-read one model (and its versions) from the registry into the cache, so a
        view shows what an action just changed without waiting for the next sync.

        Returns False when the model is not cached yet (a sync brings it)."""
        cfg = self._config.registry(registry)
        reader = self._reader_factory(cfg)
        try:
            fresh = reader.get_registered_model(model)
            versions = reader.list_model_versions(model_names=[model])
        finally:
            reader.close()
        written = self._writer.refresh_model(registry, fresh, versions, datetime.now(UTC))
        log.info("refreshed %s/%s from the registry", registry, model)
        return written

    def sync_all(
        self,
        names: Sequence[str] | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> list[SyncOutcome]:
        """Sync several registries (default: all); one failing does not stop the others."""
        targets = list(names) if names else [r.name for r in self._config.registries()]
        return sync_each(self, targets, progress, cancel)
