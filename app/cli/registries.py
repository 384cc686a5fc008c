"""Registry verbs of the command line: add, list, remove, test; and sync."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from app.cli.context import EXIT_FAILED, EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json, table
from app.domain.errors import UsageError
from app.domain.progress import Progress
from app.domain.registry import AuthKind, RegistryConfig


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the registry and sync sub-commands to the top-level subparsers."""
    reg = sub.add_parser("registry", help="configure model registries")
    regsub = reg.add_subparsers(dest="action", required=True, parser_class=parser_class)
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


def _registry_add(ctx: CliContext, args: argparse.Namespace) -> int:
    secret_env = ""
    auth = AuthKind.NONE
    if args.token_env:
        auth, secret_env = AuthKind.BEARER, args.token_env
    elif args.username:
        if not args.password_env:
            raise UsageError("--username needs --password-env VAR (passwords never go in argv).")
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


def _registry_list(ctx: CliContext, args: argparse.Namespace) -> int:
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


def _registry_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.registries.remove(args.name)
    print(f"Removed registry '{args.name}' and its cached data.")
    return EXIT_OK


def _registry_test(ctx: CliContext, args: argparse.Namespace) -> int:
    cfg = ctx.registries.get(args.name)
    report = ctx.registries.test_connection(cfg, None)
    if args.json:
        print_json(report)
    else:
        print(report.message)
    return EXIT_OK if report.reachable and report.auth_ok and report.is_mlflow else EXIT_FAILED


_REGISTRY: dict[str, Handler] = {
    "add": _registry_add,
    "list": _registry_list,
    "remove": _registry_remove,
    "test": _registry_test,
}


def _sync(ctx: CliContext, args: argparse.Namespace) -> int:
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
                    "error": o.message,
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
        print(f"gavel: {o.registry}: {o.message}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {
    "registry": by_action(_REGISTRY, "registry"),
    "sync": _sync,
}
