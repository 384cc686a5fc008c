#!/usr/bin/env python3
"""Verify a Gavel audit-ledger export on its own, from the specification alone.

    python tools/verify_ledger.py EXPORT.jsonl [--checkpoint SEQ:HASH] [--json]

Prints "OK: N events, M signatures; head SEQ:HASH" and exits 0, or prints the
problems found, each with its event number, and exits 1; exits 2 when the command
is used wrongly or the file cannot be read.

This file implements docs/ledger-format.md with the Python standard library and the
``cryptography`` package only, and imports nothing of Gavel: an auditor can read it in
one sitting, and it doubles as an independent cross-check of Gavel's own verifier.
It checks, line by line:

1. the line's shape, and takes the event's body as the exact bytes between
   '{"body":' and the line's last ',"hash":"' (never re-serialised: see below);
2. SHA-256 of those bytes equals the line's "hash";
3. "seq" counts 1, 2, 3, ... without gaps, each body's "prev" is the previous
   event's hash (64 zeros for event 1), and the body ends with the fixed tail
   '"prev":"…","seq":N,"signer":…}';
4. every signature: Ed25519 over the 32 raw digest bytes, by a key the file itself
   enrolled (key.enrolled carries the public key), held by the event's actor, not
   replaced or revoked before it;
5. the authority of every authority event, as Gavel's fold judges it: signed by an
   active (admin-approved, or founder's) key of its actor (or carrying the offline
   intent its actor signed), and allowed to its actor at that point of the ledger
   (roles, policies and their expiry, separation of duties, claims, reviews, auditors'
   findings, ...).

An event that fails 1-3 (or a --checkpoint) breaks the chain: nothing after it can be
trusted, so reading stops there. An event that fails 4 or 5 counts for nothing, and
reading goes on; an admin's signed ledger.problem_acknowledged event can acknowledge
an authority problem (it is then reported, but no longer fails the file).

Hashes are checked over the stored bytes, not over a re-serialisation of the parsed
body: RFC 8785 canonical JSON is not in the standard library, and comparing the
bytes an event was signed over is the stronger check anyway (any change to them
changes the hash). So this verifier does not prove that each body is in canonical
form; it proves that each body is, byte for byte, what was hashed, chained and signed.
Offline intents and findings, though, are signed over the RFC 8785 form of a document
embedded in an event: for those, ``canonical_json`` implements RFC 8785.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import operator
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# ----------------------------------------------------------------------- the format

FORMAT = 1
GENESIS = "0" * 64
LINE_PREFIX = b'{"body":'
HASH_SEPARATOR = b',"hash":"'
BODY_KEYS = {"event", "format", "prev", "seq", "signer"}
EVENT_KEYS = {"action", "actor", "after", "before", "reason", "subject", "ts"}

_LINE_TAIL = re.compile(rb'([0-9a-f]{64})","signature":(?:null|"([A-Za-z0-9+/]*={0,2})")}')
_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"ed25519:[0-9a-f]{32}")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_USER_ID = re.compile(r"[^\s:]{1,64}")
_THRESHOLD = re.compile(r"\s*([A-Za-z0-9_.\-/ ]+?)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*")

REQUEST_ACTIONS = frozenset(
    {
        "request.created",
        "request.approved",
        "request.rejected",
        "request.withdrawn",
        "comment.added",
        "promotion.apply_started",
        "promotion.applied",
        "promotion.apply_failed",
        "conflict.detected",
    }
)
MEMBER_ACTIONS = frozenset(
    {
        "key.enrolled",
        "key.approved",
        "key.rotated",
        "key.revoked",
        "role.granted",
        "role.revoked",
        "policy.changed",
        "identity.declared",
        "identity.mapped",
        "ledger.problem_acknowledged",
    }
)
RECORD_ACTIONS = frozenset({"review.recorded", "finding.recorded", "finding.resolved"})
# Events that grant, change or use authority: each must be signed by its actor (or, for
# OFFLINE_ACTIONS, carry the intent its actor signed offline).
AUTHORITY_ACTIONS = REQUEST_ACTIONS | MEMBER_ACTIONS | RECORD_ACTIONS
OFFLINE_ACTIONS = frozenset({"request.approved", "request.rejected", "comment.added"})

ROLES = ("viewer", "requester", "approver", "auditor", "admin")
SEVERITIES = ("observation", "minor", "major")
FINDING_SUBJECTS = ("model", "version", "request", "event")
TIER_RANK = {"low": 1, "medium": 2, "high": 3}
CHECKLIST = ("validation_report", "metrics_reviewed", "bias_review", "rollback_plan")
STAGES = ("Staging", "Production", "Archived")
OPEN_STATES = ("pending",)
STOP_STATES = ("conflict", "void", "stale")
REQUEST_STATES = ("pending", "approved", "rejected", "withdrawn", "applied", *STOP_STATES)
# A claim older than this (by the events' own clock) may be taken over by someone else.
CLAIM_TTL = timedelta(minutes=15)

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


# ---------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one event. ``fatal``: the chain breaks here."""

    seq: int
    line: int
    kind: str
    message: str
    fatal: bool = False
    acknowledged: str = ""
    # "ACTION by ACTOR" for a problem with an event's signature or authority.
    event: str = ""

    def __str__(self) -> str:
        return (
            f"event {self.seq}" + (f" ({self.event})" if self.event else "") + f": {self.message}"
        )


@dataclass
class Report:
    events: int = 0
    signatures: int = 0
    head: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def open_problems(self) -> list[Problem]:
        return sorted((p for p in self.problems if not p.acknowledged), key=_order)

    @property
    def acknowledged(self) -> list[Problem]:
        return sorted((p for p in self.problems if p.acknowledged), key=_order)

    @property
    def ok(self) -> bool:
        return not self.open_problems

    def as_json(self) -> dict[str, Any]:
        def one(p: Problem) -> dict[str, Any]:
            out: dict[str, Any] = {
                "seq": p.seq,
                "line": p.line,
                "kind": p.kind,
                "event": p.event or None,
                "message": p.message,
                "chain_broken": p.fatal,
            }
            if p.acknowledged:
                out["acknowledged"] = p.acknowledged
            return out

        return {
            "ok": self.ok,
            "events": self.events,
            "signatures": self.signatures,
            "head": self.head,
            "problems": [one(p) for p in self.open_problems],
            "acknowledged": [one(p) for p in self.acknowledged],
        }

    def as_text(self, limit: int = 20) -> str:
        head = self.head or "none"
        counts = f"{self.events} events, {self.signatures} signatures; head {head}"
        lines = []
        if self.ok:
            lines.append(f"OK: {counts}")
        else:
            shown = self.open_problems[:limit]
            lines += [f"FAILED: {p}" for p in shown]
            if len(self.open_problems) > limit:
                lines.append(f"... and {len(self.open_problems) - limit} more problems.")
            if any(p.fatal for p in self.problems):
                lines.append(f"The chain holds up to the break: {counts}")
            else:
                lines.append(f"The chain holds ({counts}), but the events above do not count.")
        lines += [f"Acknowledged: {p} ({p.acknowledged})" for p in self.acknowledged]
        return "\n".join(lines)


