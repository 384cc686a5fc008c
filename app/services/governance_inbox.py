"""What the governance pages show, read in one pass: who I am and what I may do, the
requests with what each still needs and whether I may decide it, pending keys, the
events the fold refused, the violations, and how fresh this desktop's ledger is.

No Qt here: `load_governance` runs on a worker thread and returns plain data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from app.domain.authority_model import AuthorityProblem, PendingKey
from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.governance import Identity, MemberStatus, Policy, Role
from app.services.governance import GovernanceService, InboxEntry
from app.services.observations import ChangeObserver, Violation
from app.services.outbox import OutboxEntry, OutboxService, kept_decision
from app.services.team_ledger import ReadOnlyAudit, TeamStatus

log = logging.getLogger("gavel.governance")

ROLE_ORDER = (Role.ADMIN, Role.APPROVER, Role.AUDITOR, Role.REQUESTER, Role.VIEWER)
ENROLL_HINT = "No identity yet — Identity → Enroll…"


def approvals_done(item: InboxEntry) -> int:
    return len({d.actor for d in item.request.approvals})


def approvals_needed(item: InboxEntry) -> int:
    return item.view.policy.approvals_required


@dataclass(frozen=True)
class GovernanceData:
    me: Identity | None = None
    has_key: bool = False
    my_roles: frozenset[Role] = frozenset()
    roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    identities: Mapping[str, Identity] = field(default_factory=dict)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    items: tuple[InboxEntry, ...] = ()
    violations: tuple[Violation, ...] = ()
    # Keys waiting for an admin's countersignature (new members, rotated keys).
    pending_keys: tuple[PendingKey, ...] = ()
    # Events the fold refused that no admin acknowledged: the ledger does not verify.
    problems: tuple[AuthorityProblem, ...] = ()
    team: TeamStatus = field(default_factory=lambda: TeamStatus(team=False))
    keyring_persistent: bool = True
    # Why the ledger refuses writes right now ('' when it accepts them).
    read_only: str = ""
    # The team ledger is out of reach: decisions are signed into the outbox instead.
    collecting: bool = False
    # It was lost while Gavel ran, so trying again may bring it back (no restart).
    reconnectable: bool = False
    # Decisions signed here while the team ledger was out of reach, not yet sent.
    outbox: tuple[OutboxEntry, ...] = ()
    loaded: bool = False

    def waiting(self) -> list[InboxEntry]:
        """The requests this person may decide and has not: one whose decision waits in
        the outbox no longer waits for them, as it would not once the ledger held it."""
        return [
            i
            for i in self.items
            if i.may_decide and kept_decision(self.outbox, i.request.request_id) is None
        ]

    def mine(self) -> list[InboxEntry]:
        me = self.me.user_id if self.me else None
        return [i for i in self.items if i.request.requester == me]

    def item(self, request_id: str) -> InboxEntry | None:
        return next((i for i in self.items if i.request.request_id == request_id), None)

    @property
    def flagged_models(self) -> frozenset[tuple[str, str]]:
        return frozenset((v.registry, v.model) for v in self.violations)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.my_roles

    @property
    def as_of(self) -> str:
        """'as of replica <time>, N events' while the team ledger cannot be reached."""
        if self.team.team and (not self.team.online or self.team.problem):
            return self.team.as_of()
        return ""


def roles_text(roles: frozenset[Role] | set[Role]) -> str:
    return ", ".join(r.value for r in ROLE_ORDER if r in roles) or "no role"


def identity_line(data: GovernanceData) -> str:
    """The status bar's 'Signed in as Ann (ann) · approver'."""
    if data.me is None:
        return ENROLL_HINT
    if data.me.status is MemberStatus.PENDING:
        return f"{data.me.display_name} ({data.me.user_id}) · key waiting for an admin"
    line = f"Signed in as {data.me.display_name} ({data.me.user_id}) · {roles_text(data.my_roles)}"
    if data.collecting:
        line += " · team ledger out of reach: decisions wait in the outbox"
    elif data.read_only:
        line += " · ledger read-only"
    return line


def problem_text(data: GovernanceData) -> str:
    """The red banner's sentence ('' when the ledger verifies)."""
    if not data.problems:
        return ""
    first = data.problems[0]
    more = f" ({len(data.problems) - 1} more)" if len(data.problems) > 1 else ""
    return (
        f"The ledger does not verify: {first.describe()}{more} Nothing that depends on it "
        "can be applied until an admin investigates and acknowledges it."
    )


def write_block_reason(data: GovernanceData) -> str:
    """Why this person cannot write to the ledger at all now ('' when they can)."""
    if data.me is None:
        return f"{ENROLL_HINT} first."
    return data.read_only


