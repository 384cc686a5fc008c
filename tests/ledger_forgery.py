"""What an attacker with the ledger database's credentials can do: append rows that
chain correctly and move the head forward, signed with whatever key they hold (their
own, a freshly made one) or with random bytes under somebody else's key id.

Tests use these to forge the ledger the way a team member with ordinary access
could, and check that the forgery gives no authority.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from app.domain.ledger import LedgerAction, LedgerDraft, LedgerEvent
from app.domain.ledger_keys import EventSigner, key_enrollment, key_subject
from app.services.signing import Ed25519Signer
from app.stores.engine import Database
from app.stores.ledger_store import LedgerStore


class RandomSignature:
    """Claims a real key id and signs with random bytes."""

    def __init__(self, key_id: str) -> None:
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, digest: bytes) -> bytes:
        return os.urandom(64)


def append(
    db: Database,
    actor: str,
    action: LedgerAction,
    subject: str,
    *,
    after: Any = None,
    before: Any = None,
    reason: str = "",
    signer: EventSigner | None = None,
) -> LedgerEvent:
    """Append straight to the ledger's tables: chained, head moved, no service involved."""
    draft = LedgerDraft(actor, action.value, subject, before, after, reason)
    return LedgerStore(db).append(draft, signer)


def enrol_own_key(db: Database, user: str) -> Ed25519Signer:
    """A key the attacker made, enrolled under ``user`` with a valid proof of possession."""
    key = Ed25519Signer.generate()
    append(
        db,
        user,
        LedgerAction.KEY_ENROLLED,
        key_subject(key.key_id),
        after=key_enrollment(key.public_key, user),
        signer=key,
    )
    return key


def append_raw(db: Database, draft: LedgerDraft, edit: Callable[[bytes], bytes]) -> LedgerEvent:
    """Append a body Gavel would never write: the canonical body of ``draft`` passed
    through ``edit`` (e.g. a number no canonical JSON can hold), chained and hashed as
    it stands, head moved, unsigned."""
    from dataclasses import replace

    from app.domain.ledger import body_hash
    from app.stores.ledger_store import _Prepared

    with LedgerStore(db).appending() as tx:
        prepared = tx.prepare(draft)
        body = edit(prepared.body)
        # The index columns still say what the draft said; the bytes are what they are.
        event = replace(prepared.event, hash=body_hash(body))
        return tx.store(_Prepared(event, body, None))
