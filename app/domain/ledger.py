"""The audit ledger: its events, their canonical hashed form, checkpoints and reports.

Canonical body, format 1
------------------------
Each event is hashed over one JSON object serialised with RFC 8785 (JSON
Canonicalization Scheme, via the ``rfc8785`` library): members sorted by the UTF-16
code units of their names, no insignificant whitespace, UTF-8, strings escaped only
where JSON requires it, numbers in ECMAScript form (so a float has exactly one
spelling; NaN, infinities and integers beyond ±(2**53 - 1) are refused). The object:

    {
      "event": {
        "action":  "request.approved",                 # a LedgerAction value
        "actor":   "alice",                            # who did it
        "after":   <any JSON value or null>,           # state after the action
        "before":  <any JSON value or null>,           # state before the action
        "reason":  "four-eyes review done",            # free text, may be ""
        "subject": "model:prod/fraud",                 # what it was done to
        "ts":      "2026-11-27T10:15:30.123456Z"       # UTC, always 6 fractional digits
      },
      "format": 1,
      "prev":   "<64 lowercase hex: hash of event seq-1; 64 zeros for seq 1>",
      "seq":    <integer, 1, 2, 3, ... without gaps>,
      "signer": "<key id, e.g. ed25519:0f3a...>" or null
    }

An event's hash is the lowercase hex SHA-256 of exactly those bytes, and the ledger
stores exactly those bytes. Because the names sort as event < format < prev < seq <
signer and a key id never needs escaping, every body ENDS WITH

    "prev":"<prev>","seq":<seq>,"signer":null}        (or "signer":"<key id>"})

which lets a verifier check the chain link with one ``bytes.endswith`` instead of
parsing JSON (see ``chain_tail``). An event may carry an Ed25519 signature over the
32 raw bytes of its hash; the signature lies outside the body (it signs the hash),
but the body names its signer, so stripping or adding a signature is detected.
Key enrolment events (``key.enrolled``) carry the raw public key in base64, so a
ledger or an export verifies offline with nothing else (see ``ledger_keys``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeAlias

import rfc8785

from app.domain.errors import GavelError, UsageError

JsonValue: TypeAlias = (
    "bool | int | float | str | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
)

FORMAT = 1
GENESIS_HASH = "0" * 64
MAX_ACTOR = 200
MAX_SUBJECT = 500
MAX_ACTION = 64

_ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_KEY_ID_RE = re.compile(r"^ed25519:[0-9a-f]{32}$")
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class LedgerAction(StrEnum):
    """Every kind of event Gavel records. Stored as the value; never renumber or rename.

    Which of them carry authority (and so must be signed) is ``AUTHORITY_ACTIONS``.
    """

    # Event 1 of every ledger: its hash names the ledger (keyring entries use it).
    LEDGER_CREATED = "ledger.created"
    REQUEST_CREATED = "request.created"
    REQUEST_APPROVED = "request.approved"
    REQUEST_REJECTED = "request.rejected"
    # The requester (or an admin) took a request back before it was applied.
    REQUEST_WITHDRAWN = "request.withdrawn"
    COMMENT_ADDED = "comment.added"
    # Someone claimed an approved request to write it to the registry; at most one
    # claim is live per request, so a promotion is applied exactly once.
    PROMOTION_APPLY_STARTED = "promotion.apply_started"
    PROMOTION_APPLIED = "promotion.applied"
    # The claimant could not write to the registry; the claim is released.
    PROMOTION_APPLY_FAILED = "promotion.apply_failed"
    CONFLICT_DETECTED = "conflict.detected"
    # A person's public key, signed by the key itself (proof of possession). On a
    # ledger with members it waits for an admin: key.approved (a new member) or
    # key.rotated (a replacement for a member's key).
    KEY_ENROLLED = "key.enrolled"
    KEY_APPROVED = "key.approved"
    KEY_ROTATED = "key.rotated"
    KEY_REVOKED = "key.revoked"
    ROLE_GRANTED = "role.granted"
    ROLE_REVOKED = "role.revoked"
    POLICY_CHANGED = "policy.changed"
    # An admin records which registry user names belong to a member.
    IDENTITY_MAPPED = "identity.mapped"
    # An admin records that a ledger problem (e.g. a forged row) was investigated.
    PROBLEM_ACKNOWLEDGED = "ledger.problem_acknowledged"
    # A sync saw a model's risk_tier tag (first sight, or a change).
    RISK_TIER_OBSERVED = "risk_tier.observed"
    # An approver attests that the version in production is still fit for purpose.
    REVIEW_RECORDED = "review.recorded"
    # An auditor's signed finding (about a model, version, request or event) entered in
    # the ledger, and an admin's signed resolution of it.
    FINDING_RECORDED = "finding.recorded"
    FINDING_RESOLVED = "finding.resolved"
    # A decision made offline (a signed intent) that no longer applied when the ledger
    # was back: kept for the record, counts for nothing (see domain.offline).
    DECISION_SUPERSEDED = "decision.superseded"
    # A sync saw an alias appear, move or disappear in a registry.
    ALIAS_OBSERVED = "alias.observed"
    # Any other registry change a sync saw (new version, tags, stage).
    REGISTRY_CHANGE_OBSERVED = "registry.change_observed"
    EXPORT_MADE = "export.made"
    # A person's user id, printed name and registry user names (for separation of duties).
    IDENTITY_DECLARED = "identity.declared"
    # An endpoint was seen serving a version other than the one its alias points to.
    SERVING_DRIFT_OBSERVED = "serving.drift_observed"
    # After a recorded drift, the endpoint was seen serving the alias's version again.
    SERVING_DRIFT_RESOLVED = "serving.drift_resolved"


# Events that change which keys exist: verification follows them to check signatures.
KEY_ACTIONS = frozenset(
    {
        LedgerAction.KEY_ENROLLED.value,
        LedgerAction.KEY_ROTATED.value,
        LedgerAction.KEY_REVOKED.value,
    }
)

# Events that grant, change or use authority. Each must be signed by its actor's
# enrolled key; no state is ever folded from one that is not (see domain.authority).
AUTHORITY_ACTIONS = frozenset(
    a.value
    for a in (
        LedgerAction.REQUEST_CREATED,
        LedgerAction.REQUEST_APPROVED,
        LedgerAction.REQUEST_REJECTED,
        LedgerAction.REQUEST_WITHDRAWN,
        LedgerAction.COMMENT_ADDED,
        LedgerAction.PROMOTION_APPLY_STARTED,
        LedgerAction.PROMOTION_APPLIED,
        LedgerAction.PROMOTION_APPLY_FAILED,
        LedgerAction.CONFLICT_DETECTED,
        LedgerAction.KEY_ENROLLED,
        LedgerAction.KEY_APPROVED,
        LedgerAction.KEY_ROTATED,
        LedgerAction.KEY_REVOKED,
        LedgerAction.ROLE_GRANTED,
        LedgerAction.ROLE_REVOKED,
        LedgerAction.POLICY_CHANGED,
        LedgerAction.IDENTITY_DECLARED,
        LedgerAction.IDENTITY_MAPPED,
        LedgerAction.PROBLEM_ACKNOWLEDGED,
        LedgerAction.REVIEW_RECORDED,
        LedgerAction.FINDING_RECORDED,
        LedgerAction.FINDING_RESOLVED,
    )
)


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


class LedgerError(GavelError):
    """The ledger cannot do what was asked (busy, inconsistent, refused)."""


class ExportFailed(LedgerError):
    """An export file could not be written."""


class LedgerTampered(LedgerError):
    """The ledger (or a shared ledger being pulled) fails a check only tampering explains.

    problem: the first bad event found, when one was pinpointed.
    """

    def __init__(self, message: str, problem: VerifyProblem | None = None) -> None:
        super().__init__(message)
        self.problem = problem


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class LedgerDraft:
    """An event before the ledger numbers, chains and hashes it."""

    actor: str
    action: str
    subject: str
    before: JsonValue = None
    after: JsonValue = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.actor or len(self.actor) > MAX_ACTOR:
            raise UsageError(f"An audit event needs an actor of 1 to {MAX_ACTOR} characters.")
        if not self.subject or len(self.subject) > MAX_SUBJECT:
            raise UsageError(f"An audit event needs a subject of 1 to {MAX_SUBJECT} characters.")
        if len(self.action) > MAX_ACTION or not _ACTION_RE.match(self.action):
            raise UsageError(
                f"'{self.action}' is not a valid audit action: use dotted lowercase words "
                "such as 'request.approved'."
            )


@dataclass(frozen=True)
class LedgerEvent:
    """One recorded event, read back from its canonical body."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: JsonValue
    after: JsonValue
    reason: str
    prev_hash: str
    hash: str
    signer: str | None = None
    signature: bytes | None = None
    # False when the stored hash column differs from the SHA-256 of the body; ``hash``
    # is always the body's own digest, so a signature is checked against the content.
    intact: bool = True

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.seq, self.hash)

    @property
    def known_action(self) -> LedgerAction | None:
        """The action as an enum member, or None for an action newer than this Gavel."""
        try:
            return LedgerAction(self.action)
        except ValueError:
            return None


