"""The authority fold, kept current, and the only way authority events are written.

``AuthorityLedger`` folds the ledger's authority events (``domain.authority``) as they
arrive and answers questions under a lock (``read``). Writes go through ``write``:
with the ledger's append lock held it folds whatever other desktops appended, lets
the caller build its events from that state, judges each event exactly as every
reader's fold will, and stores it. So the check and the append are one step, on
SQLite and on PostgreSQL, whatever number of processes write at once.

Blocking and thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from app.domain.authority import AuthorityState
from app.domain.authority_model import (
    FOLDED_ACTIONS,
    Refusal,
    RefusalKind,
)
from app.domain.authority_report import combined_report
from app.domain.cancel import CancelToken
from app.domain.errors import GavelError, StoreUnreachable, UsageError
from app.domain.governance import InvalidState, NotAuthorized, SeparationOfDuties
from app.domain.ledger import (
    AUTHORITY_ACTIONS,
    Checkpoint,
    LedgerAction,
    LedgerDraft,
    LedgerError,
    LedgerEvent,
    LedgerTampered,
    VerifyReport,
)
from app.domain.ledger_keys import EventSigner, SignatureVerifier
from app.domain.progress import ProgressCallback, no_progress
from app.services.audit import AuditService
from app.services.signature_pool import BATCH, SpeculativeVerifier
from app.services.signing import Ed25519Verifier, MemoVerifier
from app.stores.ledger_store import FoldRow

log = logging.getLogger("gavel.authority")

T = TypeVar("T")
# Ledger events read per query while folding.
_FOLD_SPAN = 20_000

Build = Callable[[AuthorityState], Sequence[LedgerDraft]]
# What write appends: authority events, and the record of an offline decision that no
# longer applied (judged too: the fold remembers its intent, so it never counts later).
WRITABLE_ACTIONS = AUTHORITY_ACTIONS | {LedgerAction.DECISION_SUPERSEDED.value}


class LedgerLink(Protocol):
    """The team ledger as the fold sees it: whether it stopped answering, and telling it
    so (see team_ledger.TeamLedger)."""

    lost: str

    def mark_lost(self, reason: str) -> None: ...


class LedgerProblem(GavelError):
    """The ledger holds an event the authority fold refused (forged, or raced)."""


def refusal_error(refusal: Refusal) -> GavelError:
    """The error a refused write raises: the fold's own sentence, capitalised."""
    text = refusal.reason[:1].upper() + refusal.reason[1:]
    match refusal.kind:
        case RefusalKind.NOT_AUTHORIZED:
            return NotAuthorized(text)
        case RefusalKind.SEPARATION_OF_DUTIES:
            return SeparationOfDuties(text)
        case RefusalKind.INVALID_STATE:
            return InvalidState(text)
        case RefusalKind.MALFORMED:
            return UsageError(text)
        case _:
            return LedgerError(text)


