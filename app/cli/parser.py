"""The `gavel` argument parser: each area module adds its own sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, Protocol

from app import __version__
from app.cli import (
    bundles,
    endpoints,
    evidence,
    governance,
    lineage,
    models,
    outbox,
    registries,
    reports,
    team,
)
from app.cli.context import EXIT_USAGE, Handler


class Area(Protocol):
    """An area module: it adds its sub-commands and dispatches them (`COMMANDS`)."""

    @property
    def COMMANDS(self) -> Mapping[str, Handler]: ...  # a module constant, read-only here

    def register(self, sub: Any, parser_class: type[argparse.ArgumentParser]) -> None: ...


# In the order `gavel --help` lists their commands.
AREAS: tuple[Area, ...] = (
    registries,
    models,
    governance,
    outbox,
    team,
    endpoints,
    lineage,
    bundles,
    evidence,
    reports,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"gavel: {message} (see 'gavel --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gavel", description="Governance console for machine-learning models.")
    p.add_argument("--version", action="version", version=f"gavel {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    for area in AREAS:
        area.register(sub, _Parser)
    gui = sub.add_parser("gui", help="open the console (the default)")
    gui.add_argument("--no-demo", action="store_true", help="do not start the demo registry")
    gui.add_argument("--smoke-test", action="store_true", help=argparse.SUPPRESS)
    return p