def _order(p: Problem) -> tuple[int, int]:
    return (p.seq, p.line)


# --------------------------------------------------------------- parsing one line


class Malformed(ValueError):
    """The line is not an export line of format 1; the message says why."""


@dataclass(frozen=True)
class Event:
    seq: int
    line: int
    body: bytes
    hash: str
    signature: bytes | None
    signer: str | None
    prev: str
    action: str
    actor: str
    subject: str
    reason: str
    after: Any
    at: datetime


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Malformed(f"its body repeats the member '{key}'")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise Malformed(f"its body holds {name}, which is not JSON")


def parse_line(number: int, raw: bytes) -> Event:
    """One export line: '{"body":' BODY ',"hash":"' HEX '","signature":' SIG '}'."""
    if not raw.startswith(LINE_PREFIX):
        raise Malformed("it does not start with '{\"body\":'")
    cut = raw.rfind(HASH_SEPARATOR)
    tail = _LINE_TAIL.fullmatch(raw, cut + len(HASH_SEPARATOR)) if cut > 0 else None
    if tail is None:
        raise Malformed('it does not end with ,"hash":"<64 hex>","signature":null|"<base64>"}')
    body = raw[len(LINE_PREFIX) : cut]
    signature = None
    if tail.group(2) is not None:
        try:
            signature = base64.b64decode(tail.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise Malformed("its signature is not valid base64") from None
    try:
        doc = json.loads(
            body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except UnicodeDecodeError:
        raise Malformed("its body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise Malformed(f"its body is not JSON ({exc.msg} at byte {exc.pos})") from None
    if not isinstance(doc, dict) or set(doc) != BODY_KEYS:
        raise Malformed(f"its body is not an object with exactly {sorted(BODY_KEYS)}")
    ev = doc["event"]
    if not isinstance(ev, dict) or set(ev) != EVENT_KEYS:
        raise Malformed(f'its "event" is not an object with exactly {sorted(EVENT_KEYS)}')
    seq, prev, signer = doc["seq"], doc["prev"], doc["signer"]
    if doc["format"] != FORMAT or isinstance(doc["format"], bool):
        raise Malformed(f'its "format" is {doc["format"]!r}, not {FORMAT}')
    if _int(seq) is None or seq < 1:
        raise Malformed(f'its "seq" {seq!r} is not an integer from 1')
    if not isinstance(prev, str) or not _HEX64.fullmatch(prev):
        raise Malformed('its "prev" is not 64 lowercase hex digits')
    if signer is not None and not (isinstance(signer, str) and _KEY_ID.fullmatch(signer)):
        raise Malformed(f'its "signer" {signer!r} is neither null nor a key id')
    for name in ("action", "actor", "reason", "subject", "ts"):
        if not isinstance(ev[name], str):
            raise Malformed(f'its "{name}" is not a string')
    if not _TS.fullmatch(ev["ts"]):
        raise Malformed(f"its time {ev['ts']!r} is not spelled YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        at = datetime.strptime(ev["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise Malformed(f"its time {ev['ts']!r} is not a date and time") from None
    return Event(
        seq=seq,
        line=number,
        body=body,
        hash=tail.group(1).decode("ascii"),
        signature=signature,
        signer=signer,
        prev=prev,
        action=ev["action"],
        actor=ev["actor"],
        subject=ev["subject"],
        reason=ev["reason"],
        after=ev["after"],
        at=at,
    )


def chain_tail(prev: str, seq: int, signer: str | None) -> bytes:
    """The bytes every canonical body with this link ends with."""
    signer_json = "null" if signer is None else f'"{signer}"'
    return f'"prev":"{prev}","seq":{seq},"signer":{signer_json}}}'.encode("ascii")


def key_id_of(public_key: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_key).hexdigest()[:32]


def signature_verifies(public_key: bytes, signature: bytes, digest_hex: str) -> bool:
    """An event's signature: over the 32 raw bytes of its hash."""
    return _verifies(public_key, signature, bytes.fromhex(digest_hex))


def _verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def offline_intent(after: Any) -> tuple[dict[str, Any], bytes, str] | None:
    """(intent, signature, key id) an event carries in after.offline; None if none."""
    offline = _mapping(after).get("offline")
    if not isinstance(offline, dict):
        return None
    document, signature = offline.get("intent"), offline.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, str):
        return None
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    return document, raw, str(offline.get("key_id"))


def _int(value: object) -> int | None:
    """A JSON integer (Python's bool is an int, JSON's true is not)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class NotCanonical(ValueError):
    """A value RFC 8785 has no form for."""


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) form of a parsed JSON value.

    Event bodies are checked as stored, but offline intents and findings are signed over
    the JCS form of a document embedded in an event, which only re-serialising gives.
    """
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise NotCanonical(f"{value} is beyond the integers JSON numbers hold exactly")
        return str(value)
    if isinstance(value, float):
        return _es_number(value)
    if isinstance(value, str):
        # json.dumps escapes exactly what RFC 8785 escapes, the same way, when not ASCII-only.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        # Members in the order of their names' UTF-16 code units.
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(_jcs(n) + ":" + _jcs(value[n]) for n in names) + "}"
    raise NotCanonical(f"{value!r} is not a JSON value")


def _es_number(x: float) -> str:
    """ECMAScript's Number::toString (RFC 8785 section 3.2.2.3) from the shortest digits."""
    if x != x or x in (float("inf"), float("-inf")):
        raise NotCanonical(f"{x} is not a JSON number")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    decimal = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, decimal.digits)).rstrip("0")
    n = len(decimal.digits) + int(decimal.exponent)  # value = 0.DIGITS x 10**n
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 > 0 else '-'}{abs(n - 1)}"
    return sign + text


