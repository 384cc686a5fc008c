"""A large, realistic, validly signed audit ledger for the benchmarks, built fast.

Event mix (``build_ledger``), chosen as a team's ledger after years of use:

  - event 1 ``ledger.created`` (unsigned, as ``AuditService.ensure_genesis`` writes it);
  - the founder's key enrolment, admin role and the three default policies, signed by
    the founder (what ``MembershipService.init_identity`` writes for a new ledger);
  - five members (two requesters, three approvers): each enrols a key (signed with
    it), the founder approves the key and grants the role (signed by the founder);
  - then repeating cycles of ``period`` events: one promotion's six signed authority
    events (``request.created`` by a requester; ``request.approved`` by two distinct
    approvers with a ``comment.added`` between them; ``promotion.apply_started`` and
    ``promotion.applied`` by the requester), then ``period - 6`` unsigned
    observations: serving drift observed/resolved (70%), ``alias.observed`` (20%),
    ``registry.change_observed`` stage moves (10%), and every 100th observation a
    ``risk_tier.observed`` (which the authority fold reads too).

``period`` is ``round(6 / signed_share)``: the default share, 6% (one promotion per 100
events), makes 1,000,000 events about 10,000 promotions, ten a working day for four
years with events two minutes apart, and 94% observations from syncs and endpoint
polling. Humans sign a handful of events per promotion while syncs and pollers record
every change they see, so a ledger only reaches a million events through observations.
``signed_share=1`` makes every event after the set-up a signed authority event.

Every request is high risk (the default policy: two approvals from distinct approvers,
the full checklist, the version's creator mapped to a member), so each event is one the
authority fold accepts: ``AuthorityLedger.verify()`` reports no problem.

Bodies are JSON-encoded directly rather than through ``canonical_body`` (rfc8785 would
take longer than the benchmark); the first three events of every action and every
10,007th event are checked byte for byte against ``canonical_body`` as they are built.
Keys are real Ed25519 keys derived from fixed seeds, so every run builds the same ledger.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg

from app.domain.governance import CHECKLIST, DEFAULT_POLICIES, RISK_TIERS, Role
from app.domain.ledger import (
    FORMAT,
    GENESIS_HASH,
    Checkpoint,
    LedgerAction,
    LedgerDraft,
    StoredRow,
    canonical_body,
    format_ts,
)
from app.domain.ledger_keys import key_enrollment, key_subject
from app.domain.ledger_query import alias_payload, model_subject, stage_payload
from app.services.signing import Ed25519Signer

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_SIGNED_SHARE = 0.06
LOAD_BATCH = 20_000
T0 = datetime(2022, 1, 3, 8, 0, tzinfo=UTC)
STEP = timedelta(minutes=2)
REGISTRY = "prod"
MODELS = 500
CHECK_EVERY = 10_007

FOUNDER = "ada"
REQUESTERS = ("rita", "raj")
APPROVERS = ("alice", "bob", "carol")
_NAMES = {
    "ada": "Ada Lovelace",
    "rita": "Rita Levi-Montalcini",
    "raj": "Raj Reddy",
    "alice": "Alice Ball",
    "bob": "Bob Kahn",
    "carol": "Carol Shaw",
}
_A = LedgerAction
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def bench_signer(user_id: str) -> Ed25519Signer:
    """A real Ed25519 key, the same at every run."""
    seed = hashlib.sha256(b"gavel-bench-key/" + user_id.encode()).digest()
    return Ed25519Signer.from_private_bytes(seed)


@dataclass
class Ledger:
    """The stored rows of a built ledger, in LOAD_BATCH chunks, and what they hold."""

    batches: list[list[StoredRow]] = field(default_factory=list)
    # (public key, signature, digest) of every signed event: the signature checks alone.
    signed: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)
    head: Checkpoint | None = None

    @property
    def events(self) -> int:
        return sum(self.actions.values())


class EventSink(Protocol):
    """Where set-up and promotion events go: a ChainBuilder, or the ledger's write path."""

    def add(
        self,
        actor: str,
        action: LedgerAction,
        subject: str,
        before: Any = None,
        after: Any = None,
        reason: str = "",
        signer: Ed25519Signer | None = None,
    ) -> str: ...


