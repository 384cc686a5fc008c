"""Append throughput with the serialized claim. One command: `make bench-claims`
(`.venv/bin/python -m bench.bench_claims [--writers 4] [--appends 200]`).

Every authority event is written through ``AuthorityLedger.write``: with the ledger's
append lock held (an UPDATE of the ledger_head row: SQLite's write lock, PostgreSQL's
row lock) the writer folds what the others appended, builds its event, signs it,
judges it as every reader's fold will, and stores it. This measures what that costs
when several desktops write at once, side by side for SQLite and PostgreSQL:

  - a ledger is set up through that same write path: the founder (key, admin role,
    default policies), four members each enrolling a key the founder approves, and one
    promotion request;
  - --writers processes (multiprocessing spawn; each has folded the ledger and waits at
    a barrier before the clock starts) each append --appends signed ``comment.added``
    events on that request, each with its own member key: any active member may comment;
  - the same with one writer, and the same two with plain ``AuditService.record`` of
    unsigned observations (``alias.observed``), which takes the same append lock but
    signs and judges nothing.

All of it twice: on a fresh ledger (the set-up above), and on a copy of a ledger that
already holds --history events of ``bench.ledger_data``'s realistic mix (default
100,000; its founder and members are the writers' keys), because a claim must stay
cheap as the ledger grows. Each writer folds the ledger before the barrier.

Printed: events/s in total (all events over the span from the first writer's start to
the last one's end) and per writer (its own appends over its own span: the mean, and
the slowest to the fastest), best of --runs on a fresh copy each time, interleaved; and
the ratios that show the cost of signing and judging under the lock. After every run
the ledger must verify with no problem (``AuthorityLedger.verify``), hold exactly the
set-up plus writers x appends events, and each writer's own appends exactly once, in
its order. PostgreSQL is the server at --pg-url; scratch databases are dropped. Ratios
hold on a shared, noisy machine; absolute figures do not. Not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from app.domain.governance import Role
from app.domain.ledger import LedgerAction, LedgerDraft
from app.domain.ledger_query import LedgerQuery, model_subject
from app.services.audit import AuditService
from app.services.authority import AuthorityLedger
from app.services.signing import Ed25519Signer
from app.stores.engine import sqlite_url
from app.stores.ledger_store import LedgerStore
from app.stores.migrate import open_ledger_database
from bench.ledger_data import (
    APPROVERS,
    PG_ADMIN_URL,
    REQUESTERS,
    Promotion,
    bench_signer,
    found_ledger,
    pg_database,
    stream_ledger,
)

BACKENDS = ("sqlite", "postgresql")
# The writers: each its own member key. The first requester makes the request.
MEMBERS = (*REQUESTERS, *APPROVERS)
SIGNED, PLAIN = "signed", "plain"


class WriteSink:
    """found_ledger and Promotion through AuthorityLedger.write: judged, like any client."""

    def __init__(self, authority: AuthorityLedger) -> None:
        self._authority = authority

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
        draft = LedgerDraft(actor, action.value, subject, before, after, reason)
        (event,) = self._authority.write(signer, lambda _s: [draft])
        return event.hash


def _set_up(url: str, writers: int, history: bool) -> tuple[int, str]:
    """One promotion request on a ledger with ``writers`` approved members: (events, id).

    history: the ledger holds a bulk-loaded history (members included); otherwise the
    founder and the members are set up here, through the write path.
    """
    db = open_ledger_database(url)
    try:
        audit = AuditService(LedgerStore(db))
        authority = AuthorityLedger(audit)
        sink = WriteSink(authority)
        members = MEMBERS[:writers]
        if not history:
            audit.ensure_genesis()
            found_ledger(sink, dict.fromkeys(members, Role.REQUESTER))
        # A request number no promotion of the history uses.
        request = Promotion(10**9, {u: bench_signer(u) for u in members})
        assert request.requester in members
        request.create(sink)
        return audit.count(), request.rid
    finally:
        db.dispose()


def _writer(
    url: str, mode: str, user: str, appends: int, rid: str, barrier: Barrier, out: Queue[Any]
) -> None:
    db = open_ledger_database(url)
    try:
        audit = AuditService(LedgerStore(db))
        authority = AuthorityLedger(audit)
        signer = bench_signer(user)
        authority.read(lambda _s: None)  # fold the ledger before the clock starts
        barrier.wait(timeout=300)
        started = time.perf_counter()
        if mode == SIGNED:
            for i in range(appends):
                draft = LedgerDraft(
                    user,
                    LedgerAction.COMMENT_ADDED.value,
                    f"request:{rid}",
                    reason=f"Comment {i} by {user}: checked the shadow traffic again.",
                )
                authority.write(signer, lambda _s, d=draft: [d])  # type: ignore[misc]
        else:
            for i in range(appends):
                audit.record(
                    user,
                    LedgerAction.ALIAS_OBSERVED,
                    _observed(user),
                    before={"alias": "challenger", "version": i},
                    after={"alias": "challenger", "version": i + 1, "unapproved": True},
                    reason=f"Observation {i} by {user}.",
                )
        out.put((user, started, time.perf_counter()))
    finally:
        db.dispose()


def _observed(user: str) -> str:
    """The subject of a writer's observations (no model of the history has it)."""
    return model_subject("prod", f"writer-{user}")


