"""Sync and demo start-up as background tasks, and what the session learnt from them."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from app.domain.errors import Cancelled, GavelError, RegistryUnavailable
from app.presentation.console_state import FailureKind
from app.services.sync import SyncOutcome, sync_each
from app.ui.common.context import ConsoleContext
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskHandle, TaskRunner

log = logging.getLogger("gavel.ui.sync")

SYNC_TASK = "sync"
DEMO_TASK = "demo"


class SyncController(QObject):
    # A sync or demo start began (TaskHandle) or ended; the window re-reads statuses.
    task_started = Signal(object)
    sync_finished = Signal(object)  # list[SyncOutcome]
    sync_failed = Signal(str)  # cancelled, or the cache could not be written
    demo_ready = Signal()
    # A targeted refresh re-read one model: (registry, model, written). written False:
    # the model is not cached yet (the next sync brings it).
    model_refreshed = Signal(str, str, bool)
    refresh_failed = Signal(str, str, object)  # registry, model, GavelError
    demo_failed = Signal(str)

    def __init__(self, ctx: ConsoleContext, runner: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self._ctx = ctx
        self._runner = runner
        self.failure_kinds: dict[str, FailureKind] = {}
        # Registries synced or tried in this session: what "Online" can rest on.
        self.checked: set[str] = set()

    @property
    def syncing(self) -> bool:
        return self._runner.is_running(SYNC_TASK)

    @property
    def starting_demo(self) -> bool:
        return self._runner.is_running(DEMO_TASK)

    @property
    def busy(self) -> bool:
        return self.syncing or self.starting_demo

    def sync(self, names: Sequence[str] | None = None) -> TaskHandle | None:
        """Sync the named registries (all when None); None when one is already running."""
        if self.busy:
            return None
        targets = list(names) if names else [c.name for c in self._ctx.registries.configs()]
        if not targets:
            return None
        # In a child process: a big sync must not hold this interpreter's GIL.
        sync = self._ctx.isolated_sync
        label = f"Syncing {', '.join(targets)}" if len(targets) <= 3 else "Syncing registries"
        handle = self._runner.run(
            lambda cancel, progress: sync_each(sync, targets, progress, cancel),
            key=SYNC_TASK,
            label=label,
            on_success=self._synced,
            on_failure=self._sync_failed,
        )
        emit(self.task_started, handle)
        return handle

    def refresh_model(self, registry: str, model: str) -> TaskHandle:
        """Re-read one model (its aliases, tags, versions) from the registry into the
        cache on a worker, e.g. right after an action changed it; model_refreshed (or
        refresh_failed) follows. A newer refresh of the same model supersedes this one."""
        sync = self._ctx.sync
        return self._runner.run(
            lambda _cancel, _progress: sync.refresh_model(registry, model),
            key=f"refresh-model:{registry}/{model}",
            label=f"Refreshing {model}",
            on_success=lambda written: emit(self.model_refreshed, registry, model, written),
            on_failure=lambda exc: emit(self.refresh_failed, registry, model, exc),
        )

    def start_demo(self) -> TaskHandle | None:
        """Start (and the first time seed) the demo registry, then sync it."""
        if self.busy or self._ctx.demo.running:
            return None
        demo = self._ctx.demo
        handle = self._runner.run(
            lambda cancel, progress: demo.start(progress=progress, cancel=cancel),
            key=DEMO_TASK,
            label="Starting the demo registry",
            on_success=self._demo_started,
            on_failure=lambda exc: emit(self.demo_failed, _demo_failure_text(exc)),
        )
        emit(self.task_started, handle)
        return handle

    def stop_demo(self) -> None:
        demo = self._ctx.demo
        if demo.running:
            self._runner.run(lambda cancel, progress: demo.stop(), key="demo-stop")

    def cancel(self) -> None:
        for key in (SYNC_TASK, DEMO_TASK):
            for handle in self._runner.running(key):
                handle.cancel()

    def _synced(self, outcomes: list[SyncOutcome]) -> None:
        for o in outcomes:
            self.checked.add(o.registry)
            if o.error is None:
                self.failure_kinds.pop(o.registry, None)
            else:
                self.failure_kinds[o.registry] = (
                    FailureKind.OFFLINE
                    if isinstance(o.error, RegistryUnavailable)
                    else FailureKind.ERROR
                )
        emit(self.sync_finished, outcomes)

    def _sync_failed(self, exc: GavelError) -> None:
        if isinstance(exc, Cancelled):
            emit(self.sync_failed, "Sync cancelled; the cache keeps its previous snapshot.")
        else:
            emit(self.sync_failed, exc.message)

    def _demo_started(self, _: object) -> None:
        emit(self.demo_ready)
        cfg = self._ctx.demo.configured()
        if cfg is not None:
            self.sync([cfg.name])


def _demo_failure_text(exc: GavelError) -> str:
    if isinstance(exc, Cancelled):
        return "The demo registry was not started (cancelled)."
    return f"The demo registry could not be started: {exc.message}"
