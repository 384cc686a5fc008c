"""Members, keys, roles, policies and registry-name mappings: the ledger's authority
over people, every change signed by its author's key (see domain.authority).

The first identity of a new ledger is its founder: in one transaction it enrols its
key, makes itself admin and records the default policies, all signed. Every later
member's key waits for an admin to approve it; a lost key is replaced the same way
(``rotate`` then an admin's approval), never by enrolling the same user id again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.domain.authority import AuthorityState
from app.domain.authority_model import AuthorityProblem, PendingKey, valid_user_id
from app.domain.errors import UsageError
from app.domain.governance import (
    DEFAULT_POLICIES,
    RISK_TIERS,
    Identity,
    MemberStatus,
    NotAuthorized,
    Policy,
    Role,
)
from app.domain.ledger import LedgerAction, LedgerDraft, LedgerEvent
from app.domain.ledger_keys import EventSigner, key_enrollment, key_subject
from app.services.actor import Actor
from app.services.authority import AuthorityLedger

log = logging.getLogger("gavel.membership")

AfterWrite = Callable[[], None]


@dataclass(frozen=True)
class Enrolment:
    key_id: str
    # True once the key counts: the ledger's founder; others wait for an admin.
    active: bool
    roles: frozenset[Role]


def user_subject(user_id: str) -> str:
    return f"user:{user_id}"


class MembershipService:
    def __init__(
        self, authority: AuthorityLedger, actor: Actor, after_write: AfterWrite = lambda: None
    ) -> None:
        self._authority = authority
        self._actor = actor
        self._after_write = after_write

    # ------------------------------------------------------------------ reading

    def identities(self) -> dict[str, Identity]:
        return self._authority.read(lambda s: s.identities())

    def roles(self) -> dict[str, frozenset[Role]]:
        return self._authority.read(
            lambda s: {u: frozenset(r) for u, r in sorted(s.roles.items()) if r}
        )

    def roles_of(self, user_id: str) -> frozenset[Role]:
        return self._authority.read(lambda s: s.roles_of(user_id))

    def policies(self) -> dict[str, Policy]:
        return self._authority.read(lambda s: s.all_policies())

    def pending_keys(self) -> list[PendingKey]:
        return self._authority.read(lambda s: s.pending_keys())

    def problems(self) -> list[AuthorityProblem]:
        """Every event the fold refused, acknowledged or not."""
        return self._authority.read(lambda s: list(s.problems))

    # ---------------------------------------------------------------- enrolling

    def init_identity(
        self,
        user_id: str,
        display_name: str,
        registry_usernames: Sequence[str],
        passphrase: str,
    ) -> Enrolment:
        """Create this profile's key and enrol it; the ledger's founder becomes its admin.

        registry_usernames: the names this person says they have in registries; they
            count for separation of duties once an admin approves the key.
        """
        user_id = user_id.strip()
        if not valid_user_id(user_id):
            raise UsageError(
                "A user id is 1 to 64 characters without spaces or colons, e.g. 'a.lovelace'."
            )
        profile = self._actor.identity.profile()
        if profile.user_id and profile.user_id != user_id:
            raise UsageError(
                f"This profile belongs to {profile.user_id}; use another GAVEL_HOME for "
                "another person."
            )
        self._refuse_known(self._authority.read(lambda s: s.identity(user_id)))
        names = tuple(n.strip() for n in registry_usernames if n.strip())
        ledger_id = self._actor.ledger_id()
        vault = self._actor.identity.vault
        signer = vault.create(ledger_id, user_id, passphrase)

        def build(s: AuthorityState) -> list[LedgerDraft]:
            self._refuse_known(s.identity(user_id))  # another desktop may have just enrolled it
            drafts = [
                LedgerDraft(
                    user_id,
                    LedgerAction.KEY_ENROLLED.value,
                    key_subject(signer.key_id),
                    after=key_enrollment(
                        signer.public_key, user_id, display_name.strip() or user_id, names
                    ),
                    reason="Signing key enrolled.",
                )
            ]
            if s.founder is None:
                drafts.append(
                    LedgerDraft(
                        user_id,
                        LedgerAction.ROLE_GRANTED.value,
                        user_subject(user_id),
                        after={"user": user_id, "role": Role.ADMIN.value},
                        reason="The first identity of a new ledger is its admin.",
                    )
                )
                drafts += [
                    _policy_draft(user_id, DEFAULT_POLICIES[tier], None, "Default policy.")
                    for tier in RISK_TIERS
                ]
            return drafts

        try:
            self._authority.write(signer, build)
        except BaseException:
            vault.discard(ledger_id, user_id, signer.key_id)
            raise
        if profile.user_id != user_id:
            self._actor.identity.save_profile(replace(profile, user_id=user_id))
        me = self._authority.read(lambda s: (s.identity(user_id), s.roles_of(user_id)))
        log.info("identity %s enrolled with key %s (%s)", user_id, signer.key_id, me[0].status)
        self._after_write()
        return Enrolment(signer.key_id, me[0].status is MemberStatus.ACTIVE, me[1])

    @staticmethod
    def _refuse_known(known: Identity) -> None:
        if known.status is MemberStatus.ACTIVE:
            raise UsageError(
                f"{known.user_id} already has a signing key on this ledger. One person has "
                "one key: if it was lost, run 'gavel identity rotate' on your own computer "
                "and ask an admin to approve the new key."
            )
        if known.status is MemberStatus.PENDING:
            raise UsageError(
                f"A key for {known.user_id} is already waiting for an admin's approval."
            )
        if known.status is MemberStatus.REVOKED:
            raise UsageError(
                f"{known.user_id}'s key was revoked; run 'gavel identity rotate' to enrol a "
                "new one for an admin to approve."
            )

    def rotate_key(self, passphrase: str) -> str:
        """Enrol a new key for me (lost or compromised key); an admin must approve it."""
        user_id = self._actor.user_id()
        known = self._authority.read(lambda s: s.identity(user_id))
        if known.status is MemberStatus.UNKNOWN:
            raise UsageError(f"{user_id} has no key on this ledger yet: use 'gavel identity init'.")
        if known.status is MemberStatus.PENDING:
            raise UsageError(f"A key for {user_id} is already waiting for an admin's approval.")
        ledger_id = self._actor.ledger_id()
        vault = self._actor.identity.vault
        signer = vault.create(ledger_id, user_id, passphrase)

        def build(s: AuthorityState) -> list[LedgerDraft]:
            return [
                LedgerDraft(
                    user_id,
                    LedgerAction.KEY_ENROLLED.value,
                    key_subject(signer.key_id),
                    after=key_enrollment(
                        signer.public_key,
                        user_id,
                        known.display_name,
                        known.registry_usernames,
                    ),
                    reason="Replacement signing key enrolled; waiting for an admin.",
                )
            ]

        try:
            self._authority.write(signer, build)
        except BaseException:
            vault.discard(ledger_id, user_id, signer.key_id)
            raise
        self._after_write()
        return signer.key_id

    # ------------------------------------------------------------ admin actions

    def approve_key(
        self,
        user_id: str,
        passphrase: str,
        registry_usernames: Sequence[str] | None = None,
        reason: str = "",
    ) -> LedgerEvent:
        """Countersign a member's pending key (new member, or a replacement key).

        registry_usernames: the names that count as theirs; default what they claimed.
        """
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)

        def build(s: AuthorityState) -> list[LedgerDraft]:
            self._require_admin(s, me, "approve keys")
            pending = next((p for p in s.pending_keys() if p.user_id == user_id), None)
            if pending is None:
                raise UsageError(f"No key of {user_id} is waiting for approval.")
            if pending.replaces is not None:
                after: dict[str, Any] = {
                    "user": user_id,
                    "key_id": pending.key_id,
                    "old_key_id": pending.replaces,
                    "enrolment": pending.enrolment_hash,
                }
                action, why = LedgerAction.KEY_ROTATED, f"Key of {user_id} replaced."
            else:
                names = (
                    pending.claimed_usernames
                    if registry_usernames is None
                    else tuple(n.strip() for n in registry_usernames if n.strip())
                )
                after = {
                    "user": user_id,
                    "key_id": pending.key_id,
                    "enrolment": pending.enrolment_hash,
                    "registry_usernames": list(names),
                }
                action, why = LedgerAction.KEY_APPROVED, f"Key of {user_id} approved."
            return [
                LedgerDraft(
                    me, action.value, key_subject(pending.key_id), after=after, reason=reason or why
                )
            ]

        return self._write_one(signer, build)

    def revoke_key(self, user_id: str, passphrase: str, reason: str) -> LedgerEvent:
        """Retire a member's active (or pending) key: nothing it signs counts after this."""
        if not reason.strip():
            raise UsageError("Revoking a key needs a reason (lost, compromised, left the team…).")
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)

        def build(s: AuthorityState) -> list[LedgerDraft]:
            member = s.members.get(user_id)
            key_id = member.key_id or member.pending_key_id if member else None
            if key_id is None:
                raise UsageError(f"{user_id} has no active or pending key on this ledger.")
            return [
                LedgerDraft(
                    me,
                    LedgerAction.KEY_REVOKED.value,
                    key_subject(key_id),
                    after={"user": user_id, "key_id": key_id},
                    reason=reason.strip(),
                )
            ]

        return self._write_one(signer, build)

    def map_names(
        self, user_id: str, registry_usernames: Sequence[str], passphrase: str
    ) -> LedgerEvent:
        """Record which registry user names are ``user_id``'s (replacing the previous list)."""
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        names = [n.strip() for n in registry_usernames if n.strip()]

        def build(s: AuthorityState) -> list[LedgerDraft]:
            self._require_admin(s, me, "map registry user names")
            return [
                LedgerDraft(
                    me,
                    LedgerAction.IDENTITY_MAPPED.value,
                    user_subject(user_id),
                    after={"user": user_id, "registry_usernames": names},
                    reason=f"Registry user names of {user_id}: {', '.join(names) or 'none'}.",
                )
            ]

        return self._write_one(signer, build)

    def grant(self, user_id: str, role: Role, passphrase: str, reason: str = "") -> LedgerEvent:
        return self._role(LedgerAction.ROLE_GRANTED, user_id, role, passphrase, reason)

    def revoke(self, user_id: str, role: Role, passphrase: str, reason: str = "") -> LedgerEvent:
        return self._role(LedgerAction.ROLE_REVOKED, user_id, role, passphrase, reason)

    def _role(
        self, action: LedgerAction, user_id: str, role: Role, passphrase: str, reason: str
    ) -> LedgerEvent:
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)
        verb = "granted" if action is LedgerAction.ROLE_GRANTED else "revoked"

        def build(s: AuthorityState) -> list[LedgerDraft]:
            self._require_admin(s, me, "grant or revoke roles")
            if user_id not in s.members:
                raise UsageError(
                    f"{user_id} has not enrolled on this ledger; roles go to enrolled people."
                )
            return [
                LedgerDraft(
                    me,
                    action.value,
                    user_subject(user_id),
                    after={"user": user_id, "role": role.value},
                    reason=reason or f"{role.value} role {verb}.",
                )
            ]

        return self._write_one(signer, build)

    def set_policy(self, policy: Policy, passphrase: str, reason: str = "") -> LedgerEvent:
        if policy.risk_tier not in RISK_TIERS:
            raise UsageError(
                f"'{policy.risk_tier}' is not a risk tier; policies exist for "
                f"{', '.join(RISK_TIERS)} (an unknown tier counts as high)."
            )
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)

        def build(s: AuthorityState) -> list[LedgerDraft]:
            self._require_admin(s, me, "change a policy")
            before = s.policy(policy.risk_tier)
            return [_policy_draft(me, policy, before, reason)]

        return self._write_one(signer, build)

    def acknowledge(self, seq: int, reason: str, passphrase: str) -> LedgerEvent:
        """Record that a refused event was investigated (it still never counts)."""
        if not reason.strip():
            raise UsageError("Acknowledging a ledger problem needs a reason (what was found).")
        me = self._actor.user_id()
        signer = self._actor.signer(passphrase)

        def build(s: AuthorityState) -> list[LedgerDraft]:
            self._require_admin(s, me, "acknowledge ledger problems")
            problem = next((p for p in s.problems if p.seq == seq), None)
            if problem is None:
                raise UsageError(f"Event {seq} is not a problem of this ledger.")
            return [
                LedgerDraft(
                    me,
                    LedgerAction.PROBLEM_ACKNOWLEDGED.value,
                    f"event:{seq}",
                    after={"seq": seq, "hash": problem.hash},
                    reason=reason.strip(),
                )
            ]

        return self._write_one(signer, build)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _require_admin(s: AuthorityState, me: str, what: str) -> None:
        if not s.is_admin(me):
            raise NotAuthorized(f"Only an admin can {what}; {me} is not an admin.")

    def _write_one(
        self, signer: EventSigner, build: Callable[[AuthorityState], list[LedgerDraft]]
    ) -> LedgerEvent:
        (event,) = self._authority.write(signer, build)
        self._after_write()
        return event


def _policy_draft(actor: str, policy: Policy, before: Policy | None, reason: str) -> LedgerDraft:
    return LedgerDraft(
        actor,
        LedgerAction.POLICY_CHANGED.value,
        f"policy:{policy.risk_tier}",
        before=before.to_json() if before else None,
        after=policy.to_json(),
        reason=reason or f"Policy for {policy.risk_tier}-risk models changed.",
    )
