"""Signature checks of a whole-ledger audit, on other cores while the audit reads on.

One Ed25519 check costs as much as reading and hashing about sixty events, so at a
million events the checks, not the chain, are most of an audit. Threads do not help:
the check releases the GIL, but the audit's own pass holds it between rows, and a
thread waiting for it gets it back only every switch interval. Processes do help:
`SpeculativeVerifier` answers "verified" at once, batches the checks to a pool of
worker processes while the pass goes on, and `settle` waits for the answers. When all
verified, the pass's report stands as it is. When any did not, the caller repeats the
pass with a `MemoVerifier` seeded with every check that verified, which then reports
exactly what a one-at-a-time audit reports (which event, which key), at the cost of
one more read of the chain.

Small audits never start the pool: below one batch of checks they run here, as they
always did. A pool that cannot start (no multiprocessing in a frozen build, limits)
means checking here too; never a weaker audit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from app.domain.cancel import CancelToken
from app.domain.errors import Cancelled
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.services.signing import Ed25519Verifier, MemoVerifier

log = logging.getLogger("gavel.audit")

Check = tuple[bytes, bytes, bytes]  # (public key, signature, message)
BATCH = 2048
SETTLE_PHASE = "Checking signatures"


def check_batch(batch: list[Check]) -> list[bool]:
    """A worker's job: each check of the batch, in order (runs in the pool's processes)."""
    verify = Ed25519Verifier().verify
    return [verify(public_key, signature, message) for public_key, signature, message in batch]


def default_workers() -> int:
    """Every core but the one the audit's own pass runs on (none on one core)."""
    return max(0, (os.cpu_count() or 1) - 1)


class SpeculativeVerifier:
    """A SignatureVerifier that says yes now and checks in worker processes.

    Use as a context manager (the pool stops on exit, also on cancel or error), pass it
    to the chain verification, then call `settle`: True when every check verified.
    """

    def __init__(
        self, memo: MemoVerifier, *, batch: int = BATCH, workers: int | None = None
    ) -> None:
        self._memo = memo
        self._batch = batch
        self._workers = workers if workers is not None else default_workers()
        self._pending: list[Check] = []
        self._submitted: list[tuple[list[Check], Future[list[bool]]]] = []
        self._pool: ProcessPoolExecutor | None = None
        self._pool_failed = False
        # A batch checked here (no pool) that did not all verify.
        self._failed_here = False
        self.checks = 0
        self.batches_sent = 0  # to worker processes

    def __enter__(self) -> SpeculativeVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=exc_type is None, cancel_futures=True)
            self._pool = None

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        self._pending.append((public_key, signature, message))
        self.checks += 1
        if len(self._pending) >= self._batch:
            self._submit()
        return True

    def settle(
        self, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> bool:
        """Wait for every check; remember the good ones in the memo. True if all were."""
        all_good = self._check_here(self._pending) and not self._failed_here
        self._pending = []
        total = len(self._submitted)
        for done, (batch, future) in enumerate(self._submitted, start=1):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("Verification cancelled.")
            try:
                answers = future.result()
            except Exception as exc:  # a worker died: check this batch here instead
                log.warning("signature worker failed (%s); checking here", exc)
                all_good = self._check_here(batch) and all_good
                continue
            for check, good in zip(batch, answers, strict=True):
                if good:
                    self._memo.remember(*check)
                else:
                    all_good = False
            progress(Progress(SETTLE_PHASE, done, total))
        self._submitted = []
        return all_good

    def _submit(self) -> None:
        batch, self._pending = self._pending, []
        pool = self._start_pool()
        if pool is None:
            self._pending_here(batch)
            return
        try:
            self._submitted.append((batch, pool.submit(check_batch, batch)))
            self.batches_sent += 1
        except Exception as exc:  # a broken pool: check here from now on
            log.warning("signature pool unusable (%s); checking here", exc)
            self._pool_failed = True
            self._pending_here(batch)

    def _pending_here(self, batch: list[Check]) -> None:
        if not self._check_here(batch):
            self._failed_here = True

    def _check_here(self, batch: list[Check]) -> bool:
        """Check in this process; the memo remembers the good ones."""
        good = True
        for check in batch:
            good = self._memo.verify(*check) and good
        return good

    def _start_pool(self) -> ProcessPoolExecutor | None:
        if self._workers < 1:
            return None
        if self._pool is None and not self._pool_failed:
            try:
                self._pool = ProcessPoolExecutor(
                    max_workers=self._workers, mp_context=multiprocessing.get_context("spawn")
                )
            except (OSError, ValueError, NotImplementedError) as exc:
                log.warning("cannot start signature workers (%s); checking here", exc)
                self._pool_failed = True
        return self._pool
