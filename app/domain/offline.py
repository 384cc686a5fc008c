"""Decisions made while the team ledger was out of reach: signed intents.

An event's signature covers its place in the ledger (seq, previous hash), which a
desktop without the ledger cannot know. So a decision made offline is signed as an
*intent*: a document naming who decides what, on which exact request record, and
the replica head it was made against, signed with the person's key over the SHA-256
of its RFC 8785 form. When the ledger is back, the intent is appended as the decision
event it describes (``after.offline`` carries it; the event itself is not signed) if
it still applies at that point of the ledger, judged by the same rules as any
decision; otherwise a ``decision.superseded`` observation records it with the reason.
An intent counts at most once: its id is remembered by the fold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

from app.domain.ledger import LedgerAction

# What can be decided offline (the issue: approvals, rejections, comments; findings
# are signed documents of their own, see authority_records).
OFFLINE_ACTIONS = frozenset(
    a.value
    for a in (
        LedgerAction.REQUEST_APPROVED,
        LedgerAction.REQUEST_REJECTED,
        LedgerAction.COMMENT_ADDED,
    )
)


def intent_digest(intent: Mapping[str, Any]) -> bytes | None:
    """What the person signs: the SHA-256 of the intent's RFC 8785 canonical JSON; None
    when the document has no canonical form (e.g. an integer beyond 2**53): a document
    nobody could have signed."""
    try:
        return hashlib.sha256(rfc8785.dumps(dict(intent))).digest()
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


def intent_document(
    *,
    intent_id: str,
    actor: str,
    action: str,
    subject: str,
    after: Mapping[str, Any] | None,
    reason: str,
    made_at: str,
    replica_seq: int,
    replica_hash: str,
    policy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The intent of one decision: exactly the event it will become, minus its place.

    policy: for an approval or rejection, the tier and the digest of the policy the
        person decided under (``policy_digest``): if it changed before the decision
        reached the ledger, the decision is superseded, not counted under another rule.
    """
    document = {
        "id": intent_id,
        "actor": actor,
        "action": action,
        "subject": subject,
        "after": dict(after) if after is not None else None,
        "reason": reason,
        "made_at": made_at,
        "replica_head": {"seq": replica_seq, "hash": replica_hash},
    }
    if policy is not None:
        document["policy"] = dict(policy)
    return document


def policy_digest(policy_json: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a policy's RFC 8785 form: which rule a decision was made under."""
    return hashlib.sha256(rfc8785.dumps(dict(policy_json))).hexdigest()


def offline_intent(event: Any) -> tuple[Mapping[str, Any], bytes, str] | None:
    """(intent, signature, key id) an event carries in ``after.offline``; None if none.

    event: a LedgerEvent (typed loosely: domain.ledger would import this module).
    """
    after = event.after if isinstance(event.after, Mapping) else {}
    offline = after.get("offline")
    if not isinstance(offline, Mapping):
        return None
    document, signature, key_id = (
        offline.get("intent"),
        offline.get("signature"),
        offline.get("key_id"),
    )
    if not isinstance(document, Mapping) or not isinstance(signature, str):
        return None
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    return document, raw, str(key_id)
