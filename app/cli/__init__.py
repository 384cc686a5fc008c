"""Command line: the same services as the console, headless. Every listing takes --json.

Exit codes: 0 success, 1 the operation failed, 2 bad usage. Errors are one line on
stderr, never a traceback; secrets come from environment variables, never argv.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from app import __version__
from app.cli import endpoints as cli_endpoints
from app.cli import governance as cli_governance
from app.cli import lineage as cli_lineage
from app.cli import team as cli_team
from app.cli.output import fmt_ms, print_json, table
from app.domain.errors import GavelError, UsageError
from app.domain.progress import Progress
from app.domain.registry import AuthKind, RegistryConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"gavel: {message} (see 'gavel --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gavel", description="Governance console for machine-learning models.")
    p.add_argument("--version", action="version", version=f"gavel {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    reg = sub.add_parser("registry", help="configure model registries")
    regsub = reg.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = regsub.add_parser("add", help="add an MLflow registry")
    add.add_argument("name")
    add.add_argument("--url", required=True)
    auth = add.add_mutually_exclusive_group()
    auth.add_argument("--token-env", metavar="VAR", help="environment variable holding a token")
    auth.add_argument("--username", help="user for HTTP basic authentication")
    add.add_argument("--password-env", metavar="VAR", help="environment variable with the password")
    add.add_argument(
        "--store-secret",
        action="store_true",
        help="copy the secret from the variable into the keyring instead of reading it each time",
    )
    add.add_argument("--ca-bundle", default="")
    add.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    add.add_argument("--timeout", type=float, default=RegistryConfig.timeout_s)
    lst = regsub.add_parser("list", help="list configured registries")
    lst.add_argument("--json", action="store_true")
    rm = regsub.add_parser("remove", help="forget a registry and its cached data")
    rm.add_argument("name")
    test = regsub.add_parser("test", help="test the connection to a registry")
    test.add_argument("name")
    test.add_argument("--json", action="store_true")

    sync = sub.add_parser("sync", help="mirror registries into the local cache")
    sync.add_argument("name", nargs="?")
    sync.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="cached registered models")
    msub = models.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ml = msub.add_parser("list")
    ml.add_argument("--registry")
    ml.add_argument("--json", action="store_true")

    versions = sub.add_parser("versions", help="cached model versions")
    vsub = versions.add_subparsers(dest="action", required=True, parser_class=_Parser)
    vl = vsub.add_parser("list")
    vl.add_argument("model")
    vl.add_argument("--registry")
    vl.add_argument("--json", action="store_true")

    cli_governance.register(sub, _Parser)

    cli_team.register(sub, _Parser)

    cli_endpoints.register(sub, _Parser)

    cli_lineage.register(sub, _Parser)

    gui = sub.add_parser("gui", help="open the console (the default)")
    gui.add_argument("--no-demo", action="store_true", help="do not start the demo registry")
    gui.add_argument("--smoke-test", action="store_true", help=argparse.SUPPRESS)
    return p


def _cmd_registry(ctx: Any, args: argparse.Namespace) -> int:
    if args.action == "add":
        secret_env = ""
        auth = AuthKind.NONE
        if args.token_env:
            auth, secret_env = AuthKind.BEARER, args.token_env
        elif args.username:
            if not args.password_env:
                raise UsageError(
                    "--username needs --password-env VAR (passwords never go in argv)."
                )
            auth, secret_env = AuthKind.BASIC, args.password_env
        elif args.password_env:
            raise UsageError("--password-env needs --username.")
        secret = None
        if secret_env:
            secret = os.environ.get(secret_env)
            if not secret:
                raise UsageError(f"The environment variable {secret_env} is not set or empty.")
        wants_stored = args.store_secret and bool(secret_env)
        # Kept for this session only, the secret would be gone when this command exits;
        # then the registry keeps reading the variable instead.
        store_secret = wants_stored and ctx.registries.secrets_persistent
        cfg = RegistryConfig(
            name=args.name,
            url=args.url,
            auth=auth,
            username=args.username or "",
            secret_env="" if store_secret else secret_env,
            verify_tls=not args.insecure,
            ca_bundle=args.ca_bundle,
            timeout_s=args.timeout,
        )
        ctx.registries.add(cfg, secret if store_secret else None)
        if wants_stored and not store_secret:
            print(
                f"Warning: {ctx.registries.secrets_description()} "
                f"'{cfg.name}' keeps reading {secret_env} at every sync.",
                file=sys.stderr,
            )
        print(f"Added registry '{cfg.name}' ({cfg.url}). Run 'gavel sync {cfg.name}' to fetch it.")
        return EXIT_OK
    if args.action == "list":
        statuses = ctx.registries.statuses()
        configs = {c.name: c for c in ctx.registries.configs()}
        if args.json:
            print_json(
                [
                    {
                        "name": s.name,
                        "url": s.url,
                        "auth": configs[s.name].auth.value,
                        "is_demo": s.is_demo,
                        "last_synced_at": s.last_synced_at,
                        "last_error": s.last_error,
                        "models": s.model_count,
                    }
                    for s in statuses
                ]
            )
        elif not statuses:
            print("No registries configured. Add one with 'gavel registry add NAME --url URL'.")
        else:
            table(
                [
                    (
                        s.name,
                        s.url,
                        configs[s.name].auth.value,
                        s.model_count,
                        s.last_synced_at.astimezone().strftime("%Y-%m-%d %H:%M")
                        if s.last_synced_at
                        else "never",
                        s.last_error,
                    )
                    for s in statuses
                ],
                ("NAME", "URL", "AUTH", "MODELS", "SYNCED", "LAST ERROR"),
            )
        return EXIT_OK
    if args.action == "remove":
        ctx.registries.remove(args.name)
        print(f"Removed registry '{args.name}' and its cached data.")
        return EXIT_OK
    if args.action == "test":
        cfg = ctx.registries.get(args.name)
        report = ctx.registries.test_connection(cfg, None)
        if args.json:
            print_json(report)
        else:
            print(report.message)
        return EXIT_OK if report.reachable and report.auth_ok and report.is_mlflow else EXIT_FAILED
    raise UsageError(f"Unknown registry action {args.action}.")


def _cmd_sync(ctx: Any, args: argparse.Namespace) -> int:
    interactive = sys.stderr.isatty() and not args.json

    def progress(p: Progress) -> None:
        if interactive:
            print(f"\r{p.describe():<70}", end="", file=sys.stderr, flush=True)

    if args.name:
        ctx.registries.get(args.name)  # clear usage error for an unknown name
    names = [args.name] if args.name else None
    if not ctx.registries.configs():
        raise UsageError("No registries configured. Add one with 'gavel registry add'.")
    outcomes = ctx.sync.sync_all(names, progress)
    if interactive:
        print(file=sys.stderr)
    if args.json:
        print_json(
            [
                {
                    "registry": o.registry,
                    "ok": o.result is not None,
                    "error": o.error,
                    "result": o.result,
                }
                for o in outcomes
            ]
        )
    else:
        for o in outcomes:
            if o.result:
                r = o.result
                print(
                    f"{o.registry}: {r.models} models, {r.versions} versions, "
                    f"{r.runs_fetched} runs fetched ({r.runs_reused} unchanged) "
                    f"in {r.duration_s:.1f}s"
                )
    failed = [o for o in outcomes if o.result is None]
    for o in failed:
        print(f"gavel: {o.registry}: {o.error}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_models(ctx: Any, args: argparse.Namespace) -> int:
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


def _cmd_versions(ctx: Any, args: argparse.Namespace) -> int:
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


_COMMANDS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "registry": _cmd_registry,
    "sync": _cmd_sync,
    "models": _cmd_models,
    "versions": _cmd_versions,
    "endpoint": cli_endpoints.run,
    "lineage": cli_lineage.run,
    **cli_governance.COMMANDS,
    "team": cli_team.run,
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
