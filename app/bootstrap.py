"""Composition root: the only place that builds engines, stores, connectors and services."""

from __future__ import annotations

import logging
import logging.handlers
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from sqlalchemy import make_url

from app.connectors.credentials import CredentialStore, resolve_registry_secret
from app.domain.bundle import BundleReport
from app.domain.cancel import CancelToken
from app.domain.endpoints import EndpointConfig
from app.domain.errors import ConfigError, GavelError, StoreUnreachable, UsageError
from app.domain.progress import ProgressCallback
from app.domain.registry import ConnectionReport, LinkState, RegistryConfig
from app.services.actor import Actor
from app.services.audit import AuditService
from app.services.authority import AuthorityLedger
from app.services.bundles import BundleService, SessionAudit, prepare_session
from app.services.delivery import DeliveryService, endpoint_models
from app.services.demo import DemoService, DemoStory
from app.services.endpoint_poller import EndpointPoller
from app.services.endpoints import EndpointService, ledger_drift_recorder
from app.services.evidence import EvidenceService
from app.services.findings import FindingService
from app.services.governance import GovernanceService
from app.services.identity import IdentityService, KeyVault
from app.services.ledger_archive import archive_legacy_ledger
from app.services.lineage import LineageService
from app.services.membership import MembershipService
from app.services.observation_index import ObservationIndex
from app.services.observations import ChangeObserver
from app.services.outbox import OutboxService
from app.services.overview import OverviewService
from app.services.performance import PerformanceService
from app.services.portfolio import PortfolioService
from app.services.promotion_apply import PromotionApplier
from app.services.registries import RegistryService
from app.services.reviews import ReviewService
from app.services.sync import SyncObserver, SyncService
from app.services.sync_isolation import IsolatedSync, serve_sync
from app.services.team_ledger import (
    ReadOnlyAudit,
    TeamAudit,
    TeamLedger,
    TeamStatus,
    replica_status,
)
from app.services.team_setup import META_REPLICA_OF, TEAM_LEDGER_SECRET
from app.stores.config_file import ConfigFile
from app.stores.endpoint_config import EndpointConfigFile
from app.stores.endpoint_history import EndpointHistory
from app.stores.endpoint_store import EndpointStore
from app.stores.engine import Database, check_ledger_url, sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.lineage_queries import LineageQueries
from app.stores.migrate import LedgerFormatError, open_database, open_ledger_database
from app.stores.outbox_file import OutboxFile
from app.stores.paths import AppPaths, resolve_paths
from app.stores.performance_queries import PerformanceQueries
from app.stores.portfolio_queries import PortfolioQueries
from app.stores.profile_file import Profile, ProfileFile
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
    # The authority fold over the ledger, "me", and the services that write authority.
    authority: AuthorityLedger
    actor: Actor
    membership: MembershipService
    governance: GovernanceService
    # Periodic reviews of production versions, and auditors' findings.
    reviews: ReviewService
    # The managers' overview: every figure with the list behind it.
    overview: OverviewService
    findings: FindingService
    # Decisions signed while the team ledger is out of reach, kept until sent.
    outbox: OutboxService
    promotions: PromotionApplier
    observer: ChangeObserver
    # The console syncs in a child process (see services.sync_isolation).
    isolated_sync: IsolatedSync
    # Set in team mode while the shared ledger is reachable.
    team_ledger: TeamLedger | None
    # Solo or team, and how fresh this desktop's view of the ledger is.
    team_status: Callable[[], TeamStatus]
    endpoints: EndpointService
    # Built stopped: the console starts it, the CLI uses its probe_all.
    endpoint_poller: EndpointPoller
    # Lineage graphs and performance figures, read from the cache only.
    lineage: LineageService
    performance: PerformanceService
    # Audit bundles made from this profile.
    bundles: BundleService
    # Delivery metrics (DORA-style), from the ledger and the cache.
    delivery: DeliveryService
    # Evidence packs (a request's or a version's facts, for the PDF/HTML writers).
    evidence: EvidenceService
    # Set when this context is an audit session over a bundle (read-only, offline).
    session: BundleReport | None = None
    _dispose_ledger: Callable[[], None] = field(default=lambda: None, repr=False)
    _closed: bool = field(default=False, repr=False)
    _after_close: Callable[[], None] = field(default=lambda: None, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.endpoint_poller.stop()
        self.endpoints.close()
        self.demo.stop()
        self._dispose_ledger()
        self.db.dispose()
        self._after_close()


@dataclass
class LedgerSetup:
    """The ledger this profile writes to, and how it is kept."""

    audit: AuditService
    team: TeamLedger | None
    status: Callable[[], TeamStatus]
    dispose: Callable[[], None]


def open_ledger(
    paths: AppPaths,
    team_url: str,
    credentials: CredentialStore,
    session: bool = False,
    clock: Callable[[], datetime] | None = None,
) -> LedgerSetup:
    """The ledger to use: ledger.sqlite3 (solo), or the team's shared PostgreSQL with
    ledger.sqlite3 as its verified replica.

    When the shared ledger cannot be reached the replica is served read-only, so
    nothing forks the chain, and every view says how old it is.
    """
    local_url = sqlite_url(paths.ledger_db)
    if session:
        # An audit session: the bundle's verified ledger, read-only (no genesis written).
        session_db = open_ledger_database(local_url)
        status = TeamStatus(False)
        audit_ = SessionAudit(LedgerStore(session_db))
        return LedgerSetup(audit_, None, lambda: status, session_db.dispose)
    if not team_url:
        local_db = open_ledger_database(local_url)
        store = LedgerStore(local_db, clock)
        if store.meta(META_REPLICA_OF):
            local_db.dispose()
            raise ConfigError(
                f"{paths.ledger_db} is the replica of a team ledger, but profile.toml names "
                "no team_ledger_url any more. Put it back, or use a new profile (GAVEL_HOME) "
                "to work on a ledger of your own."
            )
        audit = AuditService(store)
        audit.ensure_genesis()
        return LedgerSetup(audit, None, lambda: TeamStatus(False), local_db.dispose)
    check_ledger_url(team_url)
    url = make_url(team_url)
    password = credentials.get(TEAM_LEDGER_SECRET)
    if password:
        url = url.set(password=password)
    where = url.render_as_string(hide_password=True)
    try:
        shared_db = open_ledger_database(url.render_as_string(hide_password=False))
    except LedgerFormatError:
        raise
    except GavelError as exc:
        log.warning("team ledger unreachable: %s", exc.message)
        local_db = open_ledger_database(local_url)
        replica = LedgerStore(local_db)
        # An unreachable server's message already names it and says what to check; the
        # banner leads with that sentence rather than with the URL twice.
        reason = (
            exc.message.rstrip(".")
            if isinstance(exc, StoreUnreachable)
            else f"The team ledger at {where} cannot be opened ({exc.message.rstrip('.')})"
        )
        pulled_at, events = replica_status(replica)
        status = TeamStatus(True, where, False, pulled_at, events, reason + ".")
        return LedgerSetup(
            ReadOnlyAudit(replica, reason + "."), None, lambda: status, local_db.dispose
        )
    shared = LedgerStore(shared_db, clock)
    try:
        AuditService(shared).ensure_genesis()
        local_db = prepare_replica(paths, shared.genesis_hash() or "")
    except BaseException:
        shared_db.dispose()
        raise
    replica = LedgerStore(local_db)
    audit = TeamAudit(shared, replica)
    team = TeamLedger(shared, replica, audit, close=shared_db.dispose)
    audit.team = team
    try:
        team.pull()
    except GavelError as exc:
        # A replica that no longer matches the shared ledger is exactly what an auditor
        # must hear about: the team status carries it to the console and the CLI.
        log.error("team ledger pull refused: %s", exc.message)

    def dispose() -> None:
        team.close()
        local_db.dispose()

    return LedgerSetup(audit, team, team.status, dispose)


DEMO_LEDGER = "demo-team-ledger.sqlite3"


def demo_profile(paths: AppPaths) -> AppPaths:
    """The demo's own profile, under this profile's data folder, made on first use.

    The demo's made-up people, their keys and their back-dated history must never enter
    a person's own record: the demo is a team of its own on a SQLite team ledger, and
    the console opens its profile (a viewer with no identity) instead of the person's.
    """
    demo = resolve_paths({"GAVEL_HOME": str(paths.data_dir / "demo-profile")})
    demo.ensure()
    profile = ProfileFile(demo.profile_file)
    if not profile.load().team_ledger_url:
        profile.save(Profile(team_ledger_url=sqlite_url(demo.data_dir / DEMO_LEDGER)))
    return demo


def is_unused(paths: AppPaths) -> bool:
    """Nothing of the person's own yet: no registry, no identity, no team ledger (the
    first run, which opens the demo profile instead)."""
    if not paths.config_file.exists() and not paths.profile_file.exists():
        return True
    profile = ProfileFile(paths.profile_file).load()
    if profile.user_id or profile.team_ledger_url:
        return False
    return not ConfigFile(paths.config_file).registries()


def _demo_story(paths: AppPaths) -> DemoStory:
    """How the demo profile's history is written: each made-up person's Gavel is a
    profile of its own on the demo's team ledger, its keys kept for the session only
    (and the profiles removed afterwards)."""

    def write(
        cfg: RegistryConfig, store: Path, progress: ProgressCallback, cancel: CancelToken
    ) -> None:
        from keyring.backends.fail import Keyring as NoKeyring

        from app.connectors.mlflow_registry import MlflowRegistryClient
        from app.services.demo_story import write_demo_story

        team_url = ProfileFile(paths.profile_file).load().team_ledger_url
        people = paths.data_dir / "demo-people"

        def desk(user: str, clock: Callable[[], datetime]) -> AppContext:
            home = resolve_paths({"GAVEL_HOME": str(people / user)})
            home.ensure()
            ProfileFile(home.profile_file).save(Profile(team_ledger_url=team_url))
            return build_context(home, credentials=CredentialStore(NoKeyring()), ledger_clock=clock)

        def set_alias(cfg: RegistryConfig, model: str, alias: str, version: int) -> None:
            with MlflowRegistryClient(cfg, None) as client:
                client.set_registered_model_alias(model, alias, version)

        try:
            write_demo_story(cfg, desk, set_alias, progress, cancel, store=store)
        finally:
            shutil.rmtree(people, ignore_errors=True)

    return write


def prepare_replica(paths: AppPaths, shared_genesis: str) -> Database:
    """ledger.sqlite3 as the replica of the shared ledger named by ``shared_genesis``.

    A file that holds a ledger of its own (solo work, or another team's replica) is
    refused with a sentence, never silently overwritten or reported as tampering; one
    that holds only its own first event (a profile that never recorded anything) is
    replaced.
    """
    db = open_ledger_database(sqlite_url(paths.ledger_db))
    store = LedgerStore(db)
    replica_of, head = store.meta(META_REPLICA_OF), store.head()
    if head is None or replica_of == shared_genesis:
        return db
    db.dispose()
    if replica_of is None and head.seq == 1:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{paths.ledger_db}{suffix}").unlink(missing_ok=True)
        return open_ledger_database(sqlite_url(paths.ledger_db))
    whose = "another team ledger" if replica_of else "this profile's own (solo) ledger"
    raise ConfigError(
        f"{paths.ledger_db} holds {head.seq:,} events of {whose}, so it cannot become the "
        "replica of this team ledger. Keep its record with 'gavel audit export --out FILE' "
        "(without team_ledger_url), then join the team from a new profile (GAVEL_HOME)."
    )


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


def build_context(
    paths: AppPaths | None = None,
    db_url: str | None = None,
    credentials: CredentialStore | None = None,
    session: bool = False,
    ledger_clock: Callable[[], datetime] | None = None,
    demo: bool = False,
) -> AppContext:
    """Wire everything for one profile.

    credentials: the secret store (tests give each simulated desktop its own keyring).
    session: an audit session's throwaway profile (see build_session_context): its
        ledger refuses every write.
    ledger_clock: the time the ledger stamps (the demo's story sets it back).
    demo: this is the demo profile (see demo_profile): starting the demo registry also
        writes the demo's history into its team ledger, once.
    """
    paths = paths or resolve_paths()
    paths.ensure()
    setup_logging(paths)
    config = ConfigFile(paths.config_file)
    if db_url is None:
        archived = archive_legacy_ledger(paths.cache_db, paths.legacy_ledger_archive)
        if archived:
            log.warning("archived %d events of the 0.1 ledger", archived)
    db = open_database(db_url or sqlite_url(paths.cache_db))
    credentials = credentials or CredentialStore(allow_plaintext=config.allow_plaintext_keyring())
    if not credentials.persistent:
        log.warning("%s", credentials.describe())

    # Connectors (requests, urllib3, prometheus_client) load on first use, not at
    # start-up: the console paints the cached portfolio before it talks to anyone.
    # An audit session reaches no registry and no endpoint, whatever is clicked.
    def reader(cfg: RegistryConfig) -> MlflowRegistryClient:
        if session:
            _offline()
        from app.connectors.mlflow_registry import MlflowRegistryClient

        return MlflowRegistryClient(cfg, resolve_registry_secret(cfg, credentials, os.environ))

    def prober(cfg: RegistryConfig, secret: str | None) -> ConnectionReport:
        if session:
            _offline()
        from app.connectors.mlflow_registry import MlflowRegistryClient

        with MlflowRegistryClient(cfg, secret) as client:
            return client.probe()

    def linker(cfg: RegistryConfig, secret: str | None) -> tuple[LinkState, str]:
        if session:
            _offline()
        from app.connectors.mlflow_registry import MlflowRegistryClient

        # A liveness check must answer within seconds, whatever the sync timeout is.
        quick = replace(cfg, timeout_s=min(cfg.timeout_s, 5.0))
        with MlflowRegistryClient(quick, secret, retries=0) as client:
            return client.check_link()

    def endpoint_client(cfg: EndpointConfig, token: str | None) -> EndpointClient:
        if session:
            _offline()
        from app.connectors.endpoints import EndpointClient

        return EndpointClient(cfg, token)

    queries = PortfolioQueries(db)
    writer = SnapshotWriter(db)
    registries = RegistryService(config, queries, writer, credentials, prober, linker)
    portfolio = PortfolioService(queries)
    identity = IdentityService(ProfileFile(paths.profile_file), KeyVault(credentials))
    try:
        ledger = open_ledger(
            paths, identity.profile().team_ledger_url, credentials, session, ledger_clock
        )
    except BaseException:
        db.dispose()
        raise
    audit, team_ledger = ledger.audit, ledger.team
    after_write = team_ledger.pull_after_write if team_ledger is not None else lambda: None
    # A team desktop whose shared ledger stops answering keeps answering from what it
    # read (the team status then says so); decisions go to the outbox until a pull works.
    authority = AuthorityLedger(audit, link=team_ledger)
    actor = Actor(identity, authority)
    membership = MembershipService(authority, actor, after_write)
    governance = GovernanceService(
        audit, authority, actor, portfolio, config.registry, reader, after_write
    )

    def tiers(registry: str) -> dict[str, str]:
        return {model: tier for (_r, model), tier in portfolio.risk_tiers(registry).items()}

    observer = ChangeObserver(audit, identity, tiers)
    observers: list[SyncObserver] = [observer.observe]
    if team_ledger is not None:
        # Every sync also refreshes the offline replica of the team ledger.
        observers.append(lambda _registry, _aliases, _stages: team_ledger.pull())
    sync = SyncService(config, writer, reader, observers=observers)
    endpoints = EndpointService(
        EndpointConfigFile(paths.config_file),
        config,
        EndpointStore(db),
        EndpointHistory(db),
        endpoint_client,
        drift_recorder=ledger_drift_recorder(audit, identity.user_id),
    )
    observations = ObservationIndex(audit, link=team_ledger)
    reviews = ReviewService(authority, actor, portfolio, observations, after_write)
    # Only a team desktop that cannot reach its shared ledger collects decisions: solo
    # ledgers are always writable, and an audit session decides nothing.
    started_offline = (
        ledger.status().problem
        if isinstance(audit, ReadOnlyAudit) and not session and ledger.status().team
        else ""
    )

    def offline() -> str:
        if started_offline:
            return started_offline
        return team_ledger.lost if team_ledger is not None else ""

    lineage = LineageService(LineageQueries(db), queries, endpoints.statuses)
    return AppContext(
        paths=paths,
        config=config,
        db=db,
        credentials=credentials,
        registries=registries,
        sync=sync,
        portfolio=portfolio,
        demo=DemoService(paths.demo_dir, registries, story=_demo_story(paths) if demo else None),
        audit=audit,
        identity=identity,
        authority=authority,
        actor=actor,
        membership=membership,
        governance=governance,
        reviews=reviews,
        overview=OverviewService(portfolio, authority, reviews, observations, endpoints.statuses),
        findings=FindingService(authority, actor, after_write, paths.findings_file),
        outbox=OutboxService(
            OutboxFile(paths.outbox_file),
            governance,
            authority,
            actor,
            portfolio,
            offline,
            after_write,
            reconnect=team_ledger.pull if team_ledger is not None else None,
        ),
        promotions=PromotionApplier(governance, sync.refresh_model),
        observer=observer,
        team_ledger=team_ledger,
        team_status=ledger.status,
        isolated_sync=IsolatedSync(sync_child_main, lambda: (paths, credentials.export_session())),
        endpoints=endpoints,
        endpoint_poller=EndpointPoller(endpoints),
        lineage=lineage,
        performance=PerformanceService(PerformanceQueries(db), queries),
        bundles=BundleService(paths, audit, actor, endpoints.configs),
        delivery=DeliveryService(
            authority, queries, EndpointHistory(db), endpoint_models(endpoints.configs)
        ),
        evidence=EvidenceService(governance, portfolio, lineage, audit, observer),
        _dispose_ledger=ledger.dispose,
    )


def build_session_context(
    bundle: Path,
    paths: AppPaths | None = None,
    credentials: CredentialStore | None = None,
) -> AppContext:
    """An audit session: a context over a verified copy of ``bundle`` in a throwaway
    profile, with no registry, no endpoint and no team ledger (nothing reaches the
    network), acting as this profile's person so findings are signed with their key.

    paths: the auditor's own profile (whose user id and keyring are used).
    """
    import shutil
    import tempfile

    paths = paths or resolve_paths()
    paths.ensure()
    user_id = ProfileFile(paths.profile_file).load().user_id if paths.profile_file.exists() else ""
    home = Path(tempfile.mkdtemp(prefix="gavel-session-"))
    try:
        session_paths, report = prepare_session(bundle, home, user_id)
        ctx = build_context(session_paths, credentials=credentials, session=True)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    ctx.session = report
    # Findings signed in the session stay in the auditor's own profile.
    ctx.findings = FindingService(ctx.authority, ctx.actor, pending_file=paths.findings_file)
    ctx._after_close = lambda: shutil.rmtree(home, ignore_errors=True)
    return ctx


def _offline() -> NoReturn:
    raise UsageError(
        "This is an audit session over a bundle: it contacts no registry and no endpoint. "
        "Close it and use your own profile to sync."
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
