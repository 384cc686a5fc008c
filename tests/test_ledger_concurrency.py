"""Writer processes appending to one ledger at once leave one linear, gapless chain.

Four spawned processes append to the same database (SQLite file or PostgreSQL) while
this process verifies the ledger over and over; every intermediate verification and
the final one must pass.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable
from multiprocessing.synchronize import Barrier

import pytest

from app.domain.ledger import LedgerAction
from app.services.audit import AuditService
from app.stores.engine import LEDGER, Database, make_engine
from app.stores.ledger_store import LedgerStore

WRITERS = 4
APPENDS = 100

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _writer(url: str, writer: int, barrier: Barrier, halfway: Barrier) -> None:
    db = Database(make_engine(url), LEDGER)
    try:
        audit = AuditService(LedgerStore(db))
        barrier.wait(timeout=120)
        for i in range(APPENDS):
            if i == APPENDS // 2:
                # Every writer is half done before any goes on: the chain interleaves
                # whatever the scheduler does (on two cores one writer could otherwise
                # take the SQLite write lock for most of its appends in a row).
                halfway.wait(timeout=120)
            audit.record(
                f"writer-{writer}",
                LedgerAction.ALIAS_OBSERVED,
                f"model:prod/m{writer}",
                after={"writer": writer, "i": i},
            )
    finally:
        db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_writers_keep_one_chain(
    kind: str, make_ledger_db: Callable[[str], Database]
) -> None:
    db = make_ledger_db(kind)
    url = db.engine.url.render_as_string(hide_password=False)
    audit = AuditService(LedgerStore(db))
    ctx = multiprocessing.get_context("spawn")
    # The verifier below waits at the barrier too, so it runs while the writers append.
    barrier = ctx.Barrier(WRITERS + 1)
    halfway = ctx.Barrier(WRITERS)
    writers = [ctx.Process(target=_writer, args=(url, w, barrier, halfway)) for w in range(WRITERS)]
    for p in writers:
        p.start()
    try:
        barrier.wait(timeout=120)
        verifications = 0
        while any(p.is_alive() for p in writers):
            report = audit.verify()
            assert report.ok, report.describe()
            verifications += 1
    finally:
        for p in writers:
            p.join(timeout=120)
    assert [p.exitcode for p in writers] == [0] * WRITERS
    assert verifications >= 1

    total = WRITERS * APPENDS
    report = audit.verify()
    assert report.ok, report.describe()
    assert report.events_checked == total
    events = audit.page(limit=None)
    assert [e.seq for e in events] == list(range(1, total + 1))
    # The writers really interleaved (not one after another)...
    switches = sum(a.actor != b.actor for a, b in itertools.pairwise(events))
    assert switches > WRITERS
    # ...and each writer's own appends keep their order within the one chain.
    for w in range(WRITERS):
        mine = [e.after["i"] for e in events if e.actor == f"writer-{w}"]  # type: ignore[index, call-overload]
        assert mine == list(range(APPENDS))
