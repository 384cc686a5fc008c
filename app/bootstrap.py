"""Composition root: the only place that builds engines, stores, connectors and services."""

from __future__ import annotations

import logging
import logging.handlers
import os
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url

from app.connectors.credentials import CredentialStore, resolve_registry_secret
from app.domain.endpoints import EndpointConfig
from app.domain.errors import GavelError
from app.domain.registry import ConnectionReport, RegistryConfig
from app.services.audit import AuditService
from app.services.demo import DemoService
from app.services.endpoint_poller import EndpointPoller
from app.services.endpoints import EndpointService, ledger_drift_recorder
from app.services.governance import GovernanceService
from app.services.identity import IdentityService, KeyVault
from app.services.lineage import LineageService
from app.services.observations import ChangeObserver
from app.services.performance import PerformanceService
from app.services.portfolio import PortfolioService
from app.services.promotion_apply import PromotionApplier
from app.services.registries import RegistryService
from app.services.sync import SyncObserver, SyncService
from app.services.sync_isolation import IsolatedSync, serve_sync
from app.services.team_ledger import ReadOnlyAudit, TeamLedger
from app.stores.config_file import ConfigFile
from app.stores.endpoint_config import EndpointConfigFile
from app.stores.endpoint_history import EndpointHistory
from app.stores.endpoint_store import EndpointStore
from app.stores.engine import Database, sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.lineage_queries import LineageQueries
from app.stores.migrate import open_database
from app.stores.paths import AppPaths, resolve_paths
from app.stores.performance_queries import PerformanceQueries
from app.stores.portfolio_queries import PortfolioQueries
from app.stores.profile_file import ProfileFile
from app.stores.snapshot_writer import SnapshotWriter

if TYPE_CHECKING:
    from app.connectors.endpoints import EndpointClient
    from app.connectors.mlflow_registry import MlflowRegistryClient

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
    audit: AuditService
    identity: IdentityService
    governance: GovernanceService
    promotions: PromotionApplier
    observer: ChangeObserver
    # The console syncs in a child process (see services.sync_isolation).
    isolated_sync: IsolatedSync
    # Set in team mode while the shared ledger is reachable.
    team_ledger: TeamLedger | None
    endpoints: EndpointService
    # Built stopped: the console starts it, the CLI uses its probe_all.
    endpoint_poller: EndpointPoller
    # Lineage graphs and performance figures, read from the cache only.
    lineage: LineageService
    performance: PerformanceService
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.endpoint_poller.stop()
        self.endpoints.close()
        self.demo.stop()
        if self.team_ledger is not None:
            self.team_ledger.close()
        self.db.dispose()


TEAM_LEDGER_SECRET = "team-ledger"


def open_ledger(
    db: Database, team_url: str, credentials: CredentialStore
) -> tuple[AuditService, TeamLedger | None]:
    """The ledger to use: the cache itself, or the team's shared PostgreSQL.

    In team mode the cache holds a verified replica; when the shared ledger cannot be
    reached the replica is served read-only, so nothing forks the chain.
    """
    local = LedgerStore(db)
    if not team_url:
        return AuditService(local), None
    url = make_url(team_url)
    password = credentials.get(TEAM_LEDGER_SECRET)
    if password:
        url = url.set(password=password)
    try:
        shared_db = open_database(url.render_as_string(hide_password=False))
    except GavelError as exc:
        log.warning("team ledger unreachable: %s", exc.message)
        where = url.render_as_string(hide_password=True)
        return ReadOnlyAudit(local, f"The team ledger at {where} cannot be reached."), None
    shared = LedgerStore(shared_db)
    audit = AuditService(shared)
    team = TeamLedger(shared, local, audit, close=shared_db.dispose)
    try:
        team.pull()
    except GavelError as exc:
        # A replica that no longer matches the shared ledger is exactly what an auditor
        # must hear about; keep going on the shared ledger and say it loudly.
        log.error("team ledger pull refused: %s", exc.message)
    return audit, team


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
    credentials = CredentialStore(allow_plaintext=config.allow_plaintext_keyring())
    if not credentials.persistent:
        log.warning("%s", credentials.describe())

    # Connectors (requests, urllib3, prometheus_client) load on first use, not at
    # start-up: the console paints the cached portfolio before it talks to anyone.
    def reader(cfg: RegistryConfig) -> MlflowRegistryClient:
        from app.connectors.mlflow_registry import MlflowRegistryClient

        return MlflowRegistryClient(cfg, resolve_registry_secret(cfg, credentials, os.environ))

    def prober(cfg: RegistryConfig, secret: str | None) -> ConnectionReport:
        from app.connectors.mlflow_registry import MlflowRegistryClient

        with MlflowRegistryClient(cfg, secret) as client:
            return client.probe()

    def endpoint_client(cfg: EndpointConfig, token: str | None) -> EndpointClient:
        from app.connectors.endpoints import EndpointClient

        return EndpointClient(cfg, token)

    queries = PortfolioQueries(db)
    writer = SnapshotWriter(db)
    registries = RegistryService(config, queries, writer, credentials, prober)
    portfolio = PortfolioService(queries)
    identity = IdentityService(ProfileFile(paths.profile_file), KeyVault(credentials))
    audit, team_ledger = open_ledger(db, identity.profile().team_ledger_url, credentials)
    governance = GovernanceService(audit, identity, portfolio, config.registry, reader)
    observer = ChangeObserver(audit, identity)
    observers: list[SyncObserver] = [observer.observe]
    if team_ledger is not None:
        # Every sync also refreshes the offline replica of the team ledger.
        observers.append(lambda _registry, _aliases, _stages: team_ledger.pull())
    endpoints = EndpointService(
        EndpointConfigFile(paths.config_file),
        config,
        EndpointStore(db),
        EndpointHistory(db),
        endpoint_client,
        drift_recorder=ledger_drift_recorder(
            audit, lambda: me.user_id if (me := identity.current()) else None
        ),
    )
    return AppContext(
        paths=paths,
        config=config,
        db=db,
        credentials=credentials,
        registries=registries,
        sync=SyncService(config, writer, reader, observers=observers),
        portfolio=portfolio,
        demo=DemoService(paths.demo_dir, registries),
        audit=audit,
        identity=identity,
        governance=governance,
        promotions=PromotionApplier(governance),
        observer=observer,
        team_ledger=team_ledger,
        isolated_sync=IsolatedSync(sync_child_main, lambda: (paths, credentials.export_session())),
        endpoints=endpoints,
        endpoint_poller=EndpointPoller(endpoints),
        lineage=LineageService(LineageQueries(db), queries, endpoints.statuses),
        performance=PerformanceService(PerformanceQueries(db), queries),
    )


def sync_child_main(
    paths: AppPaths,
    session_secrets: dict[str, str],
    name: str,
    conn: Connection,
    stop: Any,
) -> None:
    """Entry of a sync child process (see services.sync_isolation)."""
    import traceback

    try:
        ctx = build_context(paths)
    except GavelError as exc:
        conn.send(("error", (type(exc).__module__, type(exc).__name__, exc.message)))
        conn.close()
        return
    try:
        # Secrets kept for this session only (no keyring) reach the child through
        # the pipe multiprocessing set up, never through argv or the disk.
        ctx.credentials.import_session(session_secrets)
        serve_sync(ctx.sync, name, conn, stop)
    except Exception:
        conn.send(("crash", traceback.format_exc()))
    finally:
        ctx.close()


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
