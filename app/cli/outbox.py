"""The outbox: decisions signed while the team ledger was out of reach (list, flush)."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import EXIT_FAILED, EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json, table
from app.services.outbox import Fate, OutboxEntry


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    box = sub.add_parser(
        "outbox", help="decisions made while the team ledger was out of reach (list, send)"
    )
    bsub = box.add_subparsers(dest="action", required=True, parser_class=parser_class)
    listing = bsub.add_parser("list", help="every decision kept here: waiting, sent or superseded")
    listing.add_argument("--waiting", action="store_true", help="only those waiting to be sent")
    listing.add_argument("--json", action="store_true")
    flush = bsub.add_parser("flush", help="send the waiting decisions to the team ledger")
    flush.add_argument("--json", action="store_true")


def _entry_json(e: OutboxEntry) -> dict[str, Any]:
    return {
        "id": e.intent_id,
        "action": e.action,
        "request": e.request_id,
        "by": e.actor,
        "made_at": e.made_at,
        "replica_seq": e.replica_seq,
        "reason": e.reason,
        "state": e.fate.value if e.fate else "waiting to be sent",
        "seq": e.seq,
        "why": e.why,
    }


def _state(e: OutboxEntry) -> str:
    if e.fate is None:
        return "waiting to be sent"
    if e.fate is Fate.SUPERSEDED:
        return "superseded"
    return f"recorded (event {e.seq:,})" if e.seq else "recorded"


def _list(ctx: CliContext, args: argparse.Namespace) -> int:
    entries, damaged = ctx.outbox.contents()
    if args.waiting:
        entries = [e for e in entries if e.waiting]
    if args.json:
        print_json([_entry_json(e) for e in entries])
        return EXIT_OK
    if not entries:
        print("The outbox is empty." if not args.waiting else "Nothing waits to be sent.")
        return EXIT_OK
    table(
        [
            [e.made_at.replace("T", " ")[:19], e.actor, e.noun, e.request_id[:12], _state(e), e.why]
            for e in entries
        ],
        ["made (UTC)", "by", "what", "request", "state", "why"],
    )
    if damaged:
        print(f"Lines {', '.join(map(str, damaged))} of the outbox could not be read (kept).")
    return EXIT_OK


def _flush(ctx: CliContext, args: argparse.Namespace) -> int:
    result = ctx.outbox.flush()
    if args.json:
        print_json(
            {
                "sent": [_entry_json(e) for e in result.sent],
                "damaged_lines": list(result.damaged),
                "replica_problem": result.replica,
            }
        )
    else:
        print(result.summary())
        for entry in result.sent:
            print(f"  {entry.sentence()}")
        if result.damaged:
            print(f"Lines {', '.join(map(str, result.damaged))} of the outbox could not be read.")
    return EXIT_FAILED if result.damaged else EXIT_OK


COMMANDS: dict[str, Handler] = {"outbox": by_action({"list": _list, "flush": _flush}, "outbox")}