class ChainBuilder:
    """Numbers, chains, hashes and signs events as the ledger would, without rfc8785."""

    def __init__(self, start: Checkpoint | None = None, keep_signed: bool = True) -> None:
        self.seq = start.seq if start else 0
        # build_ledger keeps every batch and signature; stream_ledger keeps neither.
        self.keep_batches = self.keep_signed = keep_signed
        self.prev = start.hash if start else GENESIS_HASH
        self.ledger = Ledger()
        self._batch: list[StoredRow] = []
        self._checked: Counter[str] = Counter()

    def add(
        self,
        actor: str,
        action: LedgerAction,
        subject: str,
        before: Any = None,
        after: Any = None,
        reason: str = "",
        signer: Ed25519Signer | None = None,
    ) -> str:
        """Append one event; returns its hash."""
        seq = self.seq + 1
        at = T0 + STEP * seq
        key_id = signer.key_id if signer is not None else None
        event = {
            "action": action.value,
            "actor": actor,
            "after": after,
            "before": before,
            "reason": reason,
            "subject": subject,
            "ts": format_ts(at),
        }
        signer_json = "null" if key_id is None else f'"{key_id}"'
        body = (
            f'{{"event":{_ENCODE(event)},"format":{FORMAT},"prev":"{self.prev}",'
            f'"seq":{seq},"signer":{signer_json}}}'
        ).encode()
        if self._checked[action] < 3 or seq % CHECK_EVERY == 0:
            draft = LedgerDraft(actor, action.value, subject, before, after, reason)
            expected = canonical_body(
                seq=seq, at=at, draft=draft, prev_hash=self.prev, signer=key_id
            )
            assert body == expected, f"bench body of {action} drifted from format 1"
            self._checked[action] += 1
        digest = hashlib.sha256(body).hexdigest()
        signature = None
        if signer is not None:
            raw = bytes.fromhex(digest)
            signature = signer.sign(raw)
            if self.keep_signed:
                self.ledger.signed.append((signer.public_key, signature, raw))
        self._batch.append((seq, body, digest, key_id, signature, action.value))
        if len(self._batch) == LOAD_BATCH:
            self.ledger.batches.append(self._batch)
            self._batch = []
        self.ledger.actions[action.value] += 1
        self.seq, self.prev = seq, digest
        return digest

    def finish(self) -> Ledger:
        if self._batch:
            self.ledger.batches.append(self._batch)
            self._batch = []
        self.ledger.head = Checkpoint(self.seq, self.prev) if self.seq else None
        return self.ledger


def found_ledger(b: EventSink, members: dict[str, Role]) -> None:
    """The founder's set-up, then each member enrolled, approved and given a role."""
    ada = bench_signer(FOUNDER)
    b.add(
        FOUNDER,
        _A.KEY_ENROLLED,
        key_subject(ada.key_id),
        after=key_enrollment(ada.public_key, FOUNDER, _NAMES[FOUNDER], (FOUNDER,)),
        reason="Signing key enrolled.",
        signer=ada,
    )
    b.add(
        FOUNDER,
        _A.ROLE_GRANTED,
        f"user:{FOUNDER}",
        after={"user": FOUNDER, "role": Role.ADMIN.value},
        reason="The first identity of a new ledger is its admin.",
        signer=ada,
    )
    for tier in RISK_TIERS:
        b.add(
            FOUNDER,
            _A.POLICY_CHANGED,
            f"policy:{tier}",
            after=DEFAULT_POLICIES[tier].to_json(),
            reason="Default policy.",
            signer=ada,
        )
    for user, role in members.items():
        key = bench_signer(user)
        enrolment = b.add(
            user,
            _A.KEY_ENROLLED,
            key_subject(key.key_id),
            after=key_enrollment(key.public_key, user, _NAMES.get(user, user), (user,)),
            reason="Signing key enrolled.",
            signer=key,
        )
        b.add(
            FOUNDER,
            _A.KEY_APPROVED,
            key_subject(key.key_id),
            after={
                "user": user,
                "key_id": key.key_id,
                "enrolment": enrolment,
                "registry_usernames": [user],
            },
            reason=f"Key of {user} approved.",
            signer=ada,
        )
        b.add(
            FOUNDER,
            _A.ROLE_GRANTED,
            f"user:{user}",
            after={"user": user, "role": role.value},
            reason=f"{role.value} role granted.",
            signer=ada,
        )


