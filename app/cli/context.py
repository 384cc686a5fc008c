"""What every command is typed against: the services it may use, and the shape of a verb.

`CliContext` lists the services the command line uses. `app.bootstrap.AppContext`
satisfies it structurally (mypy checks that where `main` hands its context to a
command); tests may pass anything else that does. Each area module registers its
sub-commands and exports `COMMANDS`, a table from command to handler; a command with
sub-actions dispatches through a table of its own (`by_action`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from app.domain.errors import UsageError

if TYPE_CHECKING:
    from app.connectors.credentials import CredentialStore
    from app.services.actor import Actor
    from app.services.audit import AuditService
    from app.services.authority import AuthorityLedger
    from app.services.bundles import BundleService
    from app.services.delivery import DeliveryService
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
    from app.services.portfolio import PortfolioService
    from app.services.promotion_apply import PromotionApplier
    from app.services.registries import RegistryService
    from app.services.reviews import ReviewService
    from app.services.sync import SyncService
    from app.services.team_ledger import TeamLedger, TeamStatus

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliContext(Protocol):
    """The services the commands use (read-only: a command never rewires them)."""

    @property
    def credentials(self) -> CredentialStore: ...
    @property
    def registries(self) -> RegistryService: ...
    @property
    def sync(self) -> SyncService: ...
    @property
    def portfolio(self) -> PortfolioService: ...
    @property
    def audit(self) -> AuditService: ...
    @property
    def identity(self) -> IdentityService: ...
    @property
    def authority(self) -> AuthorityLedger: ...
    @property
    def actor(self) -> Actor: ...
    @property
    def membership(self) -> MembershipService: ...
    @property
    def governance(self) -> GovernanceService: ...
    @property
    def reviews(self) -> ReviewService: ...
    @property
    def overview(self) -> OverviewService: ...
    @property
    def promotions(self) -> PromotionApplier: ...
    @property
    def observer(self) -> ChangeObserver: ...
    @property
    def team_ledger(self) -> TeamLedger | None: ...
    @property
    def team_status(self) -> Callable[[], TeamStatus]: ...
    @property
    def endpoints(self) -> EndpointService: ...
    @property
    def endpoint_poller(self) -> EndpointPoller: ...
    @property
    def lineage(self) -> LineageService: ...
    @property
    def findings(self) -> FindingService: ...
    # Decisions signed while the team ledger is out of reach, kept until sent.
    @property
    def outbox(self) -> OutboxService: ...
    @property
    def bundles(self) -> BundleService: ...
    @property
    def delivery(self) -> DeliveryService: ...
    @property
    def evidence(self) -> EvidenceService: ...


# A command, or one of its sub-actions: the exit code for these arguments.
Handler = Callable[[CliContext, argparse.Namespace], int]


def by_action(actions: Mapping[str, Handler], command: str) -> Handler:
    """The handler of a command with sub-actions: the one its `args.action` names."""

    def run(ctx: CliContext, args: argparse.Namespace) -> int:
        handler = actions.get(args.action)
        if handler is None:  # argparse only lets the registered actions through
            raise UsageError(f"Unknown {command} action {args.action}.")
        return handler(ctx, args)

    return run


def signed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A sub-command that signs with the user's key: it takes --passphrase-env."""
    parser.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="environment variable holding your passphrase (else you are asked)",
    )
    return parser


def passphrase(args: argparse.Namespace, confirm: bool = False) -> str:
    """The passphrase of a `signed` command: from the variable it names, else asked at
    the terminal (twice when `confirm`); never from argv, where `ps` would show it."""
    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env, "")
        if not value:
            raise UsageError(f"The environment variable {args.passphrase_env} is not set.")
        return value
    if not sys.stdin.isatty():
        raise UsageError(
            "This is signed with your key and there is no terminal to ask for its "
            "passphrase: use --passphrase-env VAR."
        )
    value = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Passphrase again: ") != value:
        raise UsageError("The two passphrases differ; nothing was changed.")
    return value
