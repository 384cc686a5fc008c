"""Signing keys in the audit ledger: who may sign, and how verification learns keys.

A key is enrolled by a ``key.enrolled`` event whose "after" value carries the raw
Ed25519 public key in base64 (see ``key_enrollment``), so a ledger or an export
verifies offline. Its id is its fingerprint; its holder is the enrolling actor,
and only the holder's events may be signed with it, until a ``key.revoked`` event
or a ``key.rotated`` event that replaces it.

This table answers "was this signature made by the key it names, enrolled to that
actor and not yet retired?" Whether the key's holder had the authority the event
uses (an admin's countersignature of the key, a role) is ``domain.authority``'s
question.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.ledger import LedgerAction

KEY_ALGORITHM = "ed25519"


class EventSigner(Protocol):
    """Signs an event hash (32 raw bytes) with a private key the ledger knows by key_id."""

    @property
    def key_id(self) -> str: ...

    def sign(self, digest: bytes) -> bytes: ...


class SignatureVerifier(Protocol):
    """Checks a signature made by the holder of a raw public key."""

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool: ...


def key_id_for(public_key: bytes) -> str:
    """A key's id is its fingerprint, so an id cannot be re-enrolled for another key."""
    return f"{KEY_ALGORITHM}:{hashlib.sha256(public_key).hexdigest()[:32]}"


def key_subject(key_id: str) -> str:
    return f"key:{key_id}"


def key_enrollment(
    public_key: bytes,
    holder: str,
    display_name: str = "",
    registry_usernames: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The 'after' value of a key.enrolled event: everything needed to verify offline.

    display_name and registry_usernames are what the holder says of themselves; the
    names count for separation of duties only once an admin approves the key.
    """
    return {
        "algorithm": KEY_ALGORITHM,
        "holder": holder,
        "key_id": key_id_for(public_key),
        "public_key": base64.b64encode(public_key).decode("ascii"),
        "display_name": display_name or holder,
        "registry_usernames": list(registry_usernames),
    }


@dataclass(frozen=True)
class EnrolledKey:
    key_id: str
    public_key: bytes
    holder: str
    enrolled_seq: int
    revoked_seq: int | None = None


def apply_key_event(
    keys: dict[str, EnrolledKey],
    seq: int,
    event: Mapping[str, object],
    *,
    signer: str | None,
    retire: bool = True,
) -> str:
    """Update the key table from a key event body's "event" object.

    signer: the key id the event's body names as its signer. An enrolment counts only
        when it is signed with the key it enrols (proof of possession); the caller
        verifies that signature and drops the key if it fails.
    retire: follow key.revoked / key.rotated. Verification of the chain does not: who
        may retire a key is the authority fold's question, and a revocation the fold
        refuses (a forged one, say) must not make its victim's later signatures fail.

    Returns "" when fine, else a sentence saying why the event is not a valid key event.
    """
    after = event.get("after")
    if not isinstance(after, Mapping):
        return f"Event {seq} is a key event without key details."
    key_id = after.get("key_id")
    if not retire and event.get("action") != LedgerAction.KEY_ENROLLED:
        return ""
    if event.get("action") == LedgerAction.KEY_ROTATED:
        # The replaced key signs nothing after this event; the new key was enrolled
        # (and is checked) by its own key.enrolled event.
        key_id = after.get("old_key_id")
        if not isinstance(key_id, str) or key_id not in keys:
            return f"Event {seq} replaces key {key_id}, which was never enrolled."
    if event.get("action") in (LedgerAction.KEY_REVOKED, LedgerAction.KEY_ROTATED):
        known = keys.get(key_id) if isinstance(key_id, str) else None
        if known is None:
            return f"Event {seq} revokes key {key_id}, which was never enrolled."
        if known.revoked_seq is None:
            keys[known.key_id] = EnrolledKey(
                known.key_id, known.public_key, known.holder, known.enrolled_seq, seq
            )
        return ""
    public_b64, holder = after.get("public_key"), after.get("holder")
    if after.get("algorithm") != KEY_ALGORITHM or not isinstance(public_b64, str):
        return f"Event {seq} enrols a key that is not an Ed25519 public key."
    try:
        public_key = base64.b64decode(public_b64, validate=True)
    except (binascii.Error, ValueError):
        return f"Event {seq} enrols a public key that is not valid base64."
    if len(public_key) != 32 or key_id != key_id_for(public_key):
        return f"Event {seq} enrols key {key_id}, but its public key has another fingerprint."
    if not isinstance(holder, str) or holder != event.get("actor"):
        return f"Event {seq} enrols a key for '{holder}' but was recorded by someone else."
    if key_id in keys:
        return f"Event {seq} enrols key {key_id} a second time."
    if signer != key_id:
        return f"Event {seq} enrols key {key_id} without signing with it (no proof of possession)."
    keys[key_id] = EnrolledKey(key_id, public_key, holder, seq)
    return ""