def build_ledger(
    events: int, signed_share: float = DEFAULT_SIGNED_SHARE, start: Checkpoint | None = None
) -> Ledger:
    """``events`` events in all (after ``start``, the head of a ledger that already has
    its genesis event), with the mix of the module docstring, held in memory."""
    b = ChainBuilder(start)
    for _ in _build(b, events, signed_share, start):
        pass
    return b.finish()


def stream_ledger(
    events: int, signed_share: float = DEFAULT_SIGNED_SHARE, start: Checkpoint | None = None
) -> Iterator[list[StoredRow]]:
    """The same events as ``build_ledger``, a batch at a time, holding none of them."""
    b = ChainBuilder(start, keep_signed=False)
    yield from _build(b, events, signed_share, start)
    yield from b.finish().batches


def _build(
    b: ChainBuilder, events: int, signed_share: float, start: Checkpoint | None
) -> Iterator[list[StoredRow]]:
    """Drive the builder; yields (and forgets) each batch it fills."""
    last = (start.seq if start else 0) + events
    if start is None:
        b.add(
            "gavel",
            _A.LEDGER_CREATED,
            "ledger",
            after={"format": FORMAT},
            reason="Audit ledger created.",
        )
    members = {u: Role.REQUESTER for u in REQUESTERS} | {u: Role.APPROVER for u in APPROVERS}
    found_ledger(b, members)
    assert b.seq < last, "too few events for the founder's set-up"
    signers = {u: bench_signer(u) for u in members}
    period = max(6, round(6 / signed_share))
    promotion = observation = 0
    while b.seq < last:
        for step in _promotion(promotion, signers):
            if b.seq == last:
                break
            step(b)
        for _ in range(period - 6):
            if b.seq == last:
                break
            _observe(b, observation)
            observation += 1
        promotion += 1
        if not b.keep_batches:
            yield from b.ledger.batches
            b.ledger.batches.clear()


# ---------------------------------------------------------------- promotions


@dataclass
class Promotion:
    """The k-th promotion: a high-risk request for the next version of a model's
    champion alias, by a requester, approved by two distinct approvers."""

    k: int
    signers: dict[str, Ed25519Signer]
    created: str = ""

    @property
    def rid(self) -> str:
        return hashlib.sha256(b"request/%d" % self.k).hexdigest()[:12]

    @property
    def model(self) -> str:
        return f"model-{self.k % MODELS:03d}"

    @property
    def version(self) -> int:
        return self.k // MODELS + 2

    @property
    def requester(self) -> str:
        return REQUESTERS[self.k % len(REQUESTERS)]

    def approver(self, i: int) -> str:
        return APPROVERS[(self.k + i) % len(APPROVERS)]

    def identity(self) -> dict[str, Any]:
        run = hashlib.sha256(b"run/%d" % self.k).hexdigest()[:32]
        return {
            "registry": REGISTRY,
            "model": self.model,
            "version": self.version,
            "creation_timestamp": 1_640_995_200_000 + self.k * 3_600_000,
            "run_id": run,
            "source": f"mlflow-artifacts:/7/{run}/artifacts/model",
        }

    def evidence_digest(self) -> str:
        return hashlib.sha256(b"evidence/%d" % self.k).hexdigest()

    def create(self, b: EventSink) -> None:
        k, who = self.k, self.requester
        justification = (
            f"v{self.version} beats the champion on the holdout set; "
            "shadow traffic for a week showed no regression."
        )
        payload = {
            "version": self.identity(),
            "alias": "champion",
            "alias_version_at_request": self.version - 1,
            "justification": justification,
            "checklist": {
                item: f"https://wiki.example.com/ml/{self.rid}/{item}" for item in CHECKLIST
            },
            "risk_tier": "high",
            "evidence": {
                "metrics": {"auc": 0.9 + (k % 89) / 1000, "f1": 0.8 + (k % 97) / 1000},
                "datasets": [hashlib.sha256(b"data/%d" % (k % 50)).hexdigest()],
            },
            "evidence_digest": self.evidence_digest(),
            "version_creator": who,
            "run_user": who,
        }
        self.created = b.add(
            who,
            _A.REQUEST_CREATED,
            f"request:{self.rid}",
            after={"request": payload},
            reason=justification,
            signer=self.signers[who],
        )

    def approve(self, b: EventSink, i: int) -> None:
        who = self.approver(i)
        manifest = {
            "request_id": self.rid,
            "request_hash": self.created,
            "version": self.identity(),
            "alias": "champion",
            "evidence_digest": self.evidence_digest(),
            "manifestation": {
                "printed_name": _NAMES[who],
                "user_id": who,
                "meaning": "approval",
            },
        }
        b.add(
            who,
            _A.REQUEST_APPROVED,
            f"request:{self.rid}",
            after=manifest,
            reason="Validation report and rollback plan reviewed; metrics hold.",
            signer=self.signers[who],
        )

    def comment(self, b: EventSink) -> None:
        who = self.approver(0)
        b.add(
            who,
            _A.COMMENT_ADDED,
            f"request:{self.rid}",
            reason="Please watch the p99 latency for the first day after the switch.",
            signer=self.signers[who],
        )

    def claim(self, b: EventSink) -> None:
        who = self.requester
        b.add(
            who,
            _A.PROMOTION_APPLY_STARTED,
            f"request:{self.rid}",
            after={"request_id": self.rid},
            reason=f"Applying {self.model} v{self.version} → champion.",
            signer=self.signers[who],
        )

    def applied(self, b: EventSink) -> None:
        who = self.requester
        b.add(
            who,
            _A.PROMOTION_APPLIED,
            model_subject(REGISTRY, self.model),
            before=alias_payload("champion", self.version - 1),
            after={**alias_payload("champion", self.version), "request_id": self.rid},
            reason=f"Applied approved request {self.rid}.",
            signer=self.signers[who],
        )


