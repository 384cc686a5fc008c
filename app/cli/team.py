"""Team-mode verbs: join a shared ledger, see where this desktop's ledger lives, pull."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app.cli.output import print_json
from app.domain.errors import UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    team = sub.add_parser("team", help="share one ledger with a team (PostgreSQL)")
    tsub = team.add_subparsers(dest="action", required=True, parser_class=parser_class)
    join = tsub.add_parser("join", help="use a team's shared ledger from this profile")
    join.add_argument("url", help="postgresql+psycopg://host/database (no password in it)")
    join.add_argument("--user", default="", help="the database user")
    join.add_argument("--password-env", metavar="VAR", help="variable holding its password")
    status = tsub.add_parser("status", help="solo or team, and how fresh the replica is")
    status.add_argument("--json", action="store_true")
    tsub.add_parser("pull", help="bring the local replica up to the team ledger")


def run(ctx: Any, args: argparse.Namespace) -> int:
    if args.action == "join":
        from app.services.team_setup import join_team

        password = ""
        if args.password_env:
            password = os.environ.get(args.password_env, "")
            if not password:
                raise UsageError(f"The environment variable {args.password_env} is not set.")
        where = join_team(
            ctx.identity, ctx.credentials, ctx.audit.store, args.url, args.user, password
        )
        print(f"This profile now uses the team ledger at {where}.")
        if password and not ctx.credentials.persistent:
            print(f"Warning: {ctx.credentials.describe()}", file=sys.stderr)
        return EXIT_OK
    status = ctx.team_status()
    if args.action == "status":
        if args.json:
            print_json(status)
        else:
            print(status.describe() + ("" if not status.team else f"; replica {status.as_of()}"))
            if status.problem:
                print(f"gavel: {status.problem}", file=sys.stderr)
        return EXIT_FAILED if status.problem else EXIT_OK
    if ctx.team_ledger is None:
        if status.team:
            print(f"gavel: {status.problem}", file=sys.stderr)
            return EXIT_FAILED
        raise UsageError("This profile keeps a solo ledger; there is nothing to pull.")
    result = ctx.team_ledger.pull()
    head = result.head.seq if result.head else 0
    print(f"Pulled {result.imported} events; the replica is at event {head}.")
    return EXIT_OK
