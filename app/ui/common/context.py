"""What the console needs from the composition root, as a structural type.

The ui layer sits below `app.bootstrap` and may not import it; `AppContext` fits
this protocol without knowing about it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from app.connectors.credentials import CredentialStore
from app.domain.bundle import BundleReport
from app.services.actor import Actor
from app.services.audit import AuditService
from app.services.bundles import BundleService
from app.services.delivery import DeliveryService
from app.services.demo import DemoService
from app.services.endpoint_poller import EndpointPoller
from app.services.endpoints import EndpointService
from app.services.evidence import EvidenceService
from app.services.findings import FindingService
from app.services.governance import GovernanceService
from app.services.identity import IdentityService
from app.services.lineage import LineageService
from app.services.membership import MembershipService
from app.services.observations import ChangeObserver
from app.services.outbox import OutboxService
from app.services.overview import OverviewService
from app.services.performance import PerformanceService
from app.services.portfolio import PortfolioService
from app.services.promotion_apply import PromotionApplier
from app.services.registries import RegistryService
from app.services.reviews import ReviewService
from app.services.sync import SyncService
from app.services.sync_isolation import IsolatedSync
from app.services.team_ledger import TeamStatus


class ConsolePaths(Protocol):
    @property
    def config_dir(self) -> Path: ...

    @property
    def log_dir(self) -> Path: ...

    @property
    def log_file(self) -> Path: ...


class ConsoleContext(Protocol):
    @property
    def paths(self) -> ConsolePaths: ...

    @property
    def registries(self) -> RegistryService: ...

    @property
    def sync(self) -> SyncService: ...

    @property
    def isolated_sync(self) -> IsolatedSync: ...

    @property
    def portfolio(self) -> PortfolioService: ...

    @property
    def demo(self) -> DemoService: ...

    # Governance: the promotion workflow, its ledger, and who is acting.
    @property
    def governance(self) -> GovernanceService: ...

    @property
    def promotions(self) -> PromotionApplier: ...
    # The managers' overview and periodic reviews.
    @property
    def overview(self) -> OverviewService: ...
    @property
    def reviews(self) -> ReviewService: ...

    @property
    def observer(self) -> ChangeObserver: ...

    @property
    def audit(self) -> AuditService: ...

    @property
    def identity(self) -> IdentityService: ...

    # "Me" as the ledger knows me, and the admin's signed changes (roles, keys, problems).
    @property
    def actor(self) -> Actor: ...

    @property
    def membership(self) -> MembershipService: ...

    @property
    def credentials(self) -> CredentialStore: ...

    # Solo or team, and how fresh this desktop's view of the ledger is.
    @property
    def team_status(self) -> Callable[[], TeamStatus]: ...

    # Serving endpoints (the console starts the poller), lineage and performance charts.
    @property
    def endpoints(self) -> EndpointService: ...

    @property
    def endpoint_poller(self) -> EndpointPoller: ...

    @property
    def lineage(self) -> LineageService: ...

    @property
    def performance(self) -> PerformanceService: ...

    # Audit bundles made from this profile; and, in an audit session, the bundle's report.
    @property
    def bundles(self) -> BundleService: ...

    @property
    def session(self) -> BundleReport | None: ...

    # Auditors' findings: on the ledger, and signed here awaiting import.
    @property
    def findings(self) -> FindingService: ...
    # Decisions signed while the team ledger is out of reach, kept until sent.
    @property
    def outbox(self) -> OutboxService: ...
    # Delivery metrics, from the ledger and the cache.
    @property
    def delivery(self) -> DeliveryService: ...
    # Evidence packs (printed by app.ui.common.reports).
    @property
    def evidence(self) -> EvidenceService: ...

    def close(self) -> None: ...
