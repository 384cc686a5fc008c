"""Composition root: the only place that builds engines, stores, connectors and services."""

from __future__ import annotations

import logging
import logging.handlers
import os
from dataclasses import dataclass, field
from pathlib import Path

from app.connectors.credentials import CredentialStore, resolve_registry_secret
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.registry import ConnectionReport, RegistryConfig
from app.services.demo import DemoService
from app.services.portfolio import PortfolioService
from app.services.registries import RegistryService
from app.services.sync import SyncService
from app.stores.config_file import ConfigFile
from app.stores.engine import Database, sqlite_url
from app.stores.migrate import open_database
from app.stores.paths import AppPaths, resolve_paths
from app.stores.portfolio_queries import PortfolioQueries
from app.stores.snapshot_writer import SnapshotWriter

log = logging.getLogger("gavel")


@dataclass
class AppContext:
    paths: AppPaths
    config: ConfigFile
    db: Database
    credentials: CredentialStore
    registries: RegistryService
    sync: SyncService
    portfolio: PortfolioService
    demo: DemoService
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.demo.stop()
        self.db.dispose()


def setup_logging(paths: AppPaths, verbose: bool = False) -> None:
    root = logging.getLogger("gavel")
    if any(getattr(h, "_gavel", False) for h in root.handlers):
        return
    handler = logging.handlers.RotatingFileHandler(
        paths.log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._gavel = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def build_context(paths: AppPaths | None = None, db_url: str | None = None) -> AppContext:
    paths = paths or resolve_paths()
    paths.ensure()
    setup_logging(paths)
    config = ConfigFile(paths.config_file)
    db = open_database(db_url or sqlite_url(paths.cache_db))
    credentials = CredentialStore()
    if not credentials.persistent:
        log.warning("%s", credentials.describe())

    def reader(cfg: RegistryConfig) -> MlflowRegistryClient:
        return MlflowRegistryClient(cfg, resolve_registry_secret(cfg, credentials, os.environ))

    def prober(cfg: RegistryConfig, secret: str | None) -> ConnectionReport:
        with MlflowRegistryClient(cfg, secret) as client:
            return client.probe()

    queries = PortfolioQueries(db)
    writer = SnapshotWriter(db)
    registries = RegistryService(config, queries, writer, credentials, prober)
    return AppContext(
        paths=paths,
        config=config,
        db=db,
        credentials=credentials,
        registries=registries,
        sync=SyncService(config, writer, reader),
        portfolio=PortfolioService(queries),
        demo=DemoService(paths.demo_dir, registries),
    )


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