def document_digest(document: Any) -> bytes | None:
    """SHA-256 of a signed document's RFC 8785 form; None when it has none."""
    try:
        return hashlib.sha256(canonical_json(document)).digest()
    except (NotCanonical, RecursionError):
        return None


# ------------------------------------------------------------- the authority state


@dataclass
class Key:
    key_id: str
    public_key: bytes
    holder: str
    enrolment: str  # hash of the key.enrolled event
    claimed_names: tuple[str, ...]
    status: str  # pending | active | replaced | revoked
    status_seq: int


@dataclass
class Member:
    user_id: str
    names: tuple[str, ...] = ()
    key_id: str | None = None  # the active key
    pending_key_id: str | None = None


@dataclass(frozen=True)
class Policy:
    approvals: int
    role: str
    checklist: tuple[str, ...]
    thresholds: tuple[tuple[str, str, float], ...]
    expiry_days: int | None = None  # how long a request may wait; None: no limit


DEFAULT_POLICIES = {
    "high": Policy(2, "approver", CHECKLIST, ()),
    "medium": Policy(1, "approver", ("validation_report", "rollback_plan"), ()),
    "low": Policy(1, "approver", ("rollback_plan",), ()),
}


@dataclass
class Request:
    request_id: str
    requester: str
    created_hash: str
    created_at: datetime
    registry: str
    model: str
    version: int
    risk_tier: str
    checklist: dict[str, str]
    metrics: dict[str, float]
    version_creator: str
    run_user: str
    state: str = "pending"
    # (actor, approval?, roles held then)
    decisions: list[tuple[str, bool, frozenset[str]]] = field(default_factory=list)
    claim: tuple[str, datetime] | None = None


