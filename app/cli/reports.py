"""`gavel report ACTION`: summaries for managers, read from the cache and the ledger
(so offline too). Each action registers its own parser and handler below.

`report overview [--json]`: the portfolio at a glance. `report delivery [--team T]
[--from DATE --to DATE] [--json]`: delivery metrics (lead time, approval cycle,
promotion frequency, rollback and change-failure rates, time to restore; see the
README's "Delivery metrics"). `report promotions --from DAY --to DAY [--json]`: every
promotion applied, request rejected and violation recorded in a period.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.context import EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json, table
from app.domain.delivery_tables import parse_period, tables, to_json
from app.domain.overview import Figure, Overview
from app.services.period_report import parse_day, promotions_report


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the report sub-command and its actions to the top-level subparsers."""
    report = sub.add_parser(
        "report", help="summaries for managers and auditors: overview, delivery, promotions"
    )
    rsub = report.add_subparsers(dest="action", required=True, parser_class=parser_class)
    _register_overview(rsub)
    _register_delivery(rsub)
    _register_promotions(rsub)


# ------------------------------------------------------------------------ overview


def _register_overview(rsub: Any) -> None:
    p = rsub.add_parser(
        "overview", help="the portfolio at a glance: tiers, production, waiting, due, problems"
    )
    p.add_argument("--json", action="store_true", help="every figure with the list behind it")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the figures as CSV")
    p.add_argument(
        "--portfolio-csv", type=Path, metavar="FILE", help="also write every model as CSV"
    )


def overview_json(o: Overview) -> dict[str, Any]:
    def figure(f: Figure) -> dict[str, Any]:
        d = f.drill
        return {
            "key": f.key,
            "section": f.section,
            "label": f.label,
            "value": f.value,
            "detail": f.detail,
            "alarm": f.alarm,
            "list": {
                "page": d.page.value,
                "title": d.title,
                "models": [{"registry": r, "model": m} for r, m in d.models],
                "requests": list(d.requests),
                "endpoints": list(d.endpoints),
            },
        }

    return {
        "as_of": o.as_of,
        "figures": [figure(f) for f in o.figures],
        "teams": [
            {
                "registry": t.registry,
                "team": t.team,
                "models": t.models,
                "production_by_alias": t.by_alias,
                "production_by_stage": t.by_stage,
            }
            for t in o.teams
        ],
    }


def _overview(ctx: CliContext, args: argparse.Namespace) -> int:
    for path, export in (
        (args.csv, ctx.overview.export_overview_csv),
        (args.portfolio_csv, ctx.overview.export_portfolio_csv),
    ):
        if path is not None:
            written = export(path)
            print(f"Wrote {written}.", file=sys.stderr)
    o = ctx.overview.overview()
    if args.json:
        print_json(overview_json(o))
        return EXIT_OK
    if not o.models:
        print("The cache holds no model yet: add a registry and run 'gavel sync'.")
    for section, figures in o.sections():
        print(section)
        for f in figures:
            mark = "!" if f.alarm else " "
            detail = f"  ({f.detail})" if f.detail else ""
            print(f" {mark} {f.value:>5}  {f.label}{detail}")
    if o.teams:
        print("By registry and team (models; in production by alias, by stage)")
        for t in o.teams:
            print(
                f"   {t.registry:<12} {t.team:<20} {t.models:>5}  {t.by_alias:>4}  {t.by_stage:>4}"
            )
    return EXIT_OK


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


_REPORT: dict[str, Handler] = {
    "overview": _overview,
    "delivery": _delivery,
    "promotions": _promotions,
}


# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"report": by_action(_REPORT, "report")}
