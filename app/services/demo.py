"""The demo registry: a local MLflow on loopback, seeded once, that the console
starts on an empty profile and stops when it quits. In the demo profile it also
writes the demo's history into that profile's team ledger, once (see demo_story)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from app.domain.cancel import CancelToken
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.domain.registry import RegistryConfig
from app.services.registries import RegistryService

log = logging.getLogger("gavel.demo")

DEMO_NAME = "demo"

# Writes the demo's history: (the registry, its MLflow database, progress, cancel).
DemoStory = Callable[[RegistryConfig, Path, ProgressCallback, CancelToken], None]


class DemoService:
    def __init__(
        self, data_dir: Path, registries: RegistryService, story: DemoStory | None = None
    ) -> None:
        self._dir = data_dir
        self._registries = registries
        self._story = story
        self._server: object | None = None

    @property
    def tells_a_story(self) -> bool:
        """Whether this is the demo profile, whose ledger holds the demo's history."""
        return self._story is not None

    @property
    def running(self) -> bool:
        return self._server is not None

    def configured(self) -> RegistryConfig | None:
        for cfg in self._registries.configs():
            if cfg.is_demo:
                return cfg
        return None

    def start(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> RegistryConfig:
        """Start the demo server (seeding it the first time) and register it."""
        from app.connectors.mlflow_registry import MlflowRegistryClient
        from app.services.demo_portfolio import seed_demo_portfolio
        from app.services.mlflow_process import MlflowServerProcess

        cancel = cancel or CancelToken()
        self._dir.mkdir(parents=True, exist_ok=True)
        progress(Progress("Starting the demo registry"))
        server = MlflowServerProcess(self._dir)
        server.start()
        self._server = server
        cfg = self.configured()
        if cfg is None:
            cfg = RegistryConfig(name=DEMO_NAME, url=server.url, is_demo=True)
            self._registries.add(cfg)
        elif cfg.url != server.url:
            self._registries.set_url(cfg.name, server.url)
            cfg = self._registries.get(cfg.name)
        marker = self._dir / "seeded"
        if not marker.exists():
            progress(Progress("Seeding the demo portfolio"))
            with MlflowRegistryClient(cfg, None) as client:
                seed_demo_portfolio(client, progress=progress, cancel=cancel)
            marker.write_text("ok\n")
        told = self._dir / "story-written"
        if self._story is not None and not told.exists():
            progress(Progress("Writing the demo's history"))
            self._story(cfg, server.store_path, progress, cancel)
            told.write_text("ok\n")
        log.info("demo registry running at %s", server.url)
        return cfg

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
            log.info("demo registry stopped")
