"""Endpoint verbs of the command line: add, edit, list, probe, remove, samples, interval."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.cli.context import EXIT_FAILED, EXIT_OK, CliContext, Handler, by_action
from app.cli.output import print_json, table
from app.domain.endpoints import EndpointConfig, EndpointKind, parse_model_ref, parse_version_map
from app.domain.errors import UsageError
from app.domain.progress import Progress
from app.domain.serving import ServingState
from app.services.endpoint_poller import ProbeFailure
from app.services.endpoints import EndpointStatus, ProbeOutcome


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the endpoint sub-commands to the top-level subparsers."""
    ep = sub.add_parser("endpoint", help="serving endpoints and the versions they serve")
    esub = ep.add_subparsers(dest="action", required=True, parser_class=parser_class)
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


def _endpoint_add(ctx: CliContext, args: argparse.Namespace) -> int:
    changes = _endpoint_changes(args)
    cfg = EndpointConfig(name=args.name, **changes)
    ctx.endpoints.add(cfg)
    print(
        f"Added endpoint '{cfg.name}' ({cfg.kind.value}, {cfg.url}) for "
        f"{cfg.registry}/{cfg.model}@{cfg.alias}. Run 'gavel endpoint probe {cfg.name}'."
    )
    return EXIT_OK


def _endpoint_edit(ctx: CliContext, args: argparse.Namespace) -> int:
    svc = ctx.endpoints
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


def _endpoint_remove(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.endpoints.get(args.name)
    ctx.endpoints.remove(args.name)
    print(f"Removed endpoint '{args.name}' and its sampled history.")
    return EXIT_OK


def _endpoint_interval(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.endpoints.set_poll_interval_s(args.seconds)
    print(f"Endpoints without their own interval are now polled every {args.seconds:g} s.")
    return EXIT_OK


def _endpoint_list(ctx: CliContext, args: argparse.Namespace) -> int:
    return _print_endpoints(ctx.endpoints.statuses(), ctx.endpoints.poll_interval_s(), args.json)


def _print_endpoints(statuses: list[EndpointStatus], default_interval: float, as_json: bool) -> int:
    if as_json:
        print_json(
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
        table(
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


def _endpoint_probe(ctx: CliContext, args: argparse.Namespace) -> int:
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
        print_json([_outcome_json(o) for o in outcomes])
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


def _endpoint_samples(ctx: CliContext, args: argparse.Namespace) -> int:
    svc = ctx.endpoints
    svc.get(args.name)
    if args.points < 1 or args.hours <= 0:
        raise UsageError("--points and --hours must be positive.")
    until = datetime.now(UTC)
    points = svc.series(args.name, until - timedelta(hours=args.hours), until, args.points)
    if args.json:
        print_json(points)
    else:
        table(
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


_ENDPOINT: dict[str, Handler] = {
    "add": _endpoint_add,
    "edit": _endpoint_edit,
    "remove": _endpoint_remove,
    "interval": _endpoint_interval,
    "list": _endpoint_list,
    "probe": _endpoint_probe,
    "samples": _endpoint_samples,
}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"endpoint": by_action(_ENDPOINT, "endpoint")}
