"""Cache verbs of the command line: the registered models, and a model's versions."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import EXIT_OK, CliContext, Handler, by_action
from app.cli.output import fmt_ms, print_json, table


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the models and versions sub-commands to the top-level subparsers."""
    models = sub.add_parser("models", help="cached registered models")
    msub = models.add_subparsers(dest="action", required=True, parser_class=parser_class)
    ml = msub.add_parser("list")
    ml.add_argument("--registry")
    ml.add_argument("--json", action="store_true")

    versions = sub.add_parser("versions", help="cached model versions")
    vsub = versions.add_subparsers(dest="action", required=True, parser_class=parser_class)
    vl = vsub.add_parser("list")
    vl.add_argument("model")
    vl.add_argument("--registry")
    vl.add_argument("--json", action="store_true")


def _models_list(ctx: CliContext, args: argparse.Namespace) -> int:
    if args.registry:
        ctx.registries.get(args.registry)
    rows = ctx.portfolio.all_rows(args.registry)
    if args.json:
        print_json(
            [
                {
                    "registry": r.registry,
                    "name": r.name,
                    "latest_version": r.latest_version,
                    "aliases": dict(r.aliases),
                    "owner": r.owner,
                    "risk_tier": r.risk_tier,
                    "team": r.team,
                    "versions": r.version_count,
                    "last_updated_timestamp": r.last_updated_timestamp,
                }
                for r in rows
            ]
        )
    elif not rows:
        print("The cache holds no models yet. Run 'gavel sync'.")
    else:
        table(
            [
                (
                    r.name,
                    r.registry,
                    r.latest_version,
                    r.aliases_text,
                    r.owner,
                    r.risk_tier,
                    r.version_count,
                    fmt_ms(r.last_updated_timestamp),
                )
                for r in rows
            ],
            ("MODEL", "REGISTRY", "LATEST", "ALIASES", "OWNER", "RISK", "VERSIONS", "UPDATED"),
        )
    return EXIT_OK


def _versions_list(ctx: CliContext, args: argparse.Namespace) -> int:
    detail = ctx.portfolio.find_model(args.model, args.registry)
    if args.json:
        print_json(
            [
                {
                    "registry": detail.registry,
                    "model": detail.name,
                    "version": v.version,
                    "status": v.status,
                    "stage": v.current_stage,
                    "aliases": list(v.aliases),
                    "user_id": v.user_id,
                    "run_id": v.run_id,
                    "source": v.source,
                    "creation_timestamp": v.creation_timestamp,
                    "tags": dict(v.tags),
                }
                for v in detail.versions
            ]
        )
    else:
        table(
            [
                (
                    v.version,
                    v.status,
                    ", ".join(v.aliases),
                    v.user_id,
                    v.run_id,
                    fmt_ms(v.creation_timestamp),
                )
                for v in detail.versions
            ],
            ("VERSION", "STATUS", "ALIASES", "CREATOR", "RUN", "CREATED"),
        )
    return EXIT_OK


_MODELS: dict[str, Handler] = {"list": _models_list}
_VERSIONS: dict[str, Handler] = {"list": _versions_list}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {
    "models": by_action(_MODELS, "models"),
    "versions": by_action(_VERSIONS, "versions"),
}
