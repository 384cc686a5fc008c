"""The values the authority fold works with: keys, members, problems, refusals.

See ``domain.authority`` for the fold itself.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.governance import MemberStatus, normalize_tier, strictest_tier
from app.domain.ledger import AUTHORITY_ACTIONS, LedgerAction

# Everything the fold reads: authority events, the tiers syncs saw, the genesis.
FOLDED_ACTIONS: tuple[str, ...] = tuple(
    sorted(
        AUTHORITY_ACTIONS
        | {
            LedgerAction.RISK_TIER_OBSERVED.value,
            LedgerAction.LEDGER_CREATED.value,
            LedgerAction.DECISION_SUPERSEDED.value,
        }
    )
)

# A claim on a request older than this (by the ledger's clock) may be taken over by
# someone else: its claimant crashed or gave up. The taker re-reads the registry
# first, so a write the claimant did make is recorded, never repeated.
CLAIM_TTL = timedelta(minutes=15)

_USER_ID_RE = re.compile(r"[^\s:]{1,64}")


def valid_user_id(user_id: str) -> bool:
    """1 to 64 characters, no spaces or colons (keyring entries use ':' as separator)."""
    # fullmatch: with match, '$' would let a trailing newline through.
    return bool(_USER_ID_RE.fullmatch(user_id))


class RefusalKind(StrEnum):
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    NOT_AUTHORIZED = "not_authorized"
    SEPARATION_OF_DUTIES = "separation_of_duties"
    INVALID_STATE = "invalid_state"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class Refusal:
    """Why an event does not count; ``reason`` is a sentence without the event's name."""

    kind: RefusalKind
    reason: str


@dataclass(frozen=True)
class Acknowledgement:
    seq: int
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class AuthorityProblem:
    """An event on the ledger that the fold refused: forged, or a write that raced."""

    seq: int
    hash: str
    action: str
    actor: str
    kind: RefusalKind
    reason: str
    acknowledged: Acknowledgement | None = None

    def describe(self) -> str:
        text = f"Event {self.seq} ({self.action} by {self.actor}) does not count: {self.reason}"
        if self.acknowledged is not None:
            ack = self.acknowledged
            text += f" Acknowledged by {ack.actor} at event {ack.seq}: {ack.reason}"
        return text


class KeyStatus(StrEnum):
    PENDING = "pending"  # enrolled, waiting for an admin
    ACTIVE = "active"
    REPLACED = "replaced"  # by key.rotated
    REVOKED = "revoked"


@dataclass
class KeyRecord:
    key_id: str
    public_key: bytes
    holder: str
    enrolled_seq: int
    enrolment_hash: str
    enrolled_at: datetime
    display_name: str
    # What the holder said their registry user names are; they count once approved.
    claimed_usernames: tuple[str, ...]
    status: KeyStatus
    status_seq: int
    status_by: str


@dataclass
class Member:
    user_id: str
    display_name: str
    registry_usernames: tuple[str, ...] = ()
    key_id: str | None = None  # the active key
    pending_key_id: str | None = None
    joined_seq: int | None = None

    @property
    def status(self) -> MemberStatus:
        if self.key_id is not None:
            return MemberStatus.ACTIVE
        if self.pending_key_id is not None:
            return MemberStatus.PENDING
        return MemberStatus.REVOKED


@dataclass(frozen=True)
class PendingKey:
    """A key waiting for an admin: a new member's, or a member's replacement key."""

    user_id: str
    display_name: str
    key_id: str
    enrolled_seq: int
    enrolled_at: datetime
    enrolment_hash: str
    claimed_usernames: tuple[str, ...]
    # The key it would replace; None for a new member.
    replaces: str | None


def as_mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def name_list(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    seen: dict[str, str] = {}
    for item in value:
        if isinstance(item, str) and item.strip():
            seen.setdefault(item.strip().lower(), item.strip())
    return tuple(seen.values())


def public_key_of(after: Mapping[str, object]) -> bytes | None:
    raw = after.get("public_key")
    if not isinstance(raw, str):
        return None
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


@dataclass(frozen=True)
class TierChange:
    """A sync saw a model's risk_tier tag change (an observation on the ledger)."""

    before: str
    after: str
    seq: int
    at: datetime

    @property
    def lowered(self) -> bool:
        return strictest_tier(self.before, self.after) != normalize_tier(self.after)


Mutation = Callable[[], None]
# A rule's verdict on an event: why it does not count, or the change it makes.
Judgement = Refusal | Mutation


def nothing() -> None:
    """The change an event that grants nothing makes."""