class Refused(Exception):
    """An authority event that does not count: ``kind`` and a sentence."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _refuse(kind: str, message: str) -> Refused:
    return Refused(kind, message)


def normalize_tier(tier: str) -> str:
    t = tier.strip().lower()
    return t if t in TIER_RANK else "high"


def strictest_tier(*tiers: str | None) -> str:
    known = [normalize_tier(t) for t in tiers if t is not None]
    return max(known, key=TIER_RANK.__getitem__) if known else "high"


def name_list(value: object) -> tuple[str, ...]:
    """Registry user names: strings, trimmed, once each ignoring case, first spelling kept."""
    if not isinstance(value, list):
        return ()
    seen: dict[str, str] = {}
    for item in value:
        if isinstance(item, str) and item.strip():
            seen.setdefault(item.strip().lower(), item.strip())
    return tuple(seen.values())


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _public_key(after: dict[str, Any]) -> bytes | None:
    raw = after.get("public_key")
    if after.get("algorithm") != "ed25519" or not isinstance(raw, str):
        return None
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


class Authority:
    """Who may do what, folded event by event (docs/ledger-format.md, sections 6-14)."""

    def __init__(self) -> None:
        self.keys: dict[str, Key] = {}
        self.members: dict[str, Member] = {}
        self.founder: str | None = None
        self.roles: dict[str, set[str]] = {}
        self.policies: dict[str, Policy] = {}
        self.name_owner: dict[str, str] = {}  # lower-case registry name -> member
        self.tiers: dict[str, str] = {}  # "model:REGISTRY/MODEL" -> tier last observed
        self.requests: dict[str, Request] = {}
        # Ids of offline intents already used (counted or superseded): each counts once.
        self.intents: set[str] = set()
        # Auditors' findings: id -> resolved yet?
        self.findings: dict[str, bool] = {}
        # Refused authority events: seq -> (hash, acknowledgement or "").
        self.refused: dict[int, tuple[str, str]] = {}

    # -------------------------------------------------------------- queries

    def is_admin(self, user: str) -> bool:
        return "admin" in self.roles.get(user, ())

    def admins(self) -> set[str]:
        return {u for u, r in self.roles.items() if "admin" in r}

    def require_admin(self, actor: str, what: str) -> None:
        if not self.is_admin(actor):
            raise _refuse("unauthorized", f"only an admin can {what}; {actor} was not an admin")

    def policy(self, tier: str) -> Policy:
        return self.policies.get(tier) or DEFAULT_POLICIES[tier]

    def tier_of(self, request: Request) -> str:
        observed = self.tiers.get(f"model:{request.registry}/{request.model}")
        return strictest_tier(request.risk_tier, observed)

    def names_of(self, user: str) -> set[str]:
        member = self.members.get(user)
        return {user.lower(), *(n.lower() for n in (member.names if member else ()))}

    def owner_of(self, name: str) -> str | None:
        key = name.strip().lower()
        if not key:
            return None
        owner = self.name_owner.get(key)
        if owner is not None:
            return owner
        return next((u for u in self.members if u.lower() == key), None)

    def name_clash(self, user: str, names: tuple[str, ...]) -> None:
        for name in names:
            owner = self.name_owner.get(name.lower())
            if owner is not None and owner != user:
                raise _refuse("invalid_state", f"registry user name '{name}' belongs to {owner}")

    def set_names(self, member: Member, names: tuple[str, ...]) -> None:
        for old in member.names:
            if self.name_owner.get(old.lower()) == member.user_id:
                del self.name_owner[old.lower()]
        member.names = names
        for name in names:
            self.name_owner[name.lower()] = member.user_id

    def approved(self, request: Request) -> str:
        """ "" when the policy of the request's strictest tier is met, else what is missing."""
        policy = self.policy(self.tier_of(request))
        counted = {
            a for a, approval, roles in request.decisions if approval and policy.role in roles
        }
        missing = []
        if len(counted) < policy.approvals:
            missing.append(
                f"{policy.approvals - len(counted)} more approval(s) from {policy.role}s"
            )
        missing += [
            f"checklist item {item} missing"
            for item in policy.checklist
            if not request.checklist.get(item, "").strip()
        ]
        for metric, op, value in policy.thresholds:
            seen = request.metrics.get(metric)
            if seen is None or not _OPS[op](seen, value):
                missing.append(f"metric {metric} {op} {value:g} not met")
        return "; ".join(missing)

    # -------------------------------------------------------------- signatures

    def signing_key(self, ev: Event) -> Key | None:
        """The key an event's signature must verify with (None: no such key)."""
        if ev.action == "key.enrolled":
            # Proof of possession: an enrolment is signed by the key it enrols.
            after = _mapping(ev.after)
            public_key = _public_key(after)
            if public_key is None:
                return None
            return Key(key_id_of(public_key), public_key, ev.actor, ev.hash, (), "new", ev.seq)
        return self.keys.get(ev.signer or "")

    def check_signer(self, ev: Event, key: Key | None) -> None:
        """Refuse an authority event not signed by an active key of its actor."""
        if ev.signer is None or ev.signature is None:
            raise _refuse(
                "unsigned",
                "it grants, changes or uses authority but is not signed",
            )
        if ev.action == "key.enrolled":
            after = _mapping(ev.after)
            if key is None:
                raise _refuse("malformed", "it does not carry an Ed25519 public key")
            if ev.signer != after.get("key_id") or ev.signer != key.key_id:
                raise _refuse(
                    "bad_signature",
                    "an enrolment must be signed by the key it enrols (proof of possession)",
                )
        elif key is None:
            raise _refuse("bad_signature", f"it is signed with key {ev.signer}, never enrolled")
        elif key.holder != ev.actor:
            raise _refuse(
                "bad_signature", f"it is by {ev.actor} but signed with the key of {key.holder}"
            )
        if not signature_verifies(key.public_key, ev.signature, ev.hash):
            raise _refuse("bad_signature", f"its signature does not verify with key {key.key_id}")
        if ev.action != "key.enrolled" and key.status == "pending":
            raise _refuse(
                "unauthorized", f"it is signed with a key of {ev.actor} no admin has approved"
            )
        if ev.action != "key.enrolled" and key.status != "active":
            raise _refuse(
                "unauthorized",
                f"it is signed with a key of {ev.actor} {key.status} at event {key.status_seq}",
            )

    # ----------------------------------------------------------------- folding

    def fold(self, ev: Event, key: Key | None) -> Refused | None:
        """Judge one authority event; apply it when it counts, else return why not."""
        intent = offline_intent(ev.after)
        try:
            if intent is None:
                self.check_signer(ev, key)
            else:
                self.check_intent(ev, *intent)
            if ev.action in REQUEST_ACTIONS:
                self._request_event(ev)
            elif ev.action in RECORD_ACTIONS:
                self._record_event(ev)
            else:
                self._member_event(ev, key)
        except Refused as refused:
            self.refused[ev.seq] = (ev.hash, "")
            return refused
        if intent is not None:
            self.intents.add(str(intent[0].get("id")))
        return None

    # ---------------------------------------------------------- offline intents

    def check_intent(
        self, ev: Event, document: dict[str, Any], signature: bytes, key_id: str
    ) -> None:
        """Refuse an event that stands on a signed offline intent unless it is exactly the
        decision its actor signed, with an active key, and that intent was never used."""
        if ev.action not in OFFLINE_ACTIONS:
            raise _refuse("unsigned", f"'{ev.action}' cannot be decided offline")
        body = {k: v for k, v in _mapping(ev.after).items() if k != "offline"}
        signed = (document.get("actor"), document.get("action"), document.get("subject"))
        if (
            signed != (ev.actor, ev.action, ev.subject)
            or document.get("reason") != ev.reason
            or (document.get("after") or {}) != body
        ):
            raise _refuse("bad_signature", "it differs from the offline decision its author signed")
        if str(document.get("id")) in self.intents:
            raise _refuse("invalid_state", f"offline decision {document.get('id')} was counted")
        key = self.keys.get(key_id)
        if key is None or key.holder != ev.actor or key.status != "active":
            raise _refuse(
                "unauthorized", f"its offline signature is not by an active key of {ev.actor}"
            )
        digest = document_digest(document)
        if digest is None or not _verifies(key.public_key, signature, digest):
            raise _refuse("bad_signature", f"its offline signature does not verify with {key_id}")

    def superseded(self, ev: Event) -> None:
        """decision.superseded: an intent that no longer applied, kept for the record; its
        id is used up once its author's signature verifies (any key the author enrolled)."""
        intent = offline_intent(ev.after)
        if intent is None:
            return
        document, signature, key_id = intent
        key = self.keys.get(key_id)
        digest = document_digest(document)
        if key is None or key.holder != document.get("actor") or digest is None:
            return
        if _verifies(key.public_key, signature, digest):
            self.intents.add(str(document.get("id")))

    def observe(self, ev: Event) -> None:
        """risk_tier.observed: unsigned, grants nothing, but can make a policy stricter."""
        tier = _mapping(ev.after).get("risk_tier")
        if ev.subject.startswith("model:") and isinstance(tier, str):
            self.tiers[ev.subject] = tier

    # ------------------------------------------------------- keys and members

    def _member_event(self, ev: Event, key: Key | None) -> None:
        after = _mapping(ev.after)
        action = ev.action
        if action == "key.enrolled":
            assert key is not None  # check_signer refused it otherwise
            self._key_enrolled(ev, after, key)
        elif action in ("key.approved", "key.rotated"):
            self._key_countersigned(ev, after)
        elif action == "key.revoked":
            self._key_revoked(ev, after)
        elif action in ("role.granted", "role.revoked"):
            self._role(ev, after)
        elif action == "policy.changed":
            self.require_admin(ev.actor, "change a policy")
            tier, policy = parse_policy(after)
            self.policies[tier] = policy
        elif action == "identity.declared":
            name = after.get("display_name")
            if after.get("user_id") != ev.actor or not isinstance(name, str) or not name.strip():
                raise _refuse("malformed", "nobody declares an identity for someone else")
        elif action == "identity.mapped":
            self.require_admin(ev.actor, "map registry user names to members")
            user = after.get("user")
            member = self.members.get(user) if isinstance(user, str) else None
            if member is None:
                raise _refuse("invalid_state", f"{after.get('user')} has not enrolled")
            names = name_list(after.get("registry_usernames"))
            self.name_clash(member.user_id, names)
            self.set_names(member, names)
        elif action == "ledger.problem_acknowledged":
            self.require_admin(ev.actor, "acknowledge a ledger problem")
            seq, hash_ = _int(after.get("seq")), after.get("hash")
            found = self.refused.get(seq) if seq is not None else None
            if seq is None or found is None or found[0] != hash_:
                raise _refuse("invalid_state", f"event {seq} is not a problem of this ledger")
            if found[1]:
                raise _refuse("invalid_state", f"the problem at event {seq} is acknowledged")
            ack = f"acknowledged by {ev.actor} at event {ev.seq}: {ev.reason}"
            self.refused[seq] = (found[0], ack)

    def _key_enrolled(self, ev: Event, after: dict[str, Any], key: Key) -> None:
        holder = after.get("holder")
        if not isinstance(holder, str) or holder != ev.actor or not _USER_ID.fullmatch(holder):
            raise _refuse("malformed", "it enrols a key for someone other than its author")
        if key.key_id in self.keys:
            raise _refuse("malformed", f"key {key.key_id} is enrolled a second time")
        member = self.members.get(holder)
        if member is not None and member.pending_key_id is not None:
            raise _refuse("invalid_state", f"a key of {holder} already waits for an admin")
        claimed = name_list(after.get("registry_usernames"))
        founding = self.founder is None
        if founding:
            self.name_clash(holder, claimed)
        key.claimed_names = claimed
        key.status = "active" if founding else "pending"
        self.keys[key.key_id] = key
        member = member or Member(holder)
        self.members[holder] = member
        if founding:
            # The first key of a ledger is its founder's: nobody could approve it.
            self.founder = holder
            member.key_id = key.key_id
            self.set_names(member, claimed)
        else:
            member.pending_key_id = key.key_id

    def _key_countersigned(self, ev: Event, after: dict[str, Any]) -> None:
        rotation = ev.action == "key.rotated"
        self.require_admin(ev.actor, "replace a member's key" if rotation else "approve a key")
        user, key_id = after.get("user"), after.get("key_id")
        key = self.keys.get(key_id) if isinstance(key_id, str) else None
        member = self.members.get(user) if isinstance(user, str) else None
        if key is None or member is None or key.holder != user or key.status != "pending":
            raise _refuse("invalid_state", f"no key {key_id} of {user} waits for approval")
        if after.get("enrolment") != key.enrolment:
            raise _refuse("malformed", f"it names another enrolment than key {key_id}'s")
        if rotation:
            old = after.get("old_key_id")
            if member.key_id is None or old != member.key_id:
                raise _refuse("invalid_state", f"{old} is not {user}'s active key")
            replaced = self.keys[member.key_id]
            replaced.status, replaced.status_seq = "replaced", ev.seq
        else:
            if member.key_id is not None:
                raise _refuse("invalid_state", f"{user} has an active key: that is a rotation")
            names = name_list(after.get("registry_usernames"))
            self.name_clash(member.user_id, names)
            self.set_names(member, names)
        key.status, key.status_seq = "active", ev.seq
        member.key_id, member.pending_key_id = key.key_id, None

    def _key_revoked(self, ev: Event, after: dict[str, Any]) -> None:
        key_id = after.get("key_id")
        key = self.keys.get(key_id) if isinstance(key_id, str) else None
        if key is None or key.status not in ("active", "pending"):
            raise _refuse("invalid_state", f"key {key_id} is not active or pending")
        if key.holder != ev.actor and not self.is_admin(ev.actor):
            raise _refuse("unauthorized", "only an admin or the key's holder can revoke it")
        was = key.status
        key.status, key.status_seq = "revoked", ev.seq
        member = self.members.get(key.holder)
        if member is None:
            return
        if was == "active":
            member.key_id = None
        elif member.pending_key_id == key.key_id:
            member.pending_key_id = None

    def _role(self, ev: Event, after: dict[str, Any]) -> None:
        grant = ev.action == "role.granted"
        user, role = after.get("user"), after.get("role")
        if role not in ROLES:
            raise _refuse("malformed", f"it names an unknown role {role!r}")
        if not isinstance(user, str) or user not in self.members:
            raise _refuse("invalid_state", f"{user} has not enrolled on this ledger")
        # The founder makes itself the first admin; every later change needs an admin.
        founding = (
            grant and role == "admin" and user == ev.actor == self.founder and not self.admins()
        )
        if not founding:
            self.require_admin(ev.actor, "grant or revoke roles")
        held = self.roles.setdefault(user, set())
        if grant and role in held:
            raise _refuse("invalid_state", f"{user} already has the {role} role")
        if not grant and role not in held:
            raise _refuse("invalid_state", f"{user} does not have the {role} role")
        if not grant and role == "admin" and self.admins() == {user}:
            raise _refuse("invalid_state", f"{user} is the only admin")
        if grant:
            held.add(role)
        else:
            held.discard(role)

    # ---------------------------------------------------------------- requests

    def _request_event(self, ev: Event) -> None:
        after = _mapping(ev.after)
        if ev.subject.startswith("request:"):
            rid: object = ev.subject[len("request:") :]
        elif ev.action == "promotion.applied":
            rid = after.get("request_id")  # its subject is the model, for alias histories
        else:
            rid = None
        if not isinstance(rid, str) or not rid:
            raise _refuse("malformed", "it names no promotion request")
        if ev.action == "request.created":
            self._created(ev, rid, after)
            return
        request = self.requests.get(rid)
        if request is None:
            raise _refuse("invalid_state", f"there is no request {rid}")
        if ev.action in ("request.approved", "request.rejected"):
            self._decided(ev, request, after)
        elif ev.action == "request.withdrawn":
            if ev.actor != request.requester and not self.is_admin(ev.actor):
                raise _refuse("unauthorized", "only the requester or an admin can withdraw it")
            self._must_be_open(request, "withdrawn")
            request.state, request.claim = "withdrawn", None
        elif ev.action == "comment.added":
            if not ev.reason.strip():
                raise _refuse("malformed", "a comment cannot be empty")
        elif ev.action == "promotion.apply_started":
            self._claimed(ev, request)
        else:
            if request.claim is None or request.claim[0] != ev.actor:
                holder = request.claim[0] if request.claim else "nobody"
                raise _refuse("invalid_state", f"{ev.actor} did not hold the claim ({holder} did)")
            if ev.action == "promotion.applied":
                request.state = "applied"
            elif ev.action == "conflict.detected":
                state = after.get("state")
                # Gavel reads a missing or unknown state as a conflict.
                state = state if state in REQUEST_STATES else "conflict"
                if state not in STOP_STATES:
                    raise _refuse("malformed", f"'{state}' is not how an apply stops")
                request.state = str(state)
            request.claim = None

    def _created(self, ev: Event, rid: str, after: dict[str, Any]) -> None:
        if rid in self.requests:
            raise _refuse("malformed", f"request id {rid} is used a second time")
        if not self.roles.get(ev.actor, set()) & {"requester", "admin"}:
            raise _refuse(
                "unauthorized", f"requesting needs the requester role; {ev.actor} lacks it"
            )
        request = parse_request(rid, ev, after.get("request"))
        if request is None:
            raise _refuse("malformed", "it does not record a readable request")
        self.requests[rid] = request

    def _decided(self, ev: Event, request: Request, after: dict[str, Any]) -> None:
        approval = ev.action == "request.approved"
        verb = "approve" if approval else "reject"
        if after.get("request_hash") != request.created_hash:
            raise _refuse("malformed", f"it signs another record than request {request.request_id}")
        if request.state not in OPEN_STATES:
            raise _refuse("invalid_state", f"the request is {request.state}")
        if request.claim is not None:
            raise _refuse("invalid_state", f"the request is being applied by {request.claim[0]}")
        tier = self.tier_of(request)
        policy = self.policy(tier)
        self._not_expired(request, policy, ev.at)
        roles = frozenset(self.roles.get(ev.actor, ()))
        if policy.role not in roles:
            raise _refuse(
                "unauthorized", f"{tier}-risk promotions need the {policy.role} role to {verb}"
            )
        names = self.names_of(ev.actor)
        if request.requester == ev.actor:
            raise _refuse("separation_of_duties", f"{ev.actor} requested it and cannot {verb} it")
        for author, what in ((request.version_creator, "created"), (request.run_user, "ran")):
            if author and author.lower() in names:
                raise _refuse("separation_of_duties", f"{ev.actor} {what} the version ({author})")
        if any(actor == ev.actor for actor, _approval, _roles in request.decisions):
            raise _refuse("separation_of_duties", f"{ev.actor} has already decided on it")
        if approval and tier == "high":
            for author in (request.version_creator, request.run_user):
                if author and self.owner_of(author) is None:
                    raise _refuse(
                        "invalid_state",
                        f"the version's author '{author}' maps to no member, so a high-risk "
                        "approval cannot tell whether the approver wrote it",
                    )
        request.decisions.append((ev.actor, approval, roles))
        if not approval:
            request.state, request.claim = "rejected", None

    def _claimed(self, ev: Event, request: Request) -> None:
        if request.state not in OPEN_STATES:
            raise _refuse("invalid_state", f"the request is {request.state}")
        claim = request.claim
        if claim is not None and claim[0] != ev.actor and ev.at - claim[1] < CLAIM_TTL:
            raise _refuse("invalid_state", f"{claim[0]} has claimed it less than 15 minutes ago")
        self._not_expired(request, self.policy(self.tier_of(request)), ev.at)
        missing = self.approved(request)
        if missing:
            raise _refuse("invalid_state", f"the request is not approved: {missing}")
        request.claim = (ev.actor, ev.at)

    @staticmethod
    def _not_expired(request: Request, policy: Policy, at: datetime) -> None:
        if policy.expiry_days is None:
            return
        expires = request.created_at + timedelta(days=policy.expiry_days)
        if at > expires:
            raise _refuse("invalid_state", f"the request expired on {expires:%Y-%m-%d %H:%M} UTC")

    # -------------------------------------------------------- reviews, findings

    def _record_event(self, ev: Event) -> None:
        after = _mapping(ev.after)
        if ev.action == "review.recorded":
            self._review(ev, after)
        elif ev.action == "finding.recorded":
            self._finding(after)
        else:  # finding.resolved
            self.require_admin(ev.actor, "resolve a finding")
            finding_id = after.get("finding_id")
            if not isinstance(finding_id, str) or finding_id not in self.findings:
                raise _refuse("invalid_state", f"there is no finding {finding_id}")
            if self.findings[finding_id]:
                raise _refuse("invalid_state", f"finding {finding_id} was resolved before")
            if not ev.reason.strip():
                raise _refuse("malformed", "a resolution says how the finding was resolved")
            self.findings[finding_id] = True

    def _review(self, ev: Event, after: dict[str, Any]) -> None:
        """An attestation that a version is still fit: refused like an approval."""
        registry, model, version = after.get("registry"), after.get("model"), after.get("version")
        authors = [after.get("version_creator", ""), after.get("run_user", "")]
        if not isinstance(registry, str) or not isinstance(model, str) or _int(version) is None:
            raise _refuse("malformed", "it does not name the version it reviews")
        if not all(isinstance(a, str) for a in authors):
            raise _refuse("malformed", "its version_creator and run_user are not names")
        if ev.subject != f"model:{registry}/{model}":
            raise _refuse("malformed", "its subject is not the model it reviews")
        # The tier a sync last saw (no request to take one from); none seen: high.
        tier = normalize_tier(self.tiers.get(ev.subject) or "high")
        policy = self.policy(tier)
        if policy.role not in self.roles.get(ev.actor, ()):
            raise _refuse("unauthorized", f"{tier}-risk reviews need the {policy.role} role")
        promoted = [
            r
            for r in self.requests.values()
            if r.state == "applied"
            and (r.registry, r.model, r.version) == (registry, model, version)
        ]
        if promoted:
            # The authors the promotion's request recorded count over the review's own.
            authors = [promoted[-1].version_creator, promoted[-1].run_user]
        names = self.names_of(ev.actor)
        for author, what in zip(authors, ("created", "ran"), strict=True):
            if author and author.lower() in names:
                raise _refuse("separation_of_duties", f"{ev.actor} {what} the version ({author})")
        if any(r.requester == ev.actor for r in promoted):
            raise _refuse("separation_of_duties", f"{ev.actor} requested its promotion")
        unmapped = [a for a in authors if a and self.owner_of(a) is None]
        if tier == "high" and unmapped:
            raise _refuse(
                "invalid_state", f"the version's author '{unmapped[0]}' maps to no member"
            )

    def _finding(self, after: dict[str, Any]) -> None:
        """A finding an auditor signed with their own key, entered by whoever imports it."""
        document, signature_b64 = after.get("finding"), after.get("signature")
        if not isinstance(document, dict) or not isinstance(signature_b64, str):
            raise _refuse("malformed", "it does not carry a signed finding")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise _refuse("malformed", "the finding's signature is not base64") from None
        finding_id, auditor = document.get("id"), document.get("auditor")
        about = document.get("about")
        if not isinstance(finding_id, str) or not finding_id or not isinstance(auditor, str):
            raise _refuse("malformed", "the finding has no id or no auditor")
        if document.get("severity") not in SEVERITIES:
            raise _refuse("malformed", "a finding's severity is observation, minor or major")
        if not isinstance(about, dict) or about.get("kind") not in FINDING_SUBJECTS:
            raise _refuse("malformed", "a finding is about a model, version, request or event")
        if finding_id in self.findings:
            raise _refuse("invalid_state", f"finding {finding_id} is already recorded")
        key_id = str(after.get("key_id"))
        key = self.keys.get(key_id)
        if key is None or key.holder != auditor:
            raise _refuse("bad_signature", f"the finding is signed with {key_id}, not {auditor}'s")
        # A key replaced since still vouches for what it signed before; not a pending or
        # revoked one.
        if key.status in ("pending", "revoked"):
            raise _refuse("unauthorized", f"the finding is signed with a {key.status} key")
        digest = document_digest(document)
        if digest is None or not _verifies(key.public_key, signature, digest):
            raise _refuse("bad_signature", f"the finding's signature does not verify with {key_id}")
        if not self.roles.get(auditor, set()) & {"auditor", "admin"}:
            raise _refuse(
                "unauthorized", f"findings are recorded by auditors; {auditor} is not one"
            )
        self.findings[finding_id] = False

    @staticmethod
    def _must_be_open(request: Request, what: str) -> None:
        if request.state not in OPEN_STATES:
            raise _refuse("invalid_state", f"the request is {request.state} and cannot be {what}")
        if request.claim is not None:
            raise _refuse("invalid_state", f"the request is being applied by {request.claim[0]}")


