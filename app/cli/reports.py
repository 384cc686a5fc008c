"""`gavel report ACTION`: reports over the ledger and the cache.

`report delivery [--team T] [--from DATE --to DATE] [--json]`: delivery metrics (lead
time, approval cycle, promotion frequency, rollback and change-failure rates, time to
restore; see the README's "Delivery metrics"). Each action keeps to its own functions.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json, table
from app.domain.delivery_tables import parse_period, tables, to_json


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add `report` and its actions to the top-level subparsers."""
    p = sub.add_parser("report", help="reports over the ledger and the cache")
    rsub = p.add_subparsers(dest="action", required=True, parser_class=parser_class)
    _register_delivery(rsub)


# ------------------------------------------------------------------------- delivery


def _register_delivery(rsub: Any) -> None:
    d = rsub.add_parser(
        "delivery",
        help="delivery metrics: lead time, approval cycle, promotion frequency, rollback "
        "and change-failure rates, time to restore",
    )
    d.add_argument("--team", help="only models whose team tag is this (any case)")
    d.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="from this UTC day (YYYY-MM-DD) or time (ISO with an offset)",
    )
    d.add_argument(
        "--to",
        dest="end",
        metavar="DATE",
        help="to this UTC day, included (YYYY-MM-DD), or time, excluded",
    )
    d.add_argument("--json", action="store_true", help="the report as JSON")


def _delivery(ctx: CliContext, args: argparse.Namespace) -> int:
    flt = parse_period(args.start, args.end, args.team)
    report = ctx.delivery.report(flt)
    if args.json:
        print_json(to_json(report))
        return EXIT_OK
    if report.empty:
        who = f" for team {flt.team}" if flt.team else ""
        print(f"No promotions, requests or incidents on the ledger{who} in this period.")
        return EXIT_OK
    for n, t in enumerate(tables(report)):
        if n:
            print()
        print(f"{t.title} — {t.caption}")
        if t.rows:
            table(t.rows, t.header)
        else:
            print("  (none)")
    if report.unknown_lead_time:
        print(
            f"\n{report.unknown_lead_time} promotion(s) have no lead time: the version's "
            "registration time is not known (no request recorded it, and the cache does not "
            "hold the version). Sync the registry to fill it in."
        )
    return EXIT_OK


_REPORT: dict[str, Handler] = {"delivery": _delivery}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"report": by_action(_REPORT, "report")}