@dataclass
class Outcome:
    total_eps: float = 0.0
    per_writer: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return sum(self.per_writer) / len(self.per_writer)


def _run(url: str, mode: str, writers: int, members: int, appends: int, history: bool) -> Outcome:
    set_up, rid = _set_up(url, members, history)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(writers + 1)
    out: Queue[Any] = ctx.Queue()
    users = MEMBERS[:writers]
    procs = [
        ctx.Process(target=_writer, args=(url, mode, u, appends, rid, barrier, out)) for u in users
    ]
    for p in procs:
        p.start()
    try:
        barrier.wait(timeout=300)
        spans = [out.get(timeout=1800) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * writers, [p.exitcode for p in procs]
    _check(url, mode, users, appends, set_up, rid)
    start, end = min(s for _, s, _ in spans), max(e for _, _, e in spans)
    return Outcome(writers * appends / (end - start), [appends / (e - s) for _, s, e in spans])


def _check(
    url: str, mode: str, users: tuple[str, ...], appends: int, set_up: int, rid: str
) -> None:
    """Verifies with no problem; exactly every writer's appends, once each, in order."""
    db = open_ledger_database(url)
    try:
        audit = AuditService(LedgerStore(db))
        report = AuthorityLedger(audit).verify()
        assert report.ok and not report.open_problems, report.describe()
        total = set_up + len(users) * appends
        assert audit.count() == total and report.events_checked == total, audit.count()
        action = LedgerAction.COMMENT_ADDED if mode == SIGNED else LedgerAction.ALIAS_OBSERVED
        for user in users:
            subject = f"request:{rid}" if mode == SIGNED else _observed(user)
            query = LedgerQuery(actor=user, subject=subject, actions=(action.value,))
            mine = audit.page(query, limit=None)
            if mode == SIGNED:
                seen = [e.reason.split(" ", 2)[1] for e in mine]
            else:
                seen = [str(e.before["version"]) for e in mine]  # type: ignore[index, call-overload]
            assert seen == [str(i) for i in range(appends)], f"{user}: appends lost or doubled"
    finally:
        db.dispose()


@contextmanager
def _fresh_url(
    backend: str, tmp: Path, name: str, pg_admin: str, template: str | None
) -> Iterator[str]:
    """A new ledger database: empty, or a copy of ``template``."""
    if backend == "sqlite":
        path = tmp / f"{name}.sqlite3"
        if template is not None:
            shutil.copyfile(template, path)
        yield sqlite_url(path)
        return
    with pg_database(pg_admin, template) as url:
        yield url


@contextmanager
def _history(backend: str, tmp: Path, events: int, pg_admin: str) -> Iterator[str]:
    """A template ledger holding ``events`` events of the realistic mix (a SQLite file's
    path or a PostgreSQL URL), loaded once and copied for each run."""
    with ExitStack() as stack:
        if backend == "sqlite":
            path = tmp / "history.sqlite3"
            url = sqlite_url(path)
        else:
            url = stack.enter_context(pg_database(pg_admin))
        db = open_ledger_database(url)
        try:
            loaded = LedgerStore(db).import_events(stream_ledger(events), expected_head=None)
            assert loaded == events
        finally:
            db.dispose()
        yield str(path) if backend == "sqlite" else url


def main(argv: list[str] | None = None) -> None:
    doc = __doc__ or ""
    parser = argparse.ArgumentParser(prog="bench.bench_claims", description=doc.split("\n")[0])
    parser.add_argument("--writers", type=int, default=4, choices=range(2, len(MEMBERS) + 1))
    parser.add_argument("--appends", type=int, default=200, help="events each writer appends")
    parser.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="events of the realistic mix behind the second set of figures (0: none)",
    )
    parser.add_argument("--runs", type=int, default=3, help="repeat each case, keep the best")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="admin URL of the PostgreSQL server")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    backends = [b for b in BACKENDS if not (b == "postgresql" and args.no_pg)]
    cases = [(PLAIN, 1), (PLAIN, args.writers), (SIGNED, 1), (SIGNED, args.writers)]
    ledgers = ["fresh", "history"] if args.history else ["fresh"]
    best: dict[tuple[str, str, int, str], Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="gavel-bench-claims-") as tmp, ExitStack() as stack:
        templates: dict[tuple[str, str], str | None] = {}
        for backend in backends:
            templates[("fresh", backend)] = None
            if args.history:
                print(f"{backend}: loading a {args.history:,}-event history ...", flush=True)
                templates[("history", backend)] = stack.enter_context(
                    _history(backend, Path(tmp), args.history, args.pg_url)
                )
        for run in range(args.runs):
            for ledger in ledgers:
                for mode, writers in cases:
                    for backend in backends:
                        name = f"{ledger}-{mode}-{writers}-{backend}-{run}"
                        print(f"run {run + 1}/{args.runs}: {name} ...", flush=True)
                        template = templates[(ledger, backend)]
                        with _fresh_url(backend, Path(tmp), name, args.pg_url, template) as url:
                            outcome = _run(
                                url, mode, writers, args.writers, args.appends, ledger == "history"
                            )
                        key = (ledger, mode, writers, backend)
                        if key not in best or outcome.total_eps > best[key].total_eps:
                            best[key] = outcome
    for ledger in ledgers:
        title = (
            "fresh ledger: founder, members, one request"
            if ledger == "fresh"
            else f"after a {args.history:,}-event history (realistic mix)"
        )
        _print(
            title,
            {k[1:]: v for k, v in best.items() if k[0] == ledger},
            backends,
            args.writers,
            args.appends,
        )