def parse_policy(after: dict[str, Any]) -> tuple[str, Policy]:
    tier, approvals = after.get("risk_tier"), _int(after.get("approvals_required"))
    role = after.get("required_role", "approver")
    checklist = after.get("required_checklist", [])
    thresholds = after.get("metric_thresholds", [])
    if not isinstance(tier, str) or tier not in TIER_RANK:
        raise _refuse("malformed", f"'{tier}' is not a risk tier")
    if approvals is None or approvals < 1:
        raise _refuse("malformed", "a policy needs an integer of at least 1 approval")
    if role not in ROLES:
        raise _refuse("malformed", f"it names an unknown role {role!r}")
    if not isinstance(checklist, list) or any(c not in CHECKLIST for c in checklist):
        raise _refuse("malformed", f"its checklist items are not among {', '.join(CHECKLIST)}")
    parsed = []
    for text in thresholds if isinstance(thresholds, list) else [None]:
        m = _THRESHOLD.fullmatch(text) if isinstance(text, str) else None
        if m is None:
            raise _refuse("malformed", f"{text!r} is not a metric threshold like 'auc >= 0.8'")
        parsed.append((m.group(1), m.group(2), float(m.group(3))))
    days = {}
    for name in ("request_expiry_days", "review_interval_days"):
        value = after.get(name)
        if value is not None and (_int(value) is None or value < 1):
            raise _refuse("malformed", f"its {name} is not a whole number of days from 1")
        days[name] = value
    expiry = days["request_expiry_days"]
    return str(tier), Policy(approvals, str(role), tuple(checklist), tuple(parsed), expiry)


