"""Command line: the same services as the console, headless. Every listing takes --json.

Exit codes: 0 success, 1 the operation failed, 2 bad usage. Errors are one line on
stderr, never a traceback; secrets come from environment variables, never argv.

One module per area (registries, models, governance, team, endpoints, lineage), each
adding its sub-commands to the parser (`parser`) and exporting `COMMANDS`, its dispatch
table; every command is typed against `context.CliContext`; `output` prints.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from app.cli import (
    endpoints,
    evidence,
    governance,
    lineage,
    models,
    registries,
    reports,
    team,
)
from app.cli.context import EXIT_FAILED, EXIT_USAGE, Handler
from app.cli.parser import build_parser
from app.domain.errors import GavelError, UsageError

__all__ = ["build_parser", "main"]

# Top-level command -> handler; `gui` (and no command) starts the console instead.
_COMMANDS: dict[str, Handler] = {
    **registries.COMMANDS,
    **models.COMMANDS,
    **endpoints.COMMANDS,
    **lineage.COMMANDS,
    **governance.COMMANDS,
    **team.COMMANDS,
    **evidence.COMMANDS,
    **reports.COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in (None, "gui"):
        from app.bootstrap import build_context
        from app.ui.main import run_console

        return run_console(
            start_demo=not getattr(args, "no_demo", False),
            context_factory=build_context,
            smoke_test=getattr(args, "smoke_test", False),
        )
    from app.bootstrap import build_context

    try:
        ctx = build_context()
    except GavelError as exc:
        print(f"gavel: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    try:
        return _COMMANDS[args.command](ctx, args)
    except UsageError as exc:
        print(f"gavel: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except GavelError as exc:
        print(f"gavel: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("gavel: interrupted; the cache keeps its previous snapshot.", file=sys.stderr)
        return EXIT_FAILED
    finally:
        ctx.close()