class AuthorityLedger:
    """The fold over one ledger (the local one, or the team's shared one)."""

    # Signatures a whole audit sends to a worker process at a time; an audit with
    # fewer checks than this never starts the workers.
    signature_batch = BATCH

    def __init__(
        self,
        audit: AuditService,
        signatures: SignatureVerifier | None = None,
        link: LedgerLink | None = None,
    ) -> None:
        """link: the team ledger, in team mode. While it does not answer, ``read``
        answers from the events already folded (a prefix of the team's chain, as valid
        as the replica) and tells it why; writes still fail."""
        self._audit = audit
        self._signatures = signatures or Ed25519Verifier()
        self._link = link
        self._lock = threading.RLock()
        self._state = AuthorityState(self._signatures)
        # The last event of the ledger the shared fold has seen (seq, hash).
        self._seen: Checkpoint | None = None

    @property
    def audit(self) -> AuditService:
        return self._audit

    def read(self, fn: Callable[[AuthorityState], T]) -> T:
        """Bring the fold up to the ledger's head, then answer ``fn`` under the lock.

        fn must not keep references into the state: copy what it returns.
        """
        with self._lock:
            link = self._link
            if link is None or not link.lost:
                try:
                    self._catch_up(self._state)
                except StoreUnreachable as exc:
                    if link is None:
                        raise
                    link.mark_lost(exc.message)
            return fn(self._state)

    def head(self) -> Checkpoint | None:
        """The last ledger event the fold has read (seq, hash), as of the last ``read``
        or ``write``: what a decision checked against the fold was made against."""
        with self._lock:
            return self._seen

    def fresh(self) -> AuthorityState:
        """A fold of the whole ledger from event 1, shared with nobody: what apply trusts
        just before it writes to the registry (nothing cached can have drifted)."""
        state = AuthorityState(self._signatures)
        self._catch_up(state)
        return state

    def verify(
        self,
        checkpoint: Checkpoint | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> VerifyReport:
        """The whole audit: the hash chain and every signature (AuditService.verify), then
        the authority of every event (a fresh fold); problems an admin acknowledged are
        reported but do not fail it."""
        memo = MemoVerifier()
        # Signatures are checked on other cores while the chain is read (see
        # signature_pool); if any fails, a second pass with every good one remembered
        # reports exactly what a one-at-a-time audit would.
        with SpeculativeVerifier(memo, batch=self.signature_batch) as speculative:
            chain = self._audit.verify(checkpoint, progress, cancel, signatures=speculative)
            all_good = speculative.settle(progress, cancel)
        if not all_good:
            chain = self._audit.verify(checkpoint, progress, cancel, signatures=memo)
        state = AuthorityState(memo)
        if not chain.chain_broken:
            self._catch_up(state)
        return combined_report(chain, state)

    def write(
        self,
        signer: EventSigner | None,
        build: Build,
        on_refusal: Callable[[LedgerDraft, Refusal], LedgerDraft] | None = None,
    ) -> list[LedgerEvent]:
        """Append the events ``build`` makes from the current state, each judged by the
        fold first; all of them or none. A refused event raises the fold's sentence.

        build: called with the append lock held and the state current; raise a
            GavelError to refuse with a sentence of your own.
        on_refusal: what to append instead of a draft the fold refuses (an offline
            decision that no longer applies becomes its ``decision.superseded`` record,
            judged in the same step, so no other desktop decides in between).
        """
        try:
            events = self._write(signer, build, on_refusal)
        except StoreUnreachable as exc:
            if self._link is not None:
                self._link.mark_lost(exc.message)
            raise
        for event in events:
            log.info("ledger event %d: %s by %s", event.seq, event.action, event.actor)
        return events

    def _write(
        self,
        signer: EventSigner | None,
        build: Build,
        on_refusal: Callable[[LedgerDraft, Refusal], LedgerDraft] | None,
    ) -> list[LedgerEvent]:
        with self._lock:
            self._catch_up(self._state)
            stored = False
            try:
                with self._audit.appending() as tx:
                    fold_rows(self._state, tx.events(self._state.scanned, FOLDED_ACTIONS))
                    events = []
                    for draft in build(self._state):
                        if draft.action not in WRITABLE_ACTIONS:
                            raise UsageError(f"'{draft.action}' is not an authority event.")
                        prepared = tx.prepare(draft, signer)
                        refusal = self._state.judge(prepared.event)
                        if refusal is not None and on_refusal is not None:
                            instead = on_refusal(draft, refusal)
                            if instead.action not in WRITABLE_ACTIONS:
                                raise UsageError(f"'{instead.action}' is not an authority event.")
                            prepared = tx.prepare(instead, signer)
                            refusal = self._state.judge(prepared.event)
                        if refusal is not None:
                            raise refusal_error(refusal)
                        events.append(tx.store(prepared))
                        stored = True
                        self._seen = prepared.event.checkpoint
                        # Later events of the same write see this one.
                        self._state.fold(prepared.event)
            except BaseException:
                if stored:
                    # The fold saw events the failed transaction did not keep.
                    self._state = AuthorityState(self._signatures)
                    self._seen = None
                raise
        return events

    def _catch_up(self, state: AuthorityState) -> None:
        # The newest seq is one index lookup (a COUNT(*) would scan the whole ledger at
        # every write and read). Windows of seqs (not LIMIT) keep each query an index
        # range, whatever the ledger size.
        last = self._audit.store.head()
        head = last.seq if last is not None else 0
        for start in range(state.scanned + 1, head + 1, _FOLD_SPAN):
            end = min(start + _FOLD_SPAN - 1, head)
            fold_rows(state, self._audit.store.fold_rows(start, end, FOLDED_ACTIONS))
            state.scanned = max(state.scanned, end)
        if state is self._state and last is not None and last.seq >= state.scanned:
            self._seen = last


def fold_rows(state: AuthorityState, rows: Sequence[FoldRow]) -> None:
    """Fold stored rows in order; a row that is not a readable event becomes a problem."""
    for row in rows:
        try:
            event = row.event()
        except LedgerTampered as exc:
            state.fold_unreadable(row.seq, row.action, row.actor, exc.message)
            continue
        state.fold(event)