def parse_request(rid: str, ev: Event, payload: object) -> Request | None:
    """The request a request.created event records; None when it is not readable."""
    if not isinstance(payload, dict):
        return None
    version = payload.get("version")
    checklist = payload.get("checklist", {})
    evidence = payload.get("evidence", {})
    metrics = evidence.get("metrics", {}) if isinstance(evidence, dict) else None
    strings = [payload.get(k, "") for k in ("risk_tier", "version_creator", "run_user")]
    if (
        not isinstance(version, dict)
        or not isinstance(version.get("registry"), str)
        or not isinstance(version.get("model"), str)
        or _int(version.get("version")) is None
        or not isinstance(checklist, dict)
        or not all(isinstance(v, str) for v in checklist.values())
        or not isinstance(metrics, dict)
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in metrics.values())
        or not all(isinstance(s, str) for s in strings)
    ):
        return None
    kind = payload.get("target_kind", "alias")
    if kind == "stage":
        stage = payload.get("stage")
        if not isinstance(stage, str) or stage.strip().lower() not in (s.lower() for s in STAGES):
            return None
    elif kind != "alias" or not isinstance(payload.get("alias"), str):
        return None
    return Request(
        request_id=rid,
        requester=ev.actor,
        created_hash=ev.hash,
        created_at=ev.at,
        registry=version["registry"],
        model=version["model"],
        version=version["version"],
        risk_tier=strings[0],
        checklist=dict(checklist),
        metrics={str(k): float(v) for k, v in metrics.items()},
        version_creator=strings[1],
        run_user=strings[2],
    )


