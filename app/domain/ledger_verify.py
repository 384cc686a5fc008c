"""Verification of the audit ledger's hash chain and signatures, streaming and pure.

Per event: hash the stored bytes, compare with the stored hash, and check the chain
link with one ``bytes.endswith`` (see ``app.domain.ledger``). The fast path
(``feed_bodies``) does that for runs of ordinary events in batches whose per-event
work happens in C (``map`` over hashlib, bytes formatting and ``endswith``), so a
million events cost little more than hashing them. JSON is parsed only for signed
events, key events and the one event that fails, to say what is wrong with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from itertools import repeat
from operator import is_not, itemgetter
from typing import Any, TypeVar

from app.domain.cancel import CancelToken
from app.domain.ledger import (
    GENESIS_HASH,
    KEY_ACTIONS,
    BodyRow,
    Checkpoint,
    LedgerAction,
    ProblemKind,
    StoredRow,
    VerifyProblem,
    VerifyReport,
    chain_tail,
)
from app.domain.ledger_keys import EnrolledKey, SignatureVerifier, apply_key_event
from app.domain.progress import Progress, ProgressCallback, no_progress

VERIFY_PHASE = "Verifying the audit ledger"

_Chunk = TypeVar("_Chunk")
# How an unsigned body ends (see app.domain.ledger): % (previous hash, seq).
_UNSIGNED_TAIL = b'"prev":"%b","seq":%d,"signer":null}'
# The C-level hexdigest, so a batch hashes through map() without Python frames.
_HEXDIGEST = type(hashlib.sha256()).hexdigest
_BODY, _HASH, _SIGNATURE = itemgetter(0), itemgetter(1), itemgetter(2)


class ChainVerifier:
    """Feeds on stored rows in sequence order and stops at the first bad event.

    start: trust the ledger up to this checkpoint and verify what follows it (a
        replica's head); by default verification starts at event 1.
    expect: a checkpoint from an earlier audit the ledger must still extend.
    keys: signing keys enrolled before ``start`` (with ``start`` only).
    key_seqs: for ``feed_bodies``, the sequence numbers of key events (enrolment,
        revocation), which it reads without an action column.
    """

    def __init__(
        self,
        signatures: SignatureVerifier,
        *,
        start: Checkpoint | None = None,
        expect: Checkpoint | None = None,
        keys: Mapping[str, EnrolledKey] | None = None,
        key_seqs: Iterable[int] = (),
    ) -> None:
        self._signatures = signatures
        self._expect = expect
        self._keys = dict(keys or {})
        self._next = start.seq + 1 if start else 1
        self._prev = start.hash if start else GENESIS_HASH
        # The hash before _prev: tells an inserted event from a broken link.
        self._prev_prev: str | None = None
        self._key_seqs = sorted(key_seqs)
        self._key_index = 0
        self.problem: VerifyProblem | None = None
        self.signature_problems: list[VerifyProblem] = []
        self.events_checked = 0
        self.signatures_checked = 0

    @property
    def head(self) -> Checkpoint | None:
        """The last event verified so far."""
        return Checkpoint(self._next - 1, self._prev) if self._next > 1 else None

    def feed(self, rows: Sequence[StoredRow]) -> VerifyProblem | None:
        """Verify the next full rows; returns (and keeps) the first problem found."""
        if self.problem is not None:
            return self.problem
        sha256 = hashlib.sha256
        key_actions = KEY_ACTIONS
        expect_seq = self._expect.seq if self._expect else -1
        expected, prev, prev_prev = self._next, self._prev, self._prev_prev
        prev_b = prev.encode("ascii")
        problem: VerifyProblem | None = None
        for seq, body, stored_hash, signer, signature, action in rows:
            if seq != expected:
                problem = _out_of_sequence(seq, expected)
                break
            digest = sha256(body).hexdigest()
            if (
                digest != stored_hash
                or signer is not None
                or signature is not None
                or action in key_actions
                or seq == expect_seq
                or not body.endswith(_UNSIGNED_TAIL % (prev_b, seq))
            ):
                problem = self._check_row(
                    seq, body, stored_hash, digest, signer, signature, action, prev, prev_prev
                )
                if problem is not None:
                    break
            prev_prev, prev = prev, digest
            prev_b = digest.encode("ascii")
            expected += 1
        return self._advance(expected, prev, prev_prev, problem)

    def feed_bodies(self, rows: Sequence[BodyRow]) -> VerifyProblem | None:
        """The fast path over (body, stored hash, signature) rows in seq order.

        The sequence number is implied by position. Runs of ordinary events go
        through ``_feed_batch``; signed and key events, and a batch that fails, go one
        by one. Reading by position, this path knows where the chain breaks but not
        always why (a deleted event and two swapped ones look alike); ``feed`` over
        full rows there tells them apart.
        """
        if self.problem is not None:
            return self.problem
        signed = list(map(is_not, map(_SIGNATURE, rows), repeat(None)))
        i, n = 0, len(rows)
        while i < n:
            key_seq = self._next_key_seq()
            end = n if key_seq < 0 else min(n, i + key_seq - self._next)
            with suppress(ValueError):  # ValueError: no signed event before ``end``
                end = signed.index(True, i, end)
            if end == i:
                end = i + 1
                problem = self._feed_one_by_one(rows[i:end])
            else:
                problem = self._feed_batch(rows[i:end])
            if problem is not None:
                return problem
            i = end
        return None

    def _feed_batch(self, rows: Sequence[BodyRow]) -> VerifyProblem | None:
        """Unsigned, non-key events; on any failure, one by one names the first problem."""
        bodies = list(map(_BODY, rows))
        digests = list(map(_HEXDIGEST, map(hashlib.sha256, bodies)))
        first = self._next
        ok = digests == list(map(_HASH, rows))
        if ok:
            prevs = map(str.encode, [self._prev, *digests[:-1]])
            links = zip(prevs, range(first, first + len(digests)), strict=True)
            ok = all(map(bytes.endswith, bodies, map(_UNSIGNED_TAIL.__mod__, links)))
        expect = self._expect
        if ok and expect is not None and first <= expect.seq < first + len(digests):
            ok = digests[expect.seq - first] == expect.hash
        if not ok:
            return self._feed_one_by_one(rows)
        self._prev_prev = digests[-2] if len(digests) > 1 else self._prev
        self._prev = digests[-1]
        self._next = first + len(digests)
        self.events_checked += len(digests)
        return None

    def _feed_one_by_one(self, rows: Sequence[BodyRow]) -> VerifyProblem | None:
        sha256 = hashlib.sha256
        key_seq = self._next_key_seq()
        expect_seq = self._expect.seq if self._expect else -1
        expected, prev, prev_prev = self._next, self._prev, self._prev_prev
        prev_b = prev.encode("ascii")
        problem: VerifyProblem | None = None
        for body, stored_hash, signature in rows:
            digest = sha256(body).hexdigest()
            if signature is not None or expected == key_seq:
                signer, action, event = _signer_and_action(body)
                problem = self._check_row(
                    expected,
                    body,
                    stored_hash,
                    digest,
                    signer,
                    signature,
                    action,
                    prev,
                    prev_prev,
                    event,
                )
            elif (
                digest != stored_hash
                or expected == expect_seq
                or not body.endswith(_UNSIGNED_TAIL % (prev_b, expected))
            ):
                problem = self._check_row(
                    expected, body, stored_hash, digest, None, None, "", prev, prev_prev
                )
            if problem is not None:
                break
            if expected == key_seq:
                self._key_index += 1
                key_seq = self._next_key_seq()
            prev_prev, prev = prev, digest
            prev_b = digest.encode("ascii")
            expected += 1
        return self._advance(expected, prev, prev_prev, problem)

    def _next_key_seq(self) -> int:
        seqs = self._key_seqs
        # Skip entries behind the position (before ``start``, or left by a failure).
        while self._key_index < len(seqs) and seqs[self._key_index] < self._next:
            self._key_index += 1
        return seqs[self._key_index] if self._key_index < len(seqs) else -1

    def _advance(
        self, expected: int, prev: str, prev_prev: str | None, problem: VerifyProblem | None
    ) -> VerifyProblem | None:
        self.events_checked += expected - self._next
        self._next, self._prev, self._prev_prev = expected, prev, prev_prev
        self.problem = problem
        return problem

    def _check_row(
        self,
        seq: int,
        body: bytes,
        stored_hash: str,
        digest: str,
        signer: str | None,
        signature: bytes | None,
        action: str,
        prev: str,
        prev_prev: str | None,
        event: Mapping[str, Any] | None = None,
    ) -> VerifyProblem | None:
        """Every check on one row, for the rows the hot loops hand over.

        event: the body's "event" object when the caller has parsed it already.
        """
        if digest != stored_hash:
            return VerifyProblem(
                ProblemKind.EDITED,
                seq,
                f"Event {seq} was altered after it was recorded: its content no longer "
                "matches its hash.",
            )
        if not body.endswith(chain_tail(prev, seq, signer)):
            return _diagnose_link(seq, body, signer, prev, prev_prev)
        if signer is not None or signature is not None or action in KEY_ACTIONS:
            problem = self._check_signed(seq, body, digest, signer, signature, action, event)
            if problem is not None and problem.kind is not ProblemKind.BAD_SIGNATURE:
                return problem
            if problem is not None:
                # The chain is intact here, so keep verifying it: a bad signature makes
                # one event worthless, not the ledger after it (an admin can
                # acknowledge it; the authority fold never counts it).
                self.signature_problems.append(problem)
        if self._expect is not None and seq == self._expect.seq and digest != self._expect.hash:
            return _checkpoint_mismatch(seq, digest, self._expect.hash)
        return None

    def finish(self, recorded_head: Checkpoint | None = None) -> VerifyReport:
        """Close the verification: the ledger must reach the expected checkpoint.

        recorded_head: the head the store recorded with its last append; an event
            count below it means the tail was cut off.
        """
        if self.problem is None:
            self.problem = self._tail_problem(recorded_head)
        signature_problems = tuple(self.signature_problems)
        first = self.problem or (signature_problems[0] if signature_problems else None)
        return VerifyReport(
            events_checked=self.events_checked,
            signatures_checked=self.signatures_checked,
            head=self.head,
            problem=first,
            chain_broken=self.problem is not None,
            signature_problems=signature_problems,
        )

    def _tail_problem(self, recorded: Checkpoint | None) -> VerifyProblem | None:
        last = self._next - 1
        if self._expect is not None and self._expect.seq > last:
            return VerifyProblem(
                ProblemKind.TRUNCATED,
                last + 1,
                f"The audit ledger ends at event {last}, but an earlier audit saw it reach "
                f"event {self._expect.seq} (checkpoint {_short(self._expect)}): events "
                f"from {last + 1} on were removed.",
            )
        if recorded is None or recorded.seq == 0:
            return None
        if recorded.seq > last:
            return VerifyProblem(
                ProblemKind.TRUNCATED,
                last + 1,
                f"The audit ledger ends at event {last}, but it had recorded event "
                f"{recorded.seq}: events from {last + 1} on were removed.",
            )
        if recorded.seq < last:
            return VerifyProblem(
                ProblemKind.INSERTED,
                recorded.seq + 1,
                f"Events from {recorded.seq + 1} on were added behind Gavel's back: the "
                f"ledger recorded its last append at event {recorded.seq}.",
            )
        if recorded.hash != self._prev:
            return VerifyProblem(
                ProblemKind.EDITED,
                last,
                f"Event {last} was rewritten after it was recorded: it no longer matches "
                "the head the ledger recorded when it was appended.",
            )
        return None

    def _check_signed(
        self,
        seq: int,
        body: bytes,
        digest: str,
        signer: str | None,
        signature: bytes | None,
        action: str,
        event: Mapping[str, Any] | None = None,
    ) -> VerifyProblem | None:
        """Key bookkeeping and signature checks: the rare events the JSON is parsed for
        (once: ``event`` is the parsed "event" object when the caller has it)."""
        if event is None:
            event = json.loads(body)["event"]
        if event["action"] != action:
            return VerifyProblem(
                ProblemKind.EDITED,
                seq,
                f"Event {seq} was altered: it is indexed as '{action}' but records "
                f"'{event['action']}'.",
            )
        if action in KEY_ACTIONS:
            why = apply_key_event(self._keys, seq, event, signer=signer, retire=False)
            if why:
                return VerifyProblem(ProblemKind.BAD_SIGNATURE, seq, why)
        if signer is None:
            if signature is None:
                return None
            return VerifyProblem(
                ProblemKind.BAD_SIGNATURE,
                seq,
                f"Event {seq} carries a signature although it was recorded unsigned.",
            )
        if signature is None:
            return VerifyProblem(
                ProblemKind.BAD_SIGNATURE,
                seq,
                f"Event {seq} was signed with key {signer} but its signature was removed.",
            )
        key = self._keys.get(signer)
        if key is None:
            why = f"Event {seq} is signed with key {signer}, which was not enrolled before it."
        elif key.revoked_seq is not None and key.revoked_seq < seq:
            why = f"Event {seq} is signed with key {signer}, revoked at event {key.revoked_seq}."
        elif key.holder != event["actor"]:
            why = (
                f"Event {seq} is recorded as done by '{event['actor']}' but signed with the "
                f"key of '{key.holder}'."
            )
        elif not self._signatures.verify(key.public_key, signature, bytes.fromhex(digest)):
            why = (
                f"Event {seq}'s signature does not verify with key {signer}: it was forged "
                "or the event was altered."
            )
        else:
            self.signatures_checked += 1
            return None
        if action == LedgerAction.KEY_ENROLLED.value and key is not None:
            # An enrolment whose own signature fails proves nothing: forget its key.
            self._keys.pop(signer, None)
        return VerifyProblem(ProblemKind.BAD_SIGNATURE, seq, why)


def verify_rows(
    chunks: Iterable[Sequence[StoredRow]],
    signatures: SignatureVerifier,
    *,
    expect: Checkpoint | None = None,
    recorded_head: Checkpoint | None = None,
    total: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    """Verify a whole ledger from event 1 over full rows, stopping at the first problem.

    recorded_head: the store's own record of its last append (None for an export).
    total: number of events expected, for progress only.
    """
    verifier = ChainVerifier(signatures, expect=expect)
    return _drive(verifier, verifier.feed, chunks, recorded_head, total, progress, cancel)


def verify_bodies(
    chunks: Iterable[Sequence[BodyRow]],
    key_seqs: Iterable[int],
    signatures: SignatureVerifier,
    *,
    expect: Checkpoint | None = None,
    recorded_head: Checkpoint | None = None,
    total: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> VerifyReport:
    """The fast form of verify_rows (see ChainVerifier.feed_bodies)."""
    verifier = ChainVerifier(signatures, expect=expect, key_seqs=key_seqs)
    return _drive(verifier, verifier.feed_bodies, chunks, recorded_head, total, progress, cancel)


def _drive(
    verifier: ChainVerifier,
    feed: Callable[[_Chunk], VerifyProblem | None],
    chunks: Iterable[_Chunk],
    recorded_head: Checkpoint | None,
    total: int | None,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> VerifyReport:
    progress(Progress(VERIFY_PHASE, 0, total))
    for chunk in chunks:
        if feed(chunk) is not None:
            break
        progress(Progress(VERIFY_PHASE, verifier.events_checked, total))
        if cancel is not None:
            cancel.raise_if_cancelled()
    return verifier.finish(recorded_head)


def _signer_and_action(body: bytes) -> tuple[str | None, str, dict[str, Any] | None]:
    """What a signed or key event's body says, and its parsed "event" object (so it is
    parsed once); (None, "", None) when it says nothing usable."""
    try:
        doc = json.loads(body)
        event = doc["event"]
        signer, action = doc["signer"], event["action"]
    except (ValueError, KeyError, TypeError):
        return None, "", None
    return (
        (signer if isinstance(signer, str) else None),
        (action if isinstance(action, str) else ""),
        event if isinstance(event, dict) else None,
    )


def _out_of_sequence(seq: int, expected: int) -> VerifyProblem:
    if seq < expected:
        return VerifyProblem(
            ProblemKind.INSERTED,
            seq,
            f"Event {seq} appears again after event {expected - 1}: an extra copy was inserted.",
        )
    if expected == 1:
        message = f"The audit ledger starts at event {seq}: events 1 to {seq - 1} are missing."
    elif seq == expected + 1:
        message = (
            f"Event {expected} is missing: the ledger goes from event {expected - 1} "
            f"to event {seq}."
        )
    else:
        message = (
            f"Events {expected} to {seq - 1} are missing: the ledger goes from event "
            f"{expected - 1} to event {seq}."
        )
    return VerifyProblem(ProblemKind.MISSING, expected, message)


def _diagnose_link(
    seq: int, body: bytes, signer: str | None, prev: str, prev_prev: str | None
) -> VerifyProblem:
    """Say why a body whose hash is intact does not continue the chain."""
    try:
        doc = json.loads(body)
        body_seq, body_prev, body_signer = doc["seq"], doc["prev"], doc["signer"]
    except (ValueError, KeyError, TypeError):
        return VerifyProblem(
            ProblemKind.EDITED, seq, f"Event {seq} is not a well-formed ledger record."
        )
    if body_seq != seq:
        if body_seq == seq - 1 and prev_prev is not None and body_prev == prev_prev:
            return VerifyProblem(
                ProblemKind.INSERTED,
                seq - 1,
                f"Event {seq - 1} was inserted: the event after it is the original event "
                f"{seq - 1}, renumbered, and links directly to event {seq - 2}.",
            )
        return VerifyProblem(
            ProblemKind.REORDERED,
            seq,
            f"Event {seq} holds the recorded event {body_seq}: events were moved or swapped.",
        )
    if body_prev != prev:
        return VerifyProblem(
            ProblemKind.INSERTED,
            seq,
            f"Event {seq} does not follow event {seq - 1}: it records previous hash "
            f"{str(body_prev)[:12]}…, but event {seq - 1} hashes to {prev[:12]}…; an event "
            "was inserted or replaced here.",
        )
    if body_signer != signer:
        return VerifyProblem(
            ProblemKind.BAD_SIGNATURE,
            seq,
            f"Event {seq} names signer {body_signer} but is stored as signed by {signer}: "
            "its signature was stripped or swapped.",
        )
    return VerifyProblem(
        ProblemKind.EDITED, seq, f"Event {seq} is not stored in its canonical form."
    )


def _checkpoint_mismatch(seq: int, digest: str, expected: str) -> VerifyProblem:
    return VerifyProblem(
        ProblemKind.CHECKPOINT_MISMATCH,
        seq,
        f"Event {seq} no longer matches the checkpoint of an earlier audit ({expected[:12]}… "
        f"then, {digest[:12]}… now): the ledger was rewritten at or before event {seq}.",
    )


def _short(cp: Checkpoint) -> str:
    return f"{cp.seq}:{cp.hash[:12]}…"
