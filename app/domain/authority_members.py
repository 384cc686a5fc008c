"""The authority rules for people and settings: keys, members, roles, policies,
registry-name mappings and acknowledged problems (see ``domain.authority``).

Each rule returns a Refusal, or the change to make once the event is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from app.domain.authority_model import (
    Acknowledgement,
    Judgement,
    KeyRecord,
    KeyStatus,
    Member,
    Refusal,
    RefusalKind,
    as_mapping,
    name_list,
    public_key_of,
    valid_user_id,
)
from app.domain.errors import UsageError
from app.domain.governance import RISK_TIERS, Policy, Role, normalize_tier
from app.domain.ledger import LedgerAction, LedgerEvent

if TYPE_CHECKING:
    from app.domain.authority import AuthorityState


def _key_enrolled(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    after = as_mapping(ev.after)
    holder, key_id = after.get("holder"), after.get("key_id")
    public_key = public_key_of(after)
    if not isinstance(holder, str) or holder != ev.actor or not valid_user_id(holder):
        return Refusal(RefusalKind.MALFORMED, "it enrols a key for someone other than its author.")
    if not isinstance(key_id, str) or public_key is None:
        return Refusal(RefusalKind.MALFORMED, "it does not carry an Ed25519 public key.")
    if key_id in s.keys:
        return Refusal(RefusalKind.MALFORMED, f"key {key_id} is enrolled a second time.")
    member = s.members.get(holder)
    if member is not None and member.pending_key_id is not None:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"a key for {holder} is already waiting for an admin's approval.",
        )
    claimed = name_list(after.get("registry_usernames"))
    display = str(after.get("display_name") or holder)
    founding = s.founder is None
    if founding:
        clash = s.name_clash(holder, claimed)
        if clash is not None:
            return clash

    def apply() -> None:
        status = KeyStatus.ACTIVE if founding else KeyStatus.PENDING
        s.keys[key_id] = KeyRecord(
            key_id,
            public_key,
            holder,
            ev.seq,
            ev.hash,
            ev.at,
            display,
            claimed,
            status,
            ev.seq,
            holder,
        )
        m = member or Member(holder, display)
        s.members[holder] = m
        if founding:
            # The first identity of a new ledger is its founder: nobody could approve it.
            s.founder = holder
            m.key_id, m.joined_seq = key_id, ev.seq
            s.set_names(m, claimed)
        else:
            m.pending_key_id = key_id

    return apply


def _pending(s: AuthorityState, after: Mapping[str, object]) -> tuple[KeyRecord, Member] | Refusal:
    user, key_id = after.get("user"), after.get("key_id")
    key = s.keys.get(key_id) if isinstance(key_id, str) else None
    member = s.members.get(user) if isinstance(user, str) else None
    if key is None or member is None or key.holder != user or key.status is not KeyStatus.PENDING:
        return Refusal(
            RefusalKind.INVALID_STATE, f"no key {key_id} of {user} is waiting for approval."
        )
    if after.get("enrolment") != key.enrolment_hash:
        return Refusal(
            RefusalKind.MALFORMED,
            f"it names another enrolment than the one that recorded key {key_id}.",
        )
    return key, member


def _key_approved(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    refusal = s.require_admin(ev.actor, "approve a member's key")
    if refusal is not None:
        return refusal
    after = as_mapping(ev.after)
    found = _pending(s, after)
    if isinstance(found, Refusal):
        return found
    key, member = found
    if member.key_id is not None:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"{member.user_id} already has an active key; replacing it is a key rotation.",
        )
    names = name_list(after.get("registry_usernames"))
    clash = s.name_clash(member.user_id, names)
    if clash is not None:
        return clash

    def apply() -> None:
        key.status, key.status_seq, key.status_by = KeyStatus.ACTIVE, ev.seq, ev.actor
        member.key_id, member.pending_key_id = key.key_id, None
        if member.joined_seq is None:
            member.joined_seq = ev.seq
        s.set_names(member, names)

    return apply


def _key_rotated(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    refusal = s.require_admin(ev.actor, "replace a member's key")
    if refusal is not None:
        return refusal
    after = as_mapping(ev.after)
    found = _pending(s, after)
    if isinstance(found, Refusal):
        return found
    key, member = found
    old = after.get("old_key_id")
    if member.key_id is None or old != member.key_id:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"it replaces key {old}, which is not {member.user_id}'s active key.",
        )

    def apply() -> None:
        previous = s.keys[str(old)]
        previous.status, previous.status_seq, previous.status_by = (
            KeyStatus.REPLACED,
            ev.seq,
            ev.actor,
        )
        key.status, key.status_seq, key.status_by = KeyStatus.ACTIVE, ev.seq, ev.actor
        member.key_id, member.pending_key_id = key.key_id, None

    return apply


def _key_revoked(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    key_id = as_mapping(ev.after).get("key_id")
    key = s.keys.get(key_id) if isinstance(key_id, str) else None
    if key is None or key.status not in (KeyStatus.ACTIVE, KeyStatus.PENDING):
        return Refusal(RefusalKind.INVALID_STATE, f"key {key_id} is not active or pending.")
    if key.holder != ev.actor and not s.is_admin(ev.actor):
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"only an admin or the key's holder can revoke it; {ev.actor} is neither.",
        )

    def apply() -> None:
        was = key.status
        key.status, key.status_seq, key.status_by = KeyStatus.REVOKED, ev.seq, ev.actor
        member = s.members.get(key.holder)
        if member is None:
            return
        if was is KeyStatus.ACTIVE:
            member.key_id = None
        elif member.pending_key_id == key.key_id:
            member.pending_key_id = None

    return apply


def _identity_declared(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    after = as_mapping(ev.after)
    name = after.get("display_name")
    if after.get("user_id") != ev.actor or not isinstance(name, str) or not name.strip():
        return Refusal(RefusalKind.MALFORMED, "nobody declares an identity for someone else.")

    def apply() -> None:
        s.members[ev.actor].display_name = name.strip()

    return apply


def _identity_mapped(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    refusal = s.require_admin(ev.actor, "map registry user names to members")
    if refusal is not None:
        return refusal
    after = as_mapping(ev.after)
    user = after.get("user")
    member = s.members.get(user) if isinstance(user, str) else None
    if member is None:
        return Refusal(RefusalKind.INVALID_STATE, f"{user} has not enrolled on this ledger.")
    names = name_list(after.get("registry_usernames"))
    clash = s.name_clash(member.user_id, names)
    if clash is not None:
        return clash

    def apply() -> None:
        s.set_names(member, names)

    return apply


def _role_changed(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    grant = ev.action == LedgerAction.ROLE_GRANTED
    after = as_mapping(ev.after)
    user = after.get("user")
    try:
        role = Role(str(after.get("role")))
    except ValueError:
        return Refusal(RefusalKind.MALFORMED, f"it names an unknown role '{after.get('role')}'.")
    if not isinstance(user, str) or user not in s.members:
        return Refusal(RefusalKind.INVALID_STATE, f"{user} has not enrolled on this ledger.")
    # The founder makes itself the first admin; every later change needs an admin.
    founding = grant and role is Role.ADMIN and user == ev.actor == s.founder and not s.admins()
    if not founding:
        refusal = s.require_admin(ev.actor, "grant or revoke roles")
        if refusal is not None:
            return refusal
    held = s.roles.get(user, set())
    if grant and role in held:
        return Refusal(RefusalKind.INVALID_STATE, f"{user} already has the {role.value} role.")
    if not grant and role not in held:
        return Refusal(RefusalKind.INVALID_STATE, f"{user} does not have the {role.value} role.")
    if not grant and role is Role.ADMIN and s.admins() == {user}:
        return Refusal(
            RefusalKind.INVALID_STATE,
            f"{user} is the only admin; another admin must be granted first.",
        )

    def apply() -> None:
        if grant:
            s.roles.setdefault(user, set()).add(role)
        else:
            s.roles.setdefault(user, set()).discard(role)

    return apply


def _policy_changed(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    refusal = s.require_admin(ev.actor, "change a policy")
    if refusal is not None:
        return refusal
    try:
        policy = Policy.from_json(as_mapping(ev.after))
    except UsageError as exc:
        return Refusal(RefusalKind.MALFORMED, exc.message)
    if policy.risk_tier not in RISK_TIERS or normalize_tier(policy.risk_tier) != policy.risk_tier:
        return Refusal(RefusalKind.MALFORMED, f"'{policy.risk_tier}' is not a risk tier.")

    def apply() -> None:
        s.policies[policy.risk_tier] = policy
        s.policy_seqs[policy.risk_tier] = ev.seq

    return apply


def _problem_acknowledged(s: AuthorityState, ev: LedgerEvent) -> Judgement:
    refusal = s.require_admin(ev.actor, "acknowledge a ledger problem")
    if refusal is not None:
        return refusal
    after = as_mapping(ev.after)
    seq, hash_ = after.get("seq"), after.get("hash")
    index = next((i for i, p in enumerate(s.problems) if p.seq == seq), None)
    if index is None or s.problems[index].hash != hash_:
        return Refusal(RefusalKind.INVALID_STATE, f"event {seq} is not a problem of this ledger.")
    if s.problems[index].acknowledged is not None:
        return Refusal(RefusalKind.INVALID_STATE, f"the problem at event {seq} is acknowledged.")

    def apply() -> None:
        ack = Acknowledgement(ev.seq, ev.actor, ev.reason, ev.at)
        s.problems[index] = replace(s.problems[index], acknowledged=ack)

    return apply


MEMBER_RULES: dict[str, Callable[[AuthorityState, LedgerEvent], Judgement]] = {
    LedgerAction.KEY_ENROLLED.value: _key_enrolled,
    LedgerAction.KEY_APPROVED.value: _key_approved,
    LedgerAction.KEY_ROTATED.value: _key_rotated,
    LedgerAction.KEY_REVOKED.value: _key_revoked,
    LedgerAction.IDENTITY_DECLARED.value: _identity_declared,
    LedgerAction.IDENTITY_MAPPED.value: _identity_mapped,
    LedgerAction.ROLE_GRANTED.value: _role_changed,
    LedgerAction.ROLE_REVOKED.value: _role_changed,
    LedgerAction.POLICY_CHANGED.value: _policy_changed,
    LedgerAction.PROBLEM_ACKNOWLEDGED.value: _problem_acknowledged,
}
