"""`gavel report ACTION`: reports over the whole portfolio, one action each.

Each action keeps to its own functions (register + handler) and its entry in
`_REPORTS`, so reports are added side by side.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json, table
from app.services.period_report import parse_day, promotions_report


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the report sub-command and its actions to the top-level subparsers."""
    rep = sub.add_parser("report", help="reports over the portfolio and its governance")
    rsub = rep.add_subparsers(dest="action", required=True, parser_class=parser_class)
    _register_promotions(rsub)


# ------------------------------------------------------------------ promotions


def _register_promotions(rsub: Any) -> None:
    p = rsub.add_parser(
        "promotions",
        help="every promotion applied, request rejected and violation recorded in a period",
    )
    p.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--json", action="store_true")


def _promotions(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.governance.require_no_problems()
    report = promotions_report(
        ctx.governance,
        ctx.observer,
        parse_day(args.start, "--from"),
        parse_day(args.end, "--to"),
    )
    if args.json:
        print_json(report.to_json())
        return EXIT_OK
    counts = {k: len(report.of_kind(k)) for k in ("promotion", "rejection", "violation")}
    print(
        f"{report.start} to {report.end} (UTC): {counts['promotion']} promotion(s) applied, "
        f"{counts['rejection']} rejection(s), {counts['violation']} violation(s)."
    )
    sections = (
        ("promotion", "Promotions applied", "Requested by"),
        ("rejection", "Rejections", "Rejected by"),
        ("violation", "Violations", "Seen by"),
    )
    for kind, title, who in sections:
        rows = [
            (
                e.at.strftime("%Y-%m-%d %H:%M UTC"),
                e.registry,
                e.model,
                "" if e.version is None else f"v{e.version}",
                e.target,
                e.request_id,
                e.by,
                e.seq,
                e.detail,
            )
            for e in report.of_kind(kind)
        ]
        if rows:
            print(f"\n{title}")
            table(
                rows,
                (
                    "Time",
                    "Registry",
                    "Model",
                    "Version",
                    "Target",
                    "Request",
                    who,
                    "Event",
                    "Detail",
                ),
            )
    return EXIT_OK


_REPORTS: dict[str, Handler] = {"promotions": _promotions}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"report": by_action(_REPORTS, "report")}