# (seq, body, hash, signer, signature, action): the column order stores stream.
StoredRow: TypeAlias = tuple[int, bytes, str, "str | None", "bytes | None", str]
# (body, hash, signature): all the fast verification path reads per event.
BodyRow: TypeAlias = tuple[bytes, str, "bytes | None"]


@dataclass(frozen=True)
class Checkpoint:
    """A (sequence number, head hash) pair kept from an earlier audit: 'SEQ:HASH'."""

    seq: int
    hash: str

    def __post_init__(self) -> None:
        if self.seq < 0 or not _HASH_RE.match(self.hash):
            raise UsageError(
                "A ledger checkpoint is 'SEQ:HASH': an event number and its "
                "64-character lowercase hex hash."
            )

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        seq_text, sep, hash_text = text.strip().partition(":")
        if not sep or not seq_text.isdigit():
            raise UsageError(
                f"'{text}' is not a ledger checkpoint: expected 'SEQ:HASH', e.g. '1200:9f86d0…'."
            )
        return cls(int(seq_text), hash_text.lower())

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


# --------------------------------------------------------------- canonical form


def format_ts(at: datetime) -> str:
    """The body's timestamp spelling: UTC, microseconds, 'Z' (fixed width, sorts as time)."""
    if at.tzinfo is None:
        raise UsageError("Audit timestamps must carry a time zone (use UTC).")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_epoch_us(at: datetime) -> int:
    """Integer microseconds since the epoch: the indexed column time filters use."""
    return (at - _EPOCH) // _MICROSECOND