def _print(
    title: str,
    best: dict[tuple[str, int, str], Outcome],
    backends: list[str],
    writers: int,
    appends: int,
) -> None:
    def row(label: str, cell: Any) -> None:
        print(f"{label:<60}" + "".join(f"{cell(b):>16}" for b in backends))

    names = {PLAIN: "AuditService.record, unsigned", SIGNED: "AuthorityLedger.write, signed"}
    print()
    print(f"{title}; {appends} appends per writer, best of the runs")
    print(f"{'':<60}" + "".join(f"{b:>16}" for b in backends))
    for mode in (PLAIN, SIGNED):
        for n in (1, writers):
            w = "writer" if n == 1 else "writers"
            row(
                f"{names[mode]}, {n} {w}: events/s total",
                lambda b, k=(mode, n): f"{best[(*k, b)].total_eps:,.0f}",
            )
            if n > 1:
                row(
                    "    per writer: mean (slowest-fastest)",
                    lambda b, k=(mode, n): _spread(best[(*k, b)]),
                )
    s1, sn = (SIGNED, 1), (SIGNED, writers)
    p1, pn = (PLAIN, 1), (PLAIN, writers)

    def ratio(a: tuple[str, int], c: tuple[str, int]) -> Any:
        return lambda b: f"{best[(*a, b)].total_eps / best[(*c, b)].total_eps:.2f}"

    row(f"signed / unsigned, {writers} writers (total events/s)", ratio(sn, pn))
    row("signed / unsigned, 1 writer", ratio(s1, p1))
    row(f"signed: {writers} writers / 1 writer (total events/s)", ratio(sn, s1))
    row(f"unsigned: {writers} writers / 1 writer", ratio(pn, p1))
    print(
        "every run: the ledger verifies (0 problems); event count and each writer's appends exact"
    )


def _spread(o: Outcome) -> str:
    return f"{o.mean:,.0f} ({min(o.per_writer):,.0f}-{max(o.per_writer):,.0f})"


if __name__ == "__main__":
    main()