# --------------------------------------------------------------------- the verifier


class Verifier:
    """Feeds on export lines in file order; stops reading at the first chain break."""

    def __init__(self, checkpoint: tuple[int, str] | None = None) -> None:
        self.checkpoint = checkpoint
        self.report = Report()
        self.authority = Authority()
        self.prev = GENESIS
        self.broken = False

    @property
    def next_seq(self) -> int:
        return self.report.events + 1

    def _fatal(self, seq: int, line: int, kind: str, message: str) -> None:
        self.report.problems.append(Problem(seq, line, kind, message, fatal=True))
        self.broken = True

    def _problem(self, ev: Event, kind: str, message: str) -> None:
        who = f"{ev.action} by {ev.actor}"
        self.report.problems.append(Problem(ev.seq, ev.line, kind, message + ".", event=who))

    def feed(self, number: int, raw: bytes) -> bool:
        """Check one line (without its newline); False once the chain is broken."""
        expected = self.next_seq
        try:
            ev = parse_line(number, raw)
        except Malformed as exc:
            self._fatal(
                expected, number, "malformed", f"line {number} is not a ledger record: {exc}."
            )
            return False
        if ev.seq != expected:
            if ev.seq > expected:
                message = (
                    f"line {number} holds event {ev.seq} where event {expected} belongs: "
                    "events were removed or moved."
                )
                self._fatal(expected, number, "missing", message)
            else:
                message = f"line {number} holds event {ev.seq} again, after event {expected - 1}."
                self._fatal(ev.seq, number, "inserted", message)
            return False
        digest = hashlib.sha256(ev.body).hexdigest()
        if digest != ev.hash:
            self._fatal(
                ev.seq,
                number,
                "edited",
                f"the body of event {ev.seq} does not hash to the hash on its line: "
                "the event was altered after it was recorded.",
            )
            return False
        if not ev.body.endswith(chain_tail(self.prev, ev.seq, ev.signer)):
            if ev.prev != self.prev:
                why = (
                    f"event {ev.seq} records previous hash {ev.prev[:12]}…, but event "
                    f"{ev.seq - 1} hashes to {self.prev[:12]}…: an event was inserted, "
                    "removed or replaced before it."
                )
                self._fatal(ev.seq, number, "broken_link", why)
            else:
                why = f'the body of event {ev.seq} does not end with its "prev","seq","signer".'
                self._fatal(ev.seq, number, "malformed", why)
            return False
        cp = self.checkpoint
        if cp is not None and ev.seq == cp[0] and digest != cp[1]:
            self._fatal(
                ev.seq,
                number,
                "checkpoint_mismatch",
                f"event {ev.seq} hashes to {digest[:12]}…, but the checkpoint says "
                f"{cp[1][:12]}…: the ledger was rewritten at or before it.",
            )
            return False
        self.prev = digest
        self.report.events = ev.seq
        self.report.head = f"{ev.seq}:{digest}"
        self._judge(ev)
        return True

    def _judge(self, ev: Event) -> None:
        if ev.seq == 1 and ev.action != "ledger.created":
            self._problem(ev, "malformed", "event 1 of a Gavel ledger is ledger.created")
        if ev.action in AUTHORITY_ACTIONS:
            key = self.authority.signing_key(ev)
            offline = offline_intent(ev.after) is not None
            if (
                not offline
                and key is not None
                and ev.signature is not None
                and ev.signer == key.key_id
                and signature_verifies(key.public_key, ev.signature, ev.hash)
            ):
                self.report.signatures += 1
            refused = self.authority.fold(ev, key)
            if refused is not None:
                self._problem(ev, refused.kind, "does not count: " + refused.message)
            elif offline:
                # It counts on its offline intent; a signature it carries as well must hold.
                self._check_plain_signature(ev)
            return
        if ev.action == "risk_tier.observed":
            self.authority.observe(ev)
        elif ev.action == "decision.superseded":
            self.authority.superseded(ev)
        self._check_plain_signature(ev)

    def _check_plain_signature(self, ev: Event) -> None:
        """An event without authority may still be signed; then the signature must hold."""
        if ev.signer is None:
            if ev.signature is not None:
                self._problem(ev, "bad_signature", "it carries a signature but names no signer")
            return
        if ev.signature is None:
            self._problem(ev, "bad_signature", f"its signature by {ev.signer} was removed")
            return
        key = self.authority.keys.get(ev.signer)
        if key is None:
            self._problem(ev, "bad_signature", f"it is signed with key {ev.signer}, never enrolled")
        elif key.holder != ev.actor:
            self._problem(ev, "bad_signature", f"it is signed with the key of {key.holder}")
        elif not signature_verifies(key.public_key, ev.signature, ev.hash):
            self._problem(ev, "bad_signature", f"its signature does not verify with {ev.signer}")
        else:
            self.report.signatures += 1
            if key.status not in ("active", "pending"):
                self._problem(ev, "bad_signature", f"key {ev.signer} was {key.status} before it")

    def finish(self) -> Report:
        report = self.report
        if not self.broken:
            if report.events == 0:
                self._fatal(1, 1, "missing", "the export holds no events.")
            elif self.checkpoint is not None and self.checkpoint[0] > report.events:
                self._fatal(
                    report.events + 1,
                    report.events + 1,
                    "truncated",
                    f"the export ends at event {report.events}, but the checkpoint is at "
                    f"event {self.checkpoint[0]}: events from {report.events + 1} on were cut.",
                )
        acknowledged = {seq: ack for seq, (_hash, ack) in self.authority.refused.items() if ack}
        report.problems = [
            replace(p, acknowledged=acknowledged[p.seq])
            if not p.fatal and p.seq in acknowledged
            else p
            for p in report.problems
        ]
        return report