def _promotion(k: int, signers: dict[str, Ed25519Signer]) -> list[Callable[[EventSink], None]]:
    p = Promotion(k, signers)
    return [
        p.create,
        lambda b: p.approve(b, 0),
        p.comment,
        lambda b: p.approve(b, 1),
        p.claim,
        p.applied,
    ]


# -------------------------------------------------------------- observations

# 20 observations: 7 drifts seen, 7 resolved, 4 alias moves, 2 stage moves.
_PATTERN = "DRDRADRSDRDRADRADRSA"


def _observe(b: ChainBuilder, o: int) -> None:
    model = f"model-{(o * 7) % MODELS:03d}"
    subject = model_subject(REGISTRY, model)
    version = o // MODELS + 2
    if o % 100 == 0:
        b.add(
            "gavel-sync",
            _A.RISK_TIER_OBSERVED,
            subject,
            after={"risk_tier": "high"},
            reason=f"Sync of {REGISTRY} recorded the risk tier of {model}: high.",
        )
        return
    kind = _PATTERN[o % len(_PATTERN)]
    if kind in "DR":
        endpoint = f"{model}-{'eu' if o % 3 else 'us'}"
        served = [version - 1] if kind == "D" else [version]
        b.add(
            "gavel-poller",
            _A.SERVING_DRIFT_OBSERVED if kind == "D" else _A.SERVING_DRIFT_RESOLVED,
            subject,
            before={"alias": "champion", "version": version},
            after={
                "endpoint": endpoint,
                "url": f"http://{endpoint}.serving.internal:8080/invocations",
                "served_versions": served,
                "served_label": f"v{served[0]}",
            },
            reason=(
                f"{endpoint} serves v{version - 1}, but alias 'champion' points at v{version}."
                if kind == "D"
                else f"{endpoint} serves v{version} again, as alias 'champion' says."
            ),
        )
    elif kind == "A":
        b.add(
            "gavel-sync",
            _A.ALIAS_OBSERVED,
            subject,
            before={"alias": "challenger", "version": version - 1},
            after={"alias": "challenger", "version": version, "unapproved": True},
            reason=(
                f"Sync of {REGISTRY} saw alias 'challenger' change with no approved "
                "promotion explaining it."
            ),
        )
    else:
        b.add(
            "gavel-sync",
            _A.REGISTRY_CHANGE_OBSERVED,
            subject,
            before=stage_payload(version, "None"),
            after={**stage_payload(version, "Staging"), "unapproved": True},
            reason=(
                f"Sync of {REGISTRY} saw version {version} move from stage None to stage "
                "Staging with no approved promotion explaining it."
            ),
        )


# ------------------------------------------------------------------ databases


@contextmanager
def pg_database(admin_url: str = PG_ADMIN_URL, template: str | None = None) -> Iterator[str]:
    """A scratch PostgreSQL database (SQLAlchemy URL), dropped afterwards.

    template: a URL pg_database gave, whose database is copied (nobody may be connected).
    """
    name = f"gavel_bench_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
