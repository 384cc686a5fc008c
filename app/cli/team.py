"""Team-mode verbs: join a shared ledger, see where this desktop's ledger lives, pull."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app.cli.context import EXIT_FAILED, EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json
from app.domain.errors import UsageError


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


def _team_join(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.services.team_setup import join_team

    password = ""
    if args.password_env:
        password = os.environ.get(args.password_env, "")
        if not password:
            raise UsageError(f"The environment variable {args.password_env} is not set.")
    where = join_team(ctx.identity, ctx.credentials, ctx.audit.store, args.url, args.user, password)
    print(f"This profile now uses the team ledger at {where}.")
    if password and not ctx.credentials.persistent:
        print(f"Warning: {ctx.credentials.describe()}", file=sys.stderr)
    return EXIT_OK


def _team_status(ctx: CliContext, args: argparse.Namespace) -> int:
    status = ctx.team_status()
    if args.json:
        print_json(status)
    else:
        print(status.describe() + ("" if not status.team else f"; replica {status.as_of()}"))
        if status.problem:
            print(f"gavel: {status.problem}", file=sys.stderr)
    return EXIT_FAILED if status.problem else EXIT_OK


def _team_pull(ctx: CliContext, args: argparse.Namespace) -> int:
    status = ctx.team_status()
    if ctx.team_ledger is None:
        if status.team:
            print(f"gavel: {status.problem}", file=sys.stderr)
            return EXIT_FAILED
        raise UsageError("This profile keeps a solo ledger; there is nothing to pull.")
    result = ctx.team_ledger.pull()
    head = result.head.seq if result.head else 0
    print(f"Pulled {result.imported} events; the replica is at event {head}.")
    return EXIT_OK


_TEAM: dict[str, Handler] = {"join": _team_join, "status": _team_status, "pull": _team_pull}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"team": by_action(_TEAM, "team")}
