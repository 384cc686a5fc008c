"""Who may do what, folded from signed ledger events and checked where it is used.

Learned from The Update Framework: every authority is a signed statement by someone
who held the authority to make it at that point of the ledger. The fold reads the
ledger in sequence order and accepts an event only if

- it is signed, its content matches the hash it was signed over, and the signature
  verifies against a key the ledger enrolled for its actor, approved by an admin
  (or the ledger's founder), and not revoked or replaced before it;
- its actor held the authority then (an admin for roles, policies, keys and
  registry-name mappings; the requester role to request; the policy's role to
  decide, with separation of duties; a live claim to record an apply).

An event that fails is not folded and is kept as an ``AuthorityProblem`` naming it:
the console shows it, the CLI exits 1 with it, apply refuses while one is open. An
admin can acknowledge a problem after investigating it (a signed event); it still
never counts. Nothing here is taken from what a client wrote about the result: a
request's state is folded from its events, never read from one.

Writers check their event with ``judge`` under the ledger's append lock before it is
stored, so a well-behaved client never writes an event the fold would refuse, and
any refused event on the ledger was forged or raced past the lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.authority_members import MEMBER_RULES
from app.domain.authority_model import (
    AuthorityProblem,
    Judgement,
    KeyRecord,
    KeyStatus,
    Member,
    PendingKey,
    Refusal,
    RefusalKind,
    TierChange,
    as_mapping,
    nothing,
    public_key_of,
)
from app.domain.authority_records import RECORD_RULES, Finding, Review
from app.domain.authority_requests import REQUEST_ACTIONS, judge_request_event
from app.domain.governance import (
    RISK_TIERS,
    Identity,
    Policy,
    PromotionRequest,
    Role,
    policy_for,
    strictest_tier,
)
from app.domain.ledger import AUTHORITY_ACTIONS, LedgerAction, LedgerEvent
from app.domain.ledger_keys import KEY_ALGORITHM, SignatureVerifier, key_id_for
from app.domain.offline import OFFLINE_ACTIONS, intent_digest, offline_intent


@dataclass
class AuthorityState:
    """The fold's state after event ``seq``. Not thread-safe: callers hold a lock."""

    signatures: SignatureVerifier
    # The last event folded, and the last event read (the fold skips most actions).
    seq: int = 0
    scanned: int = 0
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    founder: str | None = None
    roles: dict[str, set[Role]] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    policy_seqs: dict[str, int] = field(default_factory=dict)
    # lower-case registry user name -> member user id
    name_owner: dict[str, str] = field(default_factory=dict)
    # model subject -> (tier as tagged, seq of the observation)
    tiers: dict[str, tuple[str, int]] = field(default_factory=dict)
    # model subject -> its tier changes seen by syncs, oldest first
    tier_changes: dict[str, list[TierChange]] = field(default_factory=dict)
    requests: dict[str, PromotionRequest] = field(default_factory=dict)
    # Ids of offline intents already used (appended or superseded): each counts once.
    intents: set[str] = field(default_factory=set)
    # (registry, model, version) -> its periodic reviews, oldest first
    reviews: dict[tuple[str, str, int], list[Review]] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    problems: list[AuthorityProblem] = field(default_factory=list)

    # ------------------------------------------------------------------ folding

    def fold(self, event: LedgerEvent) -> AuthorityProblem | None:
        """Fold one event (in sequence order); a refused event becomes a problem."""
        if event.seq <= self.seq:
            return None  # already folded (a read that overlapped the last one)
        judgement = self._judge(event)
        self.seq = event.seq
        self.scanned = max(self.scanned, event.seq)
        if isinstance(judgement, Refusal):
            problem = AuthorityProblem(
                event.seq,
                event.hash,
                event.action,
                event.actor,
                judgement.kind,
                judgement.reason,
            )
            self.problems.append(problem)
            return problem
        judgement()
        return None

    def fold_all(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            self.fold(event)

    def fold_unreadable(self, seq: int, action: str, actor: str, why: str) -> None:
        """A stored row that is not a readable event (one forged or damaged row must not
        stop every desk from reading the ledger): a problem, and nothing folded."""
        if seq <= self.seq:
            return
        self.seq = seq
        self.scanned = max(self.scanned, seq)
        self.problems.append(AuthorityProblem(seq, "", action, actor, RefusalKind.MALFORMED, why))

    def judge(self, event: LedgerEvent) -> Refusal | None:
        """What the fold would say of this event next, without folding it."""
        judgement = self._judge(event)
        return judgement if isinstance(judgement, Refusal) else None

    def _judge(self, ev: LedgerEvent) -> Judgement:
        action = ev.action
        if action == LedgerAction.RISK_TIER_OBSERVED:
            return self._tier_observed(ev)
        if action == LedgerAction.DECISION_SUPERSEDED:
            return self._superseded(ev)
        if action not in AUTHORITY_ACTIONS:
            return nothing
        intent = offline_intent(ev)
        refusal = (
            self._intent_refusal(ev, intent) if intent is not None else self._signature_refusal(ev)
        )
        if refusal is not None:
            return refusal
        if action in REQUEST_ACTIONS:
            judgement = judge_request_event(self, ev)
        else:
            handler = MEMBER_RULES.get(action) or RECORD_RULES.get(action)
            if handler is None:
                return Refusal(
                    RefusalKind.MALFORMED, f"'{action}' is not an action this Gavel knows."
                )
            judgement = handler(self, ev)
        if intent is None or isinstance(judgement, Refusal):
            return judgement
        mutation, intent_id = judgement, str(intent[0]["id"])

        def apply() -> None:
            mutation()
            self.intents.add(intent_id)

        return apply

    # ------------------------------------------------------------ offline intents

    def _intent_refusal(
        self, ev: LedgerEvent, intent: tuple[Mapping[str, Any], bytes, str]
    ) -> Refusal | None:
        """An event endorsed by a signed offline intent instead of its own signature."""
        document, signature, key_id = intent
        if ev.action not in OFFLINE_ACTIONS:
            return Refusal(RefusalKind.UNSIGNED, f"'{ev.action}' cannot be decided offline.")
        body = {k: v for k, v in as_mapping(ev.after).items() if k != "offline"}
        if (
            document.get("actor") != ev.actor
            or document.get("action") != ev.action
            or document.get("subject") != ev.subject
            or document.get("reason") != ev.reason
            or (document.get("after") or {}) != body
        ):
            return Refusal(
                RefusalKind.BAD_SIGNATURE,
                "it differs from the offline decision its author signed.",
            )
        if str(document.get("id")) in self.intents:
            return Refusal(
                RefusalKind.INVALID_STATE,
                f"the offline decision {document.get('id')} was already counted.",
            )
        key = self.keys.get(key_id)
        if key is None or key.holder != ev.actor or key.status is not KeyStatus.ACTIVE:
            return Refusal(
                RefusalKind.NOT_AUTHORIZED,
                f"its offline signature is not by an active key of {ev.actor}.",
            )
        digest = intent_digest(document)
        if digest is None or not self.signatures.verify(key.public_key, signature, digest):
            return Refusal(
                RefusalKind.BAD_SIGNATURE,
                f"its offline signature does not verify with {ev.actor}'s key: it was forged "
                "or altered.",
            )
        return None

    def _superseded(self, ev: LedgerEvent) -> Judgement:
        """Remember a superseded intent's id, once its author's signature verifies."""
        intent = offline_intent(ev)
        if intent is None:
            return nothing
        document, signature, key_id = intent
        key = self.keys.get(key_id)
        if key is None or key.holder != document.get("actor"):
            return nothing
        digest = intent_digest(document)
        if digest is None or not self.signatures.verify(key.public_key, signature, digest):
            return nothing
        intent_id = str(document.get("id"))

        def apply() -> None:
            self.intents.add(intent_id)

        return apply

    # --------------------------------------------------------------- signatures

    def _signature_refusal(self, ev: LedgerEvent) -> Refusal | None:
        if ev.signer is None or ev.signature is None:
            return Refusal(
                RefusalKind.UNSIGNED,
                "it grants, changes or uses authority but is not signed; such events "
                "must carry their author's signature.",
            )
        if not ev.intact:
            return Refusal(
                RefusalKind.BAD_SIGNATURE,
                "its content no longer matches the hash it was recorded with.",
            )
        digest = bytes.fromhex(ev.hash)
        if ev.action == LedgerAction.KEY_ENROLLED:
            after = as_mapping(ev.after)
            public_key = public_key_of(after)
            if public_key is None or after.get("algorithm") != KEY_ALGORITHM:
                return Refusal(RefusalKind.MALFORMED, "it does not carry an Ed25519 public key.")
            if ev.signer != after.get("key_id") or key_id_for(public_key) != ev.signer:
                return Refusal(
                    RefusalKind.BAD_SIGNATURE,
                    "an enrolment must be signed by the key it enrols (proof of possession).",
                )
            if not self.signatures.verify(public_key, ev.signature, digest):
                return Refusal(
                    RefusalKind.BAD_SIGNATURE,
                    "its signature does not verify with the key it enrols: it was forged.",
                )
            return None
        key = self.keys.get(ev.signer)
        if key is None:
            return Refusal(
                RefusalKind.BAD_SIGNATURE,
                f"it is signed with key {ev.signer}, which this ledger never enrolled.",
            )
        if key.holder != ev.actor:
            return Refusal(
                RefusalKind.BAD_SIGNATURE,
                f"it is recorded as done by {ev.actor} but signed with the key of {key.holder}.",
            )
        if not self.signatures.verify(key.public_key, ev.signature, digest):
            return Refusal(
                RefusalKind.BAD_SIGNATURE,
                f"its signature does not verify with {ev.actor}'s key: it was forged or altered.",
            )
        if key.status is KeyStatus.PENDING:
            return Refusal(
                RefusalKind.NOT_AUTHORIZED,
                f"it is signed with a key of {ev.actor} that no admin has approved.",
            )
        if key.status is not KeyStatus.ACTIVE:
            return Refusal(
                RefusalKind.NOT_AUTHORIZED,
                f"it is signed with a key of {ev.actor} that was {key.status.value} at "
                f"event {key.status_seq}.",
            )
        return None

    # ------------------------------------------------------------------ queries

    def roles_of(self, user_id: str) -> frozenset[Role]:
        return frozenset(self.roles.get(user_id, ()))

    def is_admin(self, user_id: str) -> bool:
        return Role.ADMIN in self.roles.get(user_id, ())

    def admins(self) -> set[str]:
        return {u for u, r in self.roles.items() if Role.ADMIN in r}

    def identity(self, user_id: str) -> Identity:
        member = self.members.get(user_id)
        if member is None:
            return Identity(user_id, user_id)
        return Identity(
            user_id,
            member.display_name,
            member.registry_usernames,
            member.status,
            member.key_id,
        )

    def identities(self) -> dict[str, Identity]:
        return {u: self.identity(u) for u in sorted(self.members)}

    def pending_keys(self) -> list[PendingKey]:
        out = []
        for key in self.keys.values():
            if key.status is not KeyStatus.PENDING:
                continue
            member = self.members.get(key.holder)
            out.append(
                PendingKey(
                    key.holder,
                    key.display_name,
                    key.key_id,
                    key.enrolled_seq,
                    key.enrolled_at,
                    key.enrolment_hash,
                    key.claimed_usernames,
                    member.key_id if member is not None else None,
                )
            )
        return sorted(out, key=lambda p: p.enrolled_seq)

    def active_key_of(self, user_id: str) -> str | None:
        member = self.members.get(user_id)
        return member.key_id if member is not None else None

    def all_policies(self) -> dict[str, Policy]:
        """The policy of every tier: as recorded, else the built-in default."""
        return {tier: policy_for(tier, self.policies) for tier in RISK_TIERS}

    def policy(self, tier: str) -> Policy:
        return policy_for(tier, self.policies)

    def observed_tier(self, model_subject: str) -> str | None:
        seen = self.tiers.get(model_subject)
        return seen[0] if seen is not None else None

    def effective_tier(self, request: PromotionRequest, *more: str | None) -> str:
        """The strictest of the tier at request time, the last tier a sync saw, and any
        tier the caller read since (the cache's, the registry's)."""
        subject = f"model:{request.identity.registry}/{request.identity.model}"
        return strictest_tier(request.risk_tier, self.observed_tier(subject), *more)

    def owner_of(self, registry_username: str) -> str | None:
        """The member a registry user name belongs to (an admin's mapping, or a member
        whose user id is that name); None when it maps to no one."""
        name = registry_username.strip().lower()
        if not name:
            return None
        owner = self.name_owner.get(name)
        if owner is not None:
            return owner
        return next((u for u in self.members if u.lower() == name), None)

    def names_of(self, user_id: str) -> set[str]:
        member = self.members.get(user_id)
        mapped = member.registry_usernames if member is not None else ()
        return {user_id.lower(), *(n.lower() for n in mapped)}

    def open_problems(self) -> list[AuthorityProblem]:
        return [p for p in self.problems if p.acknowledged is None]

    # ------------------------------------------------------------ shared checks

    def require_admin(self, actor: str, what: str) -> Refusal | None:
        if self.is_admin(actor):
            return None
        return Refusal(
            RefusalKind.NOT_AUTHORIZED,
            f"only an admin can {what}; {actor} was not an admin then.",
        )

    def name_clash(self, user_id: str, names: Iterable[str]) -> Refusal | None:
        for name in names:
            owner = self.name_owner.get(name.lower())
            if owner is not None and owner != user_id:
                return Refusal(
                    RefusalKind.INVALID_STATE,
                    f"the registry user name '{name}' already belongs to {owner}.",
                )
        return None

    def set_names(self, member: Member, names: tuple[str, ...]) -> None:
        for old in member.registry_usernames:
            if self.name_owner.get(old.lower()) == member.user_id:
                del self.name_owner[old.lower()]
        member.registry_usernames = names
        for name in names:
            self.name_owner[name.lower()] = member.user_id

    # ------------------------------------------------------------ observations

    def _tier_observed(self, ev: LedgerEvent) -> Judgement:
        tier = as_mapping(ev.after).get("risk_tier")
        if not ev.subject.startswith("model:") or not isinstance(tier, str):
            return nothing  # an observation Gavel cannot read grants nothing either way

        def apply() -> None:
            seen = self.tiers.get(ev.subject)
            if seen is not None and seen[0] != tier:
                change = TierChange(seen[0], tier, ev.seq, ev.at)
                self.tier_changes.setdefault(ev.subject, []).append(change)
            self.tiers[ev.subject] = (tier, ev.seq)

        return apply

    def last_lowering(self, model_subject: str) -> TierChange | None:
        """The most recent sync that saw the model's tier become less strict."""
        changes = self.tier_changes.get(model_subject, [])
        return next((c for c in reversed(changes) if c.lowered), None)