def lines_of(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(f, 1):
        yield number, raw[:-1] if raw.endswith(b"\n") else raw


def verify_file(path: Path, checkpoint: tuple[int, str] | None = None) -> Report:
    """Verify one export; OSError when it cannot be read."""
    verifier = Verifier(checkpoint)
    with path.open("rb") as f:
        for number, raw in lines_of(f):
            if not verifier.feed(number, raw):
                break
    return verifier.finish()


def parse_checkpoint(text: str) -> tuple[int, str]:
    seq, sep, digest = text.strip().partition(":")
    if not sep or not seq.isdigit() or not _HEX64.fullmatch(digest.lower()):
        raise ValueError(f"'{text}' is not a checkpoint: expected SEQ:HASH (64 hex digits)")
    return int(seq), digest.lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify_ledger.py",
        description="Verify a Gavel audit-ledger export (JSONL) offline.",
    )
    parser.add_argument("export", type=Path, help="the JSONL file 'gavel audit export' wrote")
    parser.add_argument(
        "--checkpoint",
        metavar="SEQ:HASH",
        help="a head kept from an earlier audit (or an export.made event) the file must reach",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        checkpoint = parse_checkpoint(args.checkpoint) if args.checkpoint else None
    except ValueError as exc:
        parser.error(str(exc))
    try:
        report = verify_file(args.export, checkpoint)
    except OSError as exc:
        print(f"verify_ledger: cannot read {args.export}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        print(report.as_text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
