"""`gavel lineage MODEL VERSION`: where a version came from and where it went, offline."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import EXIT_OK, CliContext, Handler
from app.cli.output import print_json
from app.domain.errors import UsageError
from app.domain.lineage import NodeKind, tree_lines


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the lineage sub-command to the top-level subparsers."""
    p = sub.add_parser(
        "lineage",
        help="where a version came from and what serves it (datasets, run, aliases, endpoints)",
    )
    p.add_argument("model")
    p.add_argument("version", type=int)
    p.add_argument("--registry")
    p.add_argument(
        "--related",
        action="store_true",
        help="also list the other versions trained or evaluated on the same datasets",
    )
    p.add_argument("--json", action="store_true", help="nodes and edges as JSON")


def _lineage(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.version < 1:
        raise UsageError("A version number starts at 1.")
    registry = ctx.lineage.resolve_registry(args.model, args.registry)
    graph = ctx.lineage.lineage(registry, args.model, args.version)
    if args.related:
        for node in graph.of_kind(NodeKind.DATASET):
            if node.digest:
                graph = ctx.lineage.expand_dataset(graph, node.id)
    if args.json:
        print_json(
            {"registry": registry, "model": args.model, "version": args.version, **graph.to_json()}
        )
    else:
        print("\n".join(tree_lines(graph)))
    return EXIT_OK


# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"lineage": _lineage}
