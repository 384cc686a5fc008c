"""Audit use cases: record events, verify the ledger, export it, keep a verified replica.

Blocking and thread-safe (every call opens its own sessions); long operations take a
progress callback and a cancel token.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.domain.cancel import CancelToken
from app.domain.errors import CacheError, UsageError
from app.domain.ledger import (
    AUTHORITY_ACTIONS,
    FORMAT,
    Checkpoint,
    ExportFailed,
    ExportFormat,
    JsonValue,
    LedgerAction,
    LedgerDraft,
    LedgerEvent,
    LedgerTampered,
    ProblemKind,
    StoredRow,
    VerifyProblem,
    VerifyReport,
)
from app.domain.ledger_keys import (
    EventSigner,
    SignatureVerifier,
)
from app.domain.ledger_query import (
    ALIAS_ACTIONS,
    AliasMove,
    LedgerQuery,
    alias_move_of,
    holder_at,
    model_subject,
)
from app.domain.ledger_verify import ChainVerifier, verify_bodies, verify_rows
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.ledger_export import file_sha256, write_csv, write_jsonl
from app.services.signing import Ed25519Verifier
from app.stores.engine import LEDGER
from app.stores.ledger_store import DEFAULT_CHUNK, LedgerAppend, LedgerStore

PULL_PHASE = "Pulling the shared audit ledger"
EXPORT_PHASE = "Exporting the audit ledger"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: ExportFormat
    events: int
    sha256: str
    head: Checkpoint | None
    # The export.made event that records this export in the ledger.
    record: LedgerEvent


@dataclass(frozen=True)
class PullResult:
    imported: int
    # Events already held locally that were compared with the shared ledger.
    compared: int
    head: Checkpoint | None


class AuditService:
    """The audit ledger's use cases over one store (the cache or the shared ledger).

    signatures: how Ed25519 signatures are checked; the cryptography-backed one by default.
    """

    def __init__(self, store: LedgerStore, signatures: SignatureVerifier | None = None) -> None:
        self._store = store
        self._signatures = signatures or Ed25519Verifier()

    @property
    def store(self) -> LedgerStore:
        return self._store

    @contextmanager
    def appending(self) -> Iterator[LedgerAppend]:
        """The store's append transaction (see LedgerStore.appending); refused where the
        ledger is read-only."""
        with self._store.appending() as tx:
            yield tx

    # ------------------------------------------------------------------ recording

    def record(
        self,
        actor: str,
        action: LedgerAction,
        subject: str,
        before: JsonValue = None,
        after: JsonValue = None,
        reason: str = "",
        signer: EventSigner | None = None,
    ) -> LedgerEvent:
        """Append one event that carries no authority (an observation, an export record).

        Authority events (``AUTHORITY_ACTIONS``) are written only by
        ``services.authority.AuthorityLedger.write``, which signs them and judges them
        under the append lock; this refuses them.
        """
        if str(action) in AUTHORITY_ACTIONS:
            raise UsageError(
                f"'{action}' carries authority: it is written through the governance "
                "services, which sign it and check it first."
            )
        draft = LedgerDraft(actor, str(action), subject, before, after, reason)
        if signer is not None:
            self._check_signer(actor, signer)
        return self._store.append(draft, signer)

    def ensure_genesis(self) -> LedgerEvent | None:
        """Record event 1 (``ledger.created``) on an empty ledger; its hash names the
        ledger in keyring entries. Returns it when this call made it."""
        with self.appending() as tx:
            if tx.head.seq:
                return None
            return tx.add(
                LedgerDraft(
                    "gavel",
                    LedgerAction.LEDGER_CREATED.value,
                    "ledger",
                    after={"format": FORMAT},
                    reason="Audit ledger created.",
                )
            )

    def _check_signer(self, actor: str, signer: EventSigner) -> None:
        # verify() would reject these events; refuse to write them in the first place.
        key = self._store.enrolled_keys().get(signer.key_id)
        if key is None:
            raise UsageError(
                f"Signing key {signer.key_id} is not enrolled in the audit ledger: enrol it first."
            )
        if key.revoked_seq is not None:
            raise UsageError(f"Signing key {signer.key_id} was revoked; enrol a new key.")
        if key.holder != actor:
            raise UsageError(
                f"Signing key {signer.key_id} belongs to '{key.holder}', not to '{actor}'."
            )

    # ------------------------------------------------------------------ verifying

    def verify(
        self,
        checkpoint: Checkpoint | None = None,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        signatures: SignatureVerifier | None = None,
    ) -> VerifyReport:
        """Recompute the whole chain and every signature; report the first bad event.

        This checks the record's integrity; whether each event's author held the
        authority it used is the authority fold's check (AuthorityLedger.verify runs both).

        checkpoint: 'SEQ:HASH' kept from an earlier audit; the ledger must still extend it.
        signatures: the verifier to use (default: this service's).
        """
        signatures = signatures or self._signatures
        try:
            report = self._verify_chain(checkpoint, signatures, progress, cancel)
        except CacheError:
            damaged = self._damaged_report()
            if damaged is not None:
                return damaged
            raise
        if report.chain_broken:
            # A damaged page hides rows like a deletion would: say which it is.
            return self._damaged_report() or report
        return report

    def _verify_chain(
        self,
        checkpoint: Checkpoint | None,
        signatures: SignatureVerifier,
        progress: ProgressCallback,
        cancel: CancelToken | None,
    ) -> VerifyReport:
        recorded, last = self._store.bounds()
        key_seqs = self._store.key_event_seqs(last)
        with closing(self._store.iter_body_rows(last)) as rows:
            report = verify_bodies(
                rows,
                key_seqs,
                signatures,
                expect=checkpoint,
                recorded_head=recorded,
                total=last,
                progress=progress,
                cancel=cancel,
            )
        if not report.chain_broken or report.problem is None:
            return report
        # The fast pass reads rows by position, so it knows where the chain breaks but
        # not always why (a deleted event and two swapped ones look alike there). Full
        # rows up to just past that point name the cause.
        upto = min(last, report.problem.seq + 2)
        expect = checkpoint if checkpoint is not None and checkpoint.seq <= upto else None
        with closing(self._store.iter_rows(1, upto)) as rows:
            precise = verify_rows(
                rows,
                signatures,
                expect=expect,
                total=upto,
                progress=progress,
                cancel=cancel,
            )
        return precise if precise.chain_broken else report

    def _damaged_report(self) -> VerifyReport | None:
        damage = self._store.damage()
        if damage is None:
            return None
        problem = VerifyProblem(
            ProblemKind.DAMAGED,
            0,
            f"The audit ledger file ({self._store.where}) is damaged ({damage}). This is "
            "damage to the file, not a sign that events were removed or rewritten. "
            f"{LEDGER.damaged}",
        )
        return VerifyReport(0, 0, None, problem, chain_broken=True, open_problems=(problem,))

    # ------------------------------------------------------------------ exporting

    def export(
        self,
        path: Path,
        fmt: ExportFormat | str = ExportFormat.JSONL,
        *,
        actor: str,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> ExportResult:
        """Write the ledger to ``path`` and record an ``export.made`` event naming its digest.

        The file appears only when complete; a cancelled or failed export leaves none.
        """
        try:
            fmt = ExportFormat(fmt)
        except ValueError:
            raise UsageError(f"'{fmt}' is not an export format: use jsonl or csv.") from None
        _recorded, last = self._store.bounds()
        partial = path.with_name(path.name + ".partial")
        tracker = _ChunkTracker(last, progress, cancel)
        try:
            with closing(self._store.iter_rows(1, last)) as chunks:
                if fmt is ExportFormat.JSONL:
                    with partial.open("wb") as fb:
                        count = write_jsonl(tracker.track(chunks), fb)
                else:
                    with partial.open("w", encoding="utf-8", newline="") as ft:
                        count = write_csv(tracker.track(chunks), ft)
            digest = file_sha256(partial)
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ExportFailed(
                f"Cannot write the export to {path}: {exc.strerror or exc}. "
                "Choose a folder you can write to."
            ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        record = self.record(
            actor,
            LedgerAction.EXPORT_MADE,
            f"export:{path.name}",
            after={
                "events": count,
                "file": path.name,
                "format": fmt.value,
                "head": str(tracker.head) if tracker.head else None,
                "sha256": digest,
            },
            reason="Audit ledger exported.",
        )
        return ExportResult(path, fmt, count, digest, tracker.head, record)

    # ------------------------------------------------------------------ team mode

    def pull_replica(
        self,
        source: LedgerStore,
        replica: LedgerStore,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
        pulled_key: str = "",
    ) -> PullResult:
        """Copy the shared ledger's new events into the local replica, verified (see pull)."""
        return pull(source, replica, self._signatures, progress, cancel, pulled_key)

    # ------------------------------------------------------------------ reading

    def count(self, query: LedgerQuery | None = None) -> int:
        return self._store.count(query)

    def genesis_hash(self) -> str | None:
        """The hash of the ledger's first event (its name); None while it is empty."""
        return self._store.genesis_hash()

    def seqs(self, query: LedgerQuery | None = None, limit: int | None = None) -> list[int]:
        return self._store.seqs(query, limit)

    def page(
        self, query: LedgerQuery | None = None, limit: int | None = 200, descending: bool = False
    ) -> list[LedgerEvent]:
        return self._store.page(query, limit, descending)

    def events(self, seqs: Sequence[int]) -> list[LedgerEvent]:
        return self._store.get(seqs)

    def alias_history(self, registry: str, model: str, alias: str) -> list[AliasMove]:
        """Every recorded move of one alias of one model, in ledger order."""
        query = LedgerQuery(subject=model_subject(registry, model), actions=ALIAS_ACTIONS)
        moves = (alias_move_of(e) for e in self.page(query, limit=None))
        return [m for m in moves if m is not None and m.alias == alias]

    def holder_at(self, registry: str, model: str, alias: str, when: datetime) -> int | None:
        """The version alias ``alias`` of the model pointed at, at time ``when`` (None: none)."""
        return holder_at(self.alias_history(registry, model, alias), when)


def pull(
    source: LedgerStore,
    replica: LedgerStore,
    signatures: SignatureVerifier,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    pulled_key: str = "",
) -> PullResult:
    """Copy new events from the shared ledger into the replica, all or nothing.

    First every event the replica already holds must still be in the shared ledger,
    byte for byte; then the new events must continue the replica's chain and verify.
    Otherwise LedgerTampered, and nothing is imported.

    pulled_key: the replica's ledger_meta key for its head after the last pull, written
    with each import. A replica holding more was written on this computer by something
    other than a pull, and is named so.
    """
    held = replica.head()
    # Read after the head: an import writes both at once, so the key is never behind.
    known = replica.meta(pulled_key) if pulled_key else None
    pulled = int(known) if known is not None and known.isdigit() else None
    if held is not None and pulled is not None and held.seq > pulled:
        written = VerifyProblem(
            ProblemKind.INSERTED,
            pulled + 1,
            f"This computer's replica holds events after {pulled:,}, the last one it "
            "pulled, that no pull brought: it was written to here.",
        )
        raise LedgerTampered(
            f"Nothing was imported from the shared audit ledger: {written.message} Keep the "
            "file for whoever investigates, then move data/ledger.sqlite3 aside: Gavel "
            "pulls a new replica from the team ledger.",
            written,
        )
    if held is not None:
        _compare_held(source, replica, held, progress, cancel)
    recorded, last = source.bounds()
    keys = replica.enrolled_keys(held.seq) if held else None
    verifier = ChainVerifier(signatures, start=held, keys=keys)
    from_seq = held.seq + 1 if held else 1
    total = max(last - from_seq + 1, 0)
    with (
        replica.importing(held, record_head_as=pulled_key) as sink,
        closing(source.iter_rows(from_seq, last)) as chunks,
    ):
        for rows in chunks:
            problem = verifier.feed(rows)
            if problem is not None:
                raise LedgerTampered(_refusal(problem.message), problem)
            sink.add(rows)
            progress(Progress(PULL_PHASE, sink.added, total))
            if cancel is not None:
                cancel.raise_if_cancelled()
        report = verifier.finish(recorded)
        # Only a broken chain stops a pull: an event whose signature fails is copied like
        # any other, and the authority fold (on every desk) names it and counts it for
        # nothing; refusing it here would stop every replica for good.
        if report.chain_broken and report.problem is not None:
            raise LedgerTampered(_refusal(report.problem.message), report.problem)
    head = sink.head if sink.head.seq else None
    return PullResult(imported=sink.added, compared=held.seq if held else 0, head=head)


def _compare_held(
    source: LedgerStore,
    replica: LedgerStore,
    held: Checkpoint,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> None:
    """The shared ledger must still hold, unchanged, every event the replica holds."""
    sha256 = hashlib.sha256
    with (
        closing(source.iter_rows(1, held.seq)) as theirs,
        closing(replica.iter_hashes(1, held.seq)) as ours,
    ):
        shared = itertools.chain.from_iterable(theirs)
        for seq, held_hash in itertools.chain.from_iterable(ours):
            row = next(shared, None)
            if row is None or row[0] != seq:
                problem = VerifyProblem(
                    ProblemKind.MISSING,
                    seq,
                    f"The shared ledger no longer holds event {seq}, which this console "
                    "pulled earlier: it was deleted.",
                )
            elif sha256(row[1]).hexdigest() != held_hash:
                problem = VerifyProblem(
                    ProblemKind.EDITED,
                    seq,
                    f"The shared ledger's event {seq} differs from the copy this console "
                    "pulled earlier: it was rewritten.",
                )
            else:
                if seq % DEFAULT_CHUNK == 0:
                    progress(Progress(PULL_PHASE + " (checking held events)", seq, held.seq))
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                continue
            raise LedgerTampered(_refusal(problem.message), problem)


def _refusal(reason: str) -> str:
    return (
        f"Nothing was imported from the shared audit ledger: {reason} This console keeps "
        "its verified copy; report this to whoever administers the shared ledger."
    )


class _ChunkTracker:
    """Passes chunks through while reporting progress, honouring cancel, noting the head."""

    def __init__(self, total: int, progress: ProgressCallback, cancel: CancelToken | None) -> None:
        self._total = total
        self._progress = progress
        self._cancel = cancel
        self.done = 0
        self.head: Checkpoint | None = None

    def track(self, chunks: Iterable[list[StoredRow]]) -> Iterator[list[StoredRow]]:
        for rows in chunks:
            if self._cancel is not None:
                self._cancel.raise_if_cancelled()
            yield rows
            if rows:
                self.head = Checkpoint(rows[-1][0], rows[-1][2])
            self.done += len(rows)
            self._progress(Progress(EXPORT_PHASE, self.done, self._total))