def canonical_body(
    *,
    seq: int,
    at: datetime,
    draft: LedgerDraft,
    prev_hash: str,
    signer: str | None = None,
) -> bytes:
    """The exact bytes that are stored and hashed (format 1, see the module docstring)."""
    if signer is not None and not _KEY_ID_RE.match(signer):
        raise UsageError(f"'{signer}' is not a Gavel signing key id.")
    if seq < 1 or not _HASH_RE.match(prev_hash):
        raise UsageError(
            "An audit event needs a sequence number from 1 and a 64-hex previous hash."
        )
    body: dict[str, Any] = {
        "event": {
            "action": str(draft.action),
            "actor": draft.actor,
            "after": _plain(draft.after),
            "before": _plain(draft.before),
            "reason": draft.reason,
            "subject": draft.subject,
            "ts": format_ts(at),
        },
        "format": FORMAT,
        "prev": prev_hash,
        "seq": seq,
        "signer": signer,
    }
    try:
        return rfc8785.dumps(body)
    except rfc8785.CanonicalizationError as exc:
        raise UsageError(
            f"The audit event's before/after values cannot be recorded canonically ({exc}): "
            "use JSON values only, no NaN or infinity, and write integers beyond 2**53 "
            "as strings."
        ) from None


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def chain_tail(prev_hash: str, seq: int, signer: str | None) -> bytes:
    """The bytes a canonical body with this link ends with (see the module docstring)."""
    signer_json = b"null" if signer is None else b'"' + signer.encode("ascii") + b'"'
    return b'"prev":"%b","seq":%d,"signer":%b}' % (prev_hash.encode("ascii"), seq, signer_json)


