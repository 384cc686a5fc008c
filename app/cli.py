"""Command line: the same services as the console, headless. Every listing takes --json.

Exit codes: 0 success, 1 the operation failed, 2 bad usage. Errors are one line on
stderr, never a traceback; secrets come from environment variables, never argv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app import __version__, cli_governance, cli_lineage
from app.domain.endpoints import EndpointConfig, EndpointKind, parse_model_ref, parse_version_map
from app.domain.errors import GavelError, UsageError
from app.domain.progress import Progress
from app.domain.registry import AuthKind, RegistryConfig
from app.domain.serving import ServingState
from app.services.endpoint_poller import ProbeFailure
from app.services.endpoints import EndpointStatus, ProbeOutcome

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

    _add_endpoint_parser(sub)

    cli_lineage.register(sub, _Parser)

    gui = sub.add_parser("gui", help="open the console (the default)")
    gui.add_argument("--no-demo", action="store_true", help="do not start the demo registry")
    gui.add_argument("--smoke-test", action="store_true", help=argparse.SUPPRESS)
    return p


def _add_endpoint_parser(sub: Any) -> None:
    ep = sub.add_parser("endpoint", help="serving endpoints and the versions they serve")
    esub = ep.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = esub.add_parser("add", help="add a serving endpoint bound to a model alias")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=[k.value for k in EndpointKind])
    add.add_argument("--url", required=True)
    add.add_argument("--model", required=True, metavar="REGISTRY/MODEL")
    add.add_argument("--alias", required=True, help="the alias naming the approved version")
    edit = esub.add_parser("edit", help="change a serving endpoint")
    edit.add_argument("name")
    edit.add_argument("--rename", metavar="NEW_NAME")
    edit.add_argument("--kind", choices=[k.value for k in EndpointKind])
    edit.add_argument("--url")
    edit.add_argument("--model", metavar="REGISTRY/MODEL")
    edit.add_argument("--alias")
    for p in (add, edit):
        p.add_argument("--metrics-url", help="Prometheus metrics URL of the server")
        p.add_argument("--served-name", help="the model's name on the server")
        p.add_argument(
            "--served-model",
            metavar="URI|RUN_ID|MODEL_ID",
            help="what a server that does not report versions was deployed from",
        )
        p.add_argument(
            "--served-version-map",
            action="append",
            metavar="LABEL=VERSION",
            help="map a reported label or deployed identifier to a registry version "
            "(repeat, or separate with commas)",
        )
        p.add_argument("--interval", type=float, metavar="SECONDS", help="polling interval")
        p.add_argument("--timeout", type=float, metavar="SECONDS", help="probe timeout")
        p.add_argument("--infer-request", metavar="JSON|@FILE", help="OIP infer body to send")
        p.add_argument("--token-env", metavar="VAR", help="variable holding a bearer token")
    lst = esub.add_parser("list", help="list endpoints with their last observed state")
    lst.add_argument("--json", action="store_true")
    probe = esub.add_parser("probe", help="probe endpoints now (all, or one)")
    probe.add_argument("name", nargs="?")
    probe.add_argument("--json", action="store_true")
    rm = esub.add_parser("remove", help="forget an endpoint and its sampled history")
    rm.add_argument("name")
    samples = esub.add_parser("samples", help="an endpoint's sampled history, from the cache")
    samples.add_argument("name")
    samples.add_argument("--hours", type=float, default=24.0)
    samples.add_argument("--points", type=int, default=200)
    samples.add_argument("--json", action="store_true")
    interval = esub.add_parser("interval", help="set the global polling interval")
    interval.add_argument("seconds", type=float)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, tuple | set | frozenset):
        return list(obj)
    raise TypeError(type(obj).__name__)


def _print_json(data: Any) -> None:
    print(json.dumps(data, default=_json_default, indent=2, ensure_ascii=False, sort_keys=True))


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> None:
    cells = [[str(c) for c in header], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _fmt_ms(ts: int | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


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
        cfg = RegistryConfig(
            name=args.name,
            url=args.url,
            auth=auth,
            username=args.username or "",
            secret_env="" if args.store_secret else secret_env,
            verify_tls=not args.insecure,
            ca_bundle=args.ca_bundle,
            timeout_s=args.timeout,
        )
        ctx.registries.add(cfg, secret if args.store_secret else None)
        print(f"Added registry '{cfg.name}' ({cfg.url}). Run 'gavel sync {cfg.name}' to fetch it.")
        return EXIT_OK
    if args.action == "list":
        statuses = ctx.registries.statuses()
        configs = {c.name: c for c in ctx.registries.configs()}
        if args.json:
            _print_json(
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
            _table(
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
            _print_json(report)
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
        _print_json(
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
        _print_json(
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
        _table(
            [
                (
                    r.name,
                    r.registry,
                    r.latest_version,
                    r.aliases_text,
                    r.owner,
                    r.risk_tier,
                    r.version_count,
                    _fmt_ms(r.last_updated_timestamp),
                )
                for r in rows
            ],
            ("MODEL", "REGISTRY", "LATEST", "ALIASES", "OWNER", "RISK", "VERSIONS", "UPDATED"),
        )
    return EXIT_OK


def _cmd_versions(ctx: Any, args: argparse.Namespace) -> int:
    detail = ctx.portfolio.find_model(args.model, args.registry)
    if args.json:
        _print_json(
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
        _table(
            [
                (
                    v.version,
                    v.status,
                    ", ".join(v.aliases),
                    v.user_id,
                    v.run_id,
                    _fmt_ms(v.creation_timestamp),
                )
                for v in detail.versions
            ],
            ("VERSION", "STATUS", "ALIASES", "CREATOR", "RUN", "CREATED"),
        )
    return EXIT_OK


def _cmd_lineage(ctx: Any, args: argparse.Namespace) -> int:
    return cli_lineage.run(ctx, args, _print_json)


def _cmd_governance(ctx: Any, args: argparse.Namespace) -> int:
    return cli_governance.run(ctx, args, _print_json, _table)


def _infer_request(value: str | None) -> str | None:
    if value is None or not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"Cannot read the infer request file {value[1:]}: {exc.strerror}."
        ) from None


def _endpoint_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The EndpointConfig fields the add/edit options set."""
    changes: dict[str, Any] = {}
    if getattr(args, "kind", None):
        changes["kind"] = EndpointKind(args.kind)
    if getattr(args, "model", None):
        changes["registry"], changes["model"] = parse_model_ref(args.model)
    for option, field_name in (
        ("url", "url"),
        ("alias", "alias"),
        ("metrics_url", "metrics_url"),
        ("served_name", "served_name"),
        ("served_model", "served_model"),
        ("interval", "interval_s"),
        ("timeout", "timeout_s"),
        ("token_env", "token_env"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            changes[field_name] = value
    if args.served_version_map:
        changes["version_map"] = parse_version_map(args.served_version_map)
    infer = _infer_request(args.infer_request)
    if infer is not None:
        if infer:
            try:
                json.loads(infer)
            except ValueError:
                raise UsageError("--infer-request is not valid JSON.") from None
        changes["infer_request"] = infer
    return changes


def _serving_json(
    state: str, reason: str, served: Sequence[int], label: str, expected: int | None
) -> dict[str, Any]:
    return {
        "state": state,
        "reason": reason,
        "served_versions": list(served),
        "served_version": served[0] if len(served) == 1 else None,
        "served_label": label,
        "expected_version": expected,
    }


def _outcome_json(o: ProbeOutcome | ProbeFailure) -> dict[str, Any]:
    if isinstance(o, ProbeFailure):
        return {"endpoint": o.endpoint, "ok": False, "error": o.message}
    obs, sv = o.observation, o.serving
    return {
        "endpoint": o.config.name,
        "ok": True,
        "at": obs.at,
        "health": obs.health.value,
        "up": obs.up,
        "reason": obs.reason,
        "probe_s": round(obs.probe_s, 4),
        "server": obs.server,
        "platform": obs.platform,
        "reported_versions": list(obs.reported_versions),
        "metrics": {"state": obs.metrics.value, "reason": obs.metrics_reason},
        "stats": o.stats,
        "serving": _serving_json(
            sv.state.value, sv.reason, sv.served_versions, sv.served_label, sv.expected_version
        ),
        "drift_recorded": o.drift_recorded,
    }


def _cmd_endpoint(ctx: Any, args: argparse.Namespace) -> int:
    svc = ctx.endpoints
    if args.action == "add":
        changes = _endpoint_changes(args)
        cfg = EndpointConfig(name=args.name, **changes)
        svc.add(cfg)
        print(
            f"Added endpoint '{cfg.name}' ({cfg.kind.value}, {cfg.url}) for "
            f"{cfg.registry}/{cfg.model}@{cfg.alias}. Run 'gavel endpoint probe {cfg.name}'."
        )
        return EXIT_OK
    if args.action == "edit":
        old = svc.get(args.name)
        changes = _endpoint_changes(args)
        if args.rename:
            changes["name"] = args.rename
        if not changes:
            raise UsageError("Nothing to change: give at least one option (see --help).")
        cfg = replace(old, **changes)
        svc.update(old.name, cfg)
        print(f"Updated endpoint '{cfg.name}'.")
        return EXIT_OK
    if args.action == "remove":
        svc.get(args.name)
        svc.remove(args.name)
        print(f"Removed endpoint '{args.name}' and its sampled history.")
        return EXIT_OK
    if args.action == "interval":
        svc.set_poll_interval_s(args.seconds)
        print(f"Endpoints without their own interval are now polled every {args.seconds:g} s.")
        return EXIT_OK
    if args.action == "list":
        return _endpoint_list(svc.statuses(), svc.poll_interval_s(), args.json)
    if args.action == "probe":
        return _endpoint_probe(ctx, args)
    if args.action == "samples":
        return _endpoint_samples(svc, args)
    raise UsageError(f"Unknown endpoint action {args.action}.")


def _endpoint_list(statuses: list[EndpointStatus], default_interval: float, as_json: bool) -> int:
    if as_json:
        _print_json(
            [
                {
                    "name": st.config.name,
                    "kind": st.config.kind.value,
                    "url": st.config.url,
                    "metrics_url": st.config.metrics_url,
                    "model": f"{st.config.registry}/{st.config.model}",
                    "alias": st.config.alias,
                    "served_name": st.config.model_on_server,
                    "served_model": st.config.served_model,
                    "version_map": dict(st.config.version_map),
                    "interval_s": st.config.interval_s or default_interval,
                    "timeout_s": st.config.timeout_s,
                    "last_probe_at": st.record.last_probe_at,
                    "health": st.record.health.value if st.record.health else None,
                    "health_reason": st.record.health_reason,
                    "server": st.record.server,
                    "serving": _serving_json(
                        st.record.serving_state or "unknown",
                        st.record.serving_reason,
                        st.record.served_versions,
                        st.record.served_label,
                        st.record.expected_version,
                    ),
                }
                for st in statuses
            ]
        )
    elif not statuses:
        print("No endpoints configured. Add one with 'gavel endpoint add NAME --kind oip ...'.")
    else:
        _table(
            [
                (
                    st.config.name,
                    st.config.kind.value,
                    f"{st.config.registry}/{st.config.model}@{st.config.alias}",
                    st.record.health.value if st.record.health else "never probed",
                    st.record.serving_state or "",
                    ",".join(str(v) for v in st.record.served_versions),
                    "" if st.record.expected_version is None else st.record.expected_version,
                    st.config.url,
                )
                for st in statuses
            ],
            ("NAME", "KIND", "MODEL@ALIAS", "HEALTH", "SERVING", "SERVED", "EXPECTED", "URL"),
        )
    return EXIT_OK


def _endpoint_probe(ctx: Any, args: argparse.Namespace) -> int:
    if args.name:
        ctx.endpoints.get(args.name)
    if not ctx.endpoints.configs():
        raise UsageError("No endpoints configured. Add one with 'gavel endpoint add'.")
    interactive = sys.stderr.isatty() and not args.json

    def progress(p: Progress) -> None:
        if interactive:
            print(f"\r{p.describe():<70}", end="", file=sys.stderr, flush=True)

    names = [args.name] if args.name else None
    outcomes = ctx.endpoint_poller.probe_all(progress, names=names)
    if interactive:
        print(file=sys.stderr)
    if args.json:
        _print_json([_outcome_json(o) for o in outcomes])
    else:
        for o in outcomes:
            if isinstance(o, ProbeFailure):
                print(f"{o.endpoint}: probe failed: {o.message}")
                continue
            print(f"{o.config.name}: {o.observation.health.value}: {o.observation.reason}")
            if o.observation.metrics_reason:
                print(f"  metrics: {o.observation.metrics_reason}")
            if o.stats is not None:
                st = o.stats
                p95 = "" if st.p95_s is None else f", p95 {st.p95_s * 1000:.1f} ms"
                print(f"  {st.request_rate:.2f} req/s{p95}")
            print(f"  serving: {o.serving.state.value}: {o.serving.reason}")
    bad = [
        o
        for o in outcomes
        if isinstance(o, ProbeFailure)
        or not o.observation.up
        or o.serving.state is ServingState.DRIFT
    ]
    return EXIT_FAILED if bad else EXIT_OK


def _endpoint_samples(svc: Any, args: argparse.Namespace) -> int:
    svc.get(args.name)
    if args.points < 1 or args.hours <= 0:
        raise UsageError("--points and --hours must be positive.")
    until = datetime.now(UTC)
    points = svc.series(args.name, until - timedelta(hours=args.hours), until, args.points)
    if args.json:
        _print_json(points)
    else:
        _table(
            [
                (
                    datetime.fromtimestamp(p.at_ms / 1000)
                    .astimezone()
                    .strftime("%Y-%m-%d %H:%M:%S"),
                    p.samples,
                    f"{p.up_ratio:.0%}",
                    "" if p.stats is None else f"{p.stats.request_rate:.2f}",
                    ""
                    if p.stats is None or p.stats.p95_s is None
                    else f"{p.stats.p95_s * 1000:.1f}",
                    p.reason,
                )
                for p in points
            ],
            ("AT", "PROBES", "UP", "REQ/S", "P95 MS", "LAST PROBLEM"),
        )
    return EXIT_OK


_COMMANDS: dict[str, Callable[[Any, argparse.Namespace], int]] = {
    "registry": _cmd_registry,
    "sync": _cmd_sync,
    "models": _cmd_models,
    "versions": _cmd_versions,
    "endpoint": _cmd_endpoint,
    "lineage": _cmd_lineage,
    **{
        name: _cmd_governance
        for name in (
            "identity",
            "request",
            "approve",
            "reject",
            "apply",
            "comment",
            "violations",
            "audit",
            "roles",
            "policy",
        )
    },
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
