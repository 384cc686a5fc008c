"""What the governance pages show, read in one worker pass: who I am, my roles, the
requests with what each still needs and whether I may decide it, and the violations.

No Qt here: `load_governance` runs on a worker thread and returns plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.domain.cancel import CancelToken
from app.domain.governance import (
    Identity,
    Policy,
    PromotionRequest,
    RequestState,
    Role,
)
from app.services.audit import AuditService
from app.services.governance import GovernanceService, RequestView
from app.services.identity import IdentityService
from app.services.observations import ChangeObserver, Violation
from app.services.team_ledger import ReadOnlyAudit

ROLE_ORDER = (Role.ADMIN, Role.APPROVER, Role.REQUESTER, Role.VIEWER)
ENROLL_HINT = "No identity yet — Identity → Enroll…"


@dataclass(frozen=True)
class InboxItem:
    """A request as the inbox shows it, with whether this person may decide it now."""

    view: RequestView
    may_decide: bool
    reason: str  # why not; '' when may_decide

    @property
    def request(self) -> PromotionRequest:
        return self.view.request

    @property
    def approvals_done(self) -> int:
        return len({d.actor for d in self.request.approvals})

    @property
    def approvals_needed(self) -> int:
        return self.view.policy.approvals_required


@dataclass(frozen=True)
class GovernanceData:
    me: Identity | None = None
    has_key: bool = False
    my_roles: frozenset[Role] = frozenset()
    roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    identities: Mapping[str, Identity] = field(default_factory=dict)
    policies: Mapping[str, Policy] = field(default_factory=dict)
    items: tuple[InboxItem, ...] = ()
    violations: tuple[Violation, ...] = ()
    keyring_persistent: bool = True
    # Why the ledger refuses writes right now ('' when it accepts them).
    read_only: str = ""
    loaded: bool = False

    def waiting(self) -> list[InboxItem]:
        return [i for i in self.items if i.may_decide]

    def mine(self) -> list[InboxItem]:
        me = self.me.user_id if self.me else None
        return [i for i in self.items if i.request.requester == me]

    def item(self, request_id: str) -> InboxItem | None:
        return next((i for i in self.items if i.request.request_id == request_id), None)

    @property
    def flagged_models(self) -> frozenset[tuple[str, str]]:
        return frozenset((v.registry, v.model) for v in self.violations)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.my_roles


def roles_text(roles: frozenset[Role] | set[Role]) -> str:
    return ", ".join(r.value for r in ROLE_ORDER if r in roles) or "no role"


def identity_line(data: GovernanceData) -> str:
    """The status bar's 'Signed in as Ann (ann) · approver'."""
    if data.me is None:
        return ENROLL_HINT
    line = f"Signed in as {data.me.display_name} ({data.me.user_id}) · {roles_text(data.my_roles)}"
    if data.read_only:
        line += " · ledger read-only"
    return line


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
    if not data.has_key:
        assert data.me is not None
        return (
            f"No signing key for {data.me.user_id} is on this computer (it was kept for a "
            "session only). Enroll again (Identity → Enroll…) to create a new key."
        )
    return ""


def request_block_reason(data: GovernanceData) -> str:
    """Why this person cannot request a promotion ('' when they can)."""
    blocked = write_block_reason(data)
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
    """Why this person cannot change roles ('' when they can)."""
    blocked = write_block_reason(data)
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
    if data.me is not None and data.has_key:
        return (
            f"This profile already belongs to {data.me.display_name} ({data.me.user_id}) "
            "and holds their signing key. Another person needs their own profile."
        )
    return ""


def load_governance(
    governance: GovernanceService,
    observer: ChangeObserver,
    identity: IdentityService,
    audit: AuditService,
    cancel: CancelToken,
) -> GovernanceData:
    """Everything the governance pages show (blocking: several ledger reads)."""
    me = identity.current()
    has_key = me is not None and identity.vault.has_key(me.user_id)
    roles, _ignored = governance.roles()
    frozen_roles = {user: frozenset(r) for user, r in roles.items()}
    policies = governance.policies()
    identities = governance.identities()
    items: list[InboxItem] = []
    for request in governance.requests():
        cancel.raise_if_cancelled()
        view = governance.view(request)
        if me is None:
            may, reason = False, f"{ENROLL_HINT} first."
        elif request.state is RequestState.PENDING:
            may, reason = governance.can_decide(request)
        else:
            may, reason = False, _closed_reason(request)
        items.append(InboxItem(view, may, reason))
    cancel.raise_if_cancelled()
    violations = observer.violations()
    return GovernanceData(
        me=me,
        has_key=has_key,
        my_roles=frozen_roles.get(me.user_id, frozenset()) if me else frozenset(),
        roles=frozen_roles,
        identities=identities,
        policies=policies,
        items=tuple(items),
        violations=tuple(sorted(violations, key=lambda v: v.seq, reverse=True)),
        keyring_persistent=identity.vault.persistent,
        read_only=audit.reason if isinstance(audit, ReadOnlyAudit) else "",
        loaded=True,
    )


def _closed_reason(request: PromotionRequest) -> str:
    why = f": {request.state_reason}" if request.state_reason else ""
    return (
        f"Request {request.request_id} is {request.state.value}{why}; only pending requests "
        "can be decided."
    )