def _plain(value: object) -> Any:
    """Mappings and sequences as the dicts and lists rfc8785 serialises (it checks the rest)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parse_event(
    seq: int, body: bytes, hash_: str, signer: str | None, signature: bytes | None
) -> LedgerEvent:
    """Read a stored body back into an event; LedgerTampered when it is not a body.

    The event's ``hash`` is computed from the body here, whatever the hash column says
    (``intact`` tells whether they agree): every reader that checks a signature checks
    it against what the event really says.
    """
    digest = body_hash(body)
    try:
        doc = json.loads(body)
        ev = doc["event"]
        event = LedgerEvent(
            seq=doc["seq"],
            at=datetime.fromisoformat(ev["ts"]),
            actor=ev["actor"],
            action=ev["action"],
            subject=ev["subject"],
            before=ev["before"],
            after=ev["after"],
            reason=ev["reason"],
            prev_hash=doc["prev"],
            hash=digest,
            signer=doc["signer"],
            signature=signature,
            intact=digest == hash_,
        )
    except (ValueError, KeyError, TypeError):
        raise LedgerTampered(
            f"Event {seq} of the audit ledger is not a readable ledger record. "
            "Run 'gavel audit verify' and report the result to your auditor."
        ) from None
    if event.seq != seq or event.signer != signer or (signature is not None and signer is None):
        raise LedgerTampered(
            f"Event {seq} of the audit ledger does not match its index columns. "
            "Run 'gavel audit verify' and report the result to your auditor."
        )
    return event


def stored_to_event(stored: StoredRow) -> LedgerEvent:
    seq, body, hash_, signer, signature, _action = stored
    return parse_event(seq, body, hash_, signer, signature)


# --------------------------------------------------------------------- verification


class ProblemKind(StrEnum):
    EDITED = "edited"
    MISSING = "missing"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad_signature"
    TRUNCATED = "truncated"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    # An authority event without a signature, or whose author lacked the authority.
    UNSIGNED = "unsigned"
    UNAUTHORIZED = "unauthorized"
    # The file is damaged (a bad page), which is not the same as events removed.
    DAMAGED = "damaged"


@dataclass(frozen=True)
class VerifyProblem:
    """The first bad event: what is wrong with it, as a sentence."""

    kind: ProblemKind
    seq: int
    message: str


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of a verification.

    head: the last event that verified, as a checkpoint to keep for the next audit.
    """

    events_checked: int
    signatures_checked: int
    head: Checkpoint | None
    # The first problem not acknowledged by an admin (None: the ledger verifies).
    problem: VerifyProblem | None = None
    # True when the hash chain itself breaks (events edited, removed, inserted).
    chain_broken: bool = False
    # Events whose signature fails while the chain holds (each one worthless by itself).
    signature_problems: tuple[VerifyProblem, ...] = ()
    # Every problem not acknowledged, in ledger order (``problem`` is the first).
    open_problems: tuple[VerifyProblem, ...] = ()
    # Refused events an admin acknowledged after investigating: reported, not failures.
    acknowledged: tuple[VerifyProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.problem is not None:
            more = len(self.open_problems) - 1
            extra = f" ({more} more problem{'s' if more > 1 else ''} after it.)" if more > 0 else ""
            return self.problem.message + extra
        if self.head is None:
            return "The audit ledger is empty."
        text = (
            f"The audit ledger verifies: {self.events_checked:,} events and "
            f"{self.signatures_checked:,} signatures checked; keep checkpoint {self.head} "
            "to prove at the next audit that nothing was rewritten."
        )
        if self.acknowledged:
            seqs = ", ".join(str(p.seq) for p in self.acknowledged)
            text += (
                f" {len(self.acknowledged)} refused event(s) ({seqs}) were investigated and "
                "acknowledged by an admin; they count for nothing."
            )
        return text