def sign_block_reason(data: GovernanceData) -> str:
    """Why this person cannot sign anything now ('' when they can)."""
    blocked = write_block_reason(data)
    if blocked:
        return blocked
    assert data.me is not None
    if data.me.status is MemberStatus.UNKNOWN:
        return f"{data.me.user_id} has not enrolled on this ledger: {ENROLL_HINT}."
    if data.me.status is MemberStatus.PENDING:
        return (
            f"{data.me.user_id}'s key waits for an admin's approval; nothing can be signed "
            "with it until then."
        )
    if data.me.status is MemberStatus.REVOKED:
        return f"{data.me.user_id}'s key was revoked; an admin must approve a new one."
    if not data.has_key:
        return (
            f"The signing key of {data.me.user_id} is not on this computer (it was kept for a "
            "session only, or this is another computer). Rotate your key on the ledger "
            "('gavel identity rotate') and ask an admin to approve it."
        )
    return ""


def decision_block_reason(data: GovernanceData) -> str:
    """Why this person cannot approve, reject or comment now ('' when they can): as for
    any signature, except that with the team ledger out of reach the decision goes to
    the outbox instead of being refused."""
    if data.collecting:
        return sign_block_reason(replace(data, read_only=""))
    return sign_block_reason(data)


def waiting_for(data: GovernanceData, request_id: str) -> list[OutboxEntry]:
    return [e for e in data.outbox if e.request_id == request_id]


def request_block_reason(data: GovernanceData) -> str:
    """Why this person cannot request a promotion ('' when they can)."""
    blocked = sign_block_reason(data)
    if blocked:
        return blocked
    assert data.me is not None
    if not data.my_roles & {Role.REQUESTER, Role.ADMIN}:
        return (
            f"Requesting a promotion needs the requester role; {data.me.user_id} has "
            f"{roles_text(data.my_roles)}. An admin can grant it (Identity → Roles…)."
        )
    return ""


def admin_block_reason(data: GovernanceData) -> str:
    """Why this person cannot act as an admin ('' when they can)."""
    blocked = sign_block_reason(data)
    if blocked:
        return blocked
    assert data.me is not None
    if not data.is_admin:
        return (
            f"Only an admin can grant or revoke roles; {data.me.user_id} has "
            f"{roles_text(data.my_roles)}."
        )
    return ""


def enroll_block_reason(data: GovernanceData) -> str:
    """Why Enroll is not offered ('' when it is)."""
    if data.read_only:
        return data.read_only
    if data.me is not None and data.me.status is not MemberStatus.UNKNOWN:
        return (
            f"This profile already belongs to {data.me.display_name} ({data.me.user_id}), "
            "who is enrolled on this ledger. Another person needs their own profile."
        )
    return ""


def load_governance(
    governance: GovernanceService,
    observer: ChangeObserver,
    team_status: Callable[[], TeamStatus],
    cancel: CancelToken,
    outbox: OutboxService | None = None,
) -> GovernanceData:
    """Everything the governance pages show (blocking: ledger and cache reads)."""
    actor = governance.actor
    me = actor.current()
    try:
        has_key = actor.has_key()
    except GavelError:
        has_key = False
    roles, identities, policies, pending, problems = governance.authority.read(
        lambda s: (
            {u: frozenset(r) for u, r in s.roles.items() if r},
            s.identities(),
            s.all_policies(),
            tuple(s.pending_keys()),
            tuple(s.open_problems()),
        )
    )
    cancel.raise_if_cancelled()
    items = tuple(governance.inbox())
    cancel.raise_if_cancelled()
    violations = observer.violations()
    waiting: tuple[OutboxEntry, ...] = ()
    if outbox is not None:
        try:
            waiting = tuple(outbox.waiting())
        except GavelError as exc:  # an unreadable outbox must not hide the requests
            log.warning("outbox not read: %s", exc.message)
    audit = governance.audit
    return GovernanceData(
        me=me,
        has_key=has_key,
        my_roles=roles.get(me.user_id, frozenset()) if me else frozenset(),
        roles=roles,
        identities=identities,
        policies=policies,
        items=items,
        violations=tuple(sorted(violations, key=lambda v: v.seq, reverse=True)),
        pending_keys=pending,
        problems=problems,
        team=team_status(),
        keyring_persistent=actor.identity.vault.persistent,
        read_only=audit.reason if isinstance(audit, ReadOnlyAudit) else "",
        collecting=outbox is not None and outbox.collecting,
        reconnectable=outbox is not None and outbox.can_reconnect,
        outbox=waiting,
        loaded=True,
    )
