"""Command line: the same services as the console, headless. Every listing takes --json.

Exit codes: 0 success, 1 the operation failed, 2 bad usage. Errors are one line on
stderr, never a traceback; secrets come from environment variables, never argv.

One module per area (registries, models, governance, team, endpoints, lineage, reports),
each adding its sub-commands to the parser (`parser`) and exporting `COMMANDS`, its
dispatch table; every command is typed against `context.CliContext`; `output` prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.cli.context import EXIT_FAILED, EXIT_USAGE, Handler
from app.cli.parser import AREAS, build_parser
from app.domain.errors import GavelError, UsageError

__all__ = ["build_parser", "main"]

# Top-level command -> handler; `gui` (and no command) starts the console instead.
_COMMANDS: dict[str, Handler] = {c: h for area in AREAS for c, h in area.COMMANDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = _CONSOLES.get(args.command)
    if console is not None:
        return console(args)
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


def _gui(args: argparse.Namespace) -> int:
    from app.bootstrap import build_context, demo_profile, is_unused
    from app.stores.paths import resolve_paths
    from app.ui.main import run_console

    start_demo = not getattr(args, "no_demo", False)
    smoke = getattr(args, "smoke_test", False)
    paths = resolve_paths()
    if start_demo and is_unused(paths):
        # The first run opens the demo in a profile of its own (its made-up history
        # must never enter this person's record); adding a registry ends that.
        demo = demo_profile(paths)
        return run_console(
            start_demo=True,
            context_factory=lambda: build_context(demo, demo=True),
            paths_factory=lambda: demo,
            smoke_test=smoke,
        )
    return run_console(start_demo=start_demo, context_factory=build_context, smoke_test=smoke)


def _open_bundle(args: argparse.Namespace) -> int:
    """The console on an audit bundle: read-only, offline (see bootstrap.build_session_context)."""
    from app.bootstrap import build_session_context
    from app.ui.main import run_console

    bundle = args.file.resolve()
    return run_console(
        start_demo=False,
        context_factory=lambda: build_session_context(bundle),
        paths_factory=lambda: _session_first_screen(bundle),
    )


# Commands that start the console rather than run headless (no command: the console).
_CONSOLES: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: _gui,
    "gui": _gui,
    "open": _open_bundle,
}


def _session_first_screen(bundle: Path) -> Any:
    """Stage one of an audit session's start: the bundle is not verified yet, so the
    first screen shows nothing of it (the profile's settings, and no cache)."""
    from app.stores.paths import resolve_paths

    paths = resolve_paths()
    return _FirstScreen(
        paths.config_dir, paths.log_dir, paths.log_file, bundle.with_suffix(".none")
    )


@dataclass(frozen=True)
class _FirstScreen:
    config_dir: Path
    log_dir: Path
    log_file: Path
    cache_db: Path
