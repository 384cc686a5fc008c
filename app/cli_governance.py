"""Governance verbs of the command line: identity, requests, decisions, roles, audit.

Passphrases come from a prompt or an environment variable the user names, never argv.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from app.cli_output import print_json, table
from app.domain.errors import UsageError
from app.domain.governance import CHECKLIST, MetricThreshold, Policy, RequestState, Role
from app.domain.ledger import Checkpoint


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the governance sub-commands to the top-level subparsers."""
    ident = sub.add_parser("identity", help="this profile's identity and signing key")
    isub = ident.add_subparsers(dest="action", required=True, parser_class=parser_class)
    init = isub.add_parser("init", help="create your identity and enroll a signing key")
    init.add_argument("--user-id", required=True)
    init.add_argument("--name", default="", help="printed name shown with your signatures")
    init.add_argument(
        "--registry-username",
        action="append",
        default=[],
        help="a user name you have in a registry (repeatable)",
    )
    init.add_argument("--passphrase-env", metavar="VAR")
    show = isub.add_parser("show")
    show.add_argument("--json", action="store_true")

    req = sub.add_parser("request", help="promotion requests")
    rsub = req.add_subparsers(dest="action", required=True, parser_class=parser_class)
    create = rsub.add_parser("create", help="request promoting a version to an alias or stage")
    create.add_argument("model")
    create.add_argument("version", type=int)
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--alias")
    target.add_argument("--stage", help="an MLflow stage: Staging, Production or Archived")
    create.add_argument("--justification", required=True)
    create.add_argument("--registry")
    create.add_argument(
        "--checklist",
        action="append",
        default=[],
        metavar="ITEM=REFERENCE",
        help=f"evidence; items: {', '.join(CHECKLIST)}",
    )
    rl = rsub.add_parser("list")
    rl.add_argument("--state", choices=[s.value for s in RequestState])
    rl.add_argument("--json", action="store_true")
    rs = rsub.add_parser("show")
    rs.add_argument("id")
    rs.add_argument("--json", action="store_true")

    for verb in ("approve", "reject"):
        p = sub.add_parser(verb, help=f"{verb} a promotion request (signed)")
        p.add_argument("id")
        p.add_argument("--comment", required=True)
        p.add_argument("--passphrase-env", metavar="VAR")
    ap = sub.add_parser("apply", help="apply an approved promotion to the registry")
    ap.add_argument("id")
    cm = sub.add_parser("comment", help="comment on a request")
    cm.add_argument("id")
    cm.add_argument("text")

    vio = sub.add_parser("violations", help="alias moves no approved request explains")
    vio.add_argument("--registry")
    vio.add_argument("--json", action="store_true")

    audit = sub.add_parser("audit", help="verify or export the audit ledger")
    asub = audit.add_subparsers(dest="action", required=True, parser_class=parser_class)
    ver = asub.add_parser("verify")
    ver.add_argument("--checkpoint", metavar="SEQ:HASH")
    ver.add_argument("--json", action="store_true")
    exp = asub.add_parser("export")
    exp.add_argument("--out", required=True, type=Path)
    exp.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    hist = asub.add_parser("history", help="which version held an alias at a time")
    hist.add_argument("model")
    hist.add_argument("alias")
    hist.add_argument("--registry")
    hist.add_argument("--json", action="store_true")

    pol = sub.add_parser("policy", help="approval policy per risk tier")
    psub = pol.add_subparsers(dest="action", required=True, parser_class=parser_class)
    pshow = psub.add_parser("show")
    pshow.add_argument("--json", action="store_true")
    pset = psub.add_parser("set", help="change a tier's policy (admins; recorded in the ledger)")
    pset.add_argument("tier")
    pset.add_argument("--approvals", type=int, required=True)
    pset.add_argument("--role", choices=[r.value for r in Role], default=Role.APPROVER.value)
    pset.add_argument(
        "--checklist", default="", help=f"comma-separated items from: {', '.join(CHECKLIST)}"
    )
    pset.add_argument(
        "--threshold", action="append", default=[], metavar="'METRIC OP VALUE'",
        help="e.g. 'auc >= 0.8' (repeatable)",
    )  # fmt: skip
    pset.add_argument("--reason", default="")

    roles = sub.add_parser("roles", help="grant, revoke and list roles (admins)")
    rosub = roles.add_subparsers(dest="action", required=True, parser_class=parser_class)
    for verb in ("grant", "revoke"):
        p = rosub.add_parser(verb)
        p.add_argument("user")
        p.add_argument("role", choices=[r.value for r in Role])
        p.add_argument("--reason", default="")
    rlist = rosub.add_parser("list")
    rlist.add_argument("--json", action="store_true")


def _passphrase(args: argparse.Namespace, confirm: bool = False) -> str:
    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env, "")
        if not value:
            raise UsageError(f"The environment variable {args.passphrase_env} is not set.")
        return value
    if not sys.stdin.isatty():
        raise UsageError("No terminal to ask for the passphrase: use --passphrase-env VAR.")
    value = getpass.getpass("Passphrase: ")
    if confirm and getpass.getpass("Passphrase again: ") != value:
        raise UsageError("The two passphrases differ; nothing was changed.")
    return value


def _request_json(gov: Any, view: Any) -> dict[str, Any]:
    r = view.request
    return {
        "id": r.request_id,
        "state": r.state.value,
        "state_reason": r.state_reason,
        "registry": r.identity.registry,
        "model": r.identity.model,
        "version": r.identity.version,
        "target_kind": r.target_kind.value,
        "alias": r.alias or None,
        "stage": r.stage or None,
        "risk_tier": r.risk_tier or "unknown (high)",
        "requester": r.requester,
        "justification": r.justification,
        "checklist": r.checklist,
        "created_at": r.created_at,
        "approvals": [
            {"by": d.actor, "at": d.at, "comment": d.comment, "signer": d.signer}
            for d in r.approvals
        ],
        "rejections": [
            {"by": d.actor, "at": d.at, "comment": d.comment}
            for d in r.decisions
            if d not in r.approvals
        ],
        "policy": view.policy.to_json(),
        "policy_satisfied": view.status.satisfied,
        "policy_needs": list(view.status.missing),
    }


def run(ctx: Any, args: argparse.Namespace) -> int:
    gov = ctx.governance
    cmd = args.command
    if cmd == "identity":
        if args.action == "init":
            key_id = gov.init_identity(
                args.user_id, args.name, tuple(args.registry_username), _passphrase(args, True)
            )
            roles = sorted(r.value for r in gov.roles_of(args.user_id))
            print(
                f"Enrolled {args.user_id} with signing key {key_id}"
                f"{' (roles: ' + ', '.join(roles) + ')' if roles else ''}."
            )
            if not ctx.credentials.persistent:
                print(f"Warning: {ctx.credentials.describe()}", file=sys.stderr)
            return 0
        me = gov.me()
        data = {
            "user_id": me.user_id,
            "display_name": me.display_name,
            "registry_usernames": list(me.registry_usernames),
            "roles": sorted(r.value for r in gov.roles_of(me.user_id)),
        }
        if args.json:
            print_json(data)
        else:
            print(f"{me.display_name} ({me.user_id}); roles: {', '.join(data['roles']) or 'none'}")
        return 0
    if cmd == "request":
        if args.action == "create":
            checklist = {}
            for item in args.checklist:
                key, sep, ref = item.partition("=")
                if not sep:
                    raise UsageError(f"--checklist takes ITEM=REFERENCE, not '{item}'.")
                checklist[key.strip()] = ref
            r = gov.create_request(
                args.registry or _only_registry(ctx, args.model),
                args.model,
                args.version,
                args.alias or "",
                args.justification,
                checklist,
                stage=args.stage,
            )
            view = gov.view(r)
            print(f"Created request {r.request_id}: {r.target_text}. {view.status.describe()}")
            return 0
        if args.action == "list":
            views = [v for v in gov.views() if not args.state or v.request.state == args.state]
            if args.json:
                print_json([_request_json(gov, v) for v in views])
            elif not views:
                print("No promotion requests.")
            else:
                table(
                    [
                        (
                            v.request.request_id,
                            v.request.state.value,
                            v.request.target_text,
                            v.request.requester,
                            len(v.request.approvals),
                            v.status.describe(),
                        )
                        for v in views
                    ],
                    ("ID", "STATE", "PROMOTION", "REQUESTER", "APPROVALS", "POLICY"),
                )
            return 0
        view = gov.view(gov.request(args.id))
        data = _request_json(gov, view)
        if args.json:
            data["events"] = [
                {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                 "reason": e.reason, "hash": e.hash, "signer": e.signer}
                for e in gov.events_of(view.request)
            ]  # fmt: skip
            print_json(data)
        else:
            target = "stage" if view.request.is_stage else "alias"
            for key in ("id", "state", "model", "version", target, "requester", "justification"):
                print(f"{key:>14}: {data[key]}")
            print(f"{'policy':>14}: {view.status.describe()}")
            for e in gov.events_of(view.request):
                print(f"  #{e.seq} {e.at:%Y-%m-%d %H:%M:%S}Z {e.actor} {e.action} {e.reason}")
        return 0
    if cmd in ("approve", "reject"):
        fn = gov.approve if cmd == "approve" else gov.reject
        r = fn(args.id, args.comment, _passphrase(args))
        print(f"Signed {cmd} of {r.request_id} ({r.target_text}); request is {r.state.value}.")
        return 0
    if cmd == "comment":
        gov.comment(args.id, args.text)
        return 0
    if cmd == "apply":
        outcome = ctx.promotions.apply(args.id)
        print(outcome.message)
        return 0 if outcome.applied or outcome.request.state is RequestState.APPLIED else 1
    if cmd == "violations":
        found = ctx.observer.violations(args.registry)
        if args.json:
            print_json(
                [
                    {
                        "seq": v.seq,
                        "at": v.at,
                        "registry": v.registry,
                        "model": v.model,
                        "alias": v.alias,
                        "before": v.before,
                        "after": v.after,
                        "stage_before": v.stage_before,
                        "stage_after": v.stage_after,
                        "observed_by": v.observed_by,
                        "description": v.describe(),
                    }
                    for v in found
                ]
            )
        elif not found:
            print("No unapproved changes observed.")
        else:
            for v in found:
                print(f"#{v.seq} {v.at:%Y-%m-%d %H:%M}Z {v.describe()}")
        return 0
    if cmd == "audit":
        return _audit(ctx, args)
    if cmd == "policy":
        if args.action == "show":
            policies = gov.policies()
            if args.json:
                print_json({tier: p.to_json() for tier, p in sorted(policies.items())})
            else:
                table(
                    [
                        (
                            tier,
                            p.approvals_required,
                            p.required_role.value,
                            ", ".join(p.required_checklist) or "-",
                            ", ".join(str(t) for t in p.metric_thresholds) or "-",
                        )
                        for tier, p in sorted(policies.items())
                    ],
                    ("TIER", "APPROVALS", "ROLE", "CHECKLIST", "THRESHOLDS"),
                )
            return 0
        policy = Policy(
            risk_tier=args.tier.strip().lower(),
            approvals_required=args.approvals,
            required_role=Role(args.role),
            required_checklist=tuple(c.strip() for c in args.checklist.split(",") if c.strip()),
            metric_thresholds=tuple(MetricThreshold.parse(t) for t in args.threshold),
        )
        gov.set_policy(policy, args.reason)
        print(f"Policy for {policy.risk_tier}-risk models changed; recorded in the ledger.")
        return 0
    if cmd == "roles":
        if args.action == "list":
            roles, ignored = gov.roles()
            data = {u: sorted(r.value for r in rs) for u, rs in sorted(roles.items()) if rs}
            if args.json:
                print_json({"roles": data, "ignored_events": ignored})
            else:
                table([(u, ", ".join(r)) for u, r in data.items()], ("USER", "ROLES"))
            return 0
        fn = gov.grant if args.action == "grant" else gov.revoke
        fn(args.user, Role(args.role), args.reason)
        print(f"{'Granted' if args.action == 'grant' else 'Revoked'} {args.role} for {args.user}.")
        return 0
    raise UsageError(f"Unknown command {cmd}.")


def _only_registry(ctx: Any, model: str) -> str:
    detail = ctx.portfolio.find_model(model)
    return str(detail.registry)


def _audit(ctx: Any, args: argparse.Namespace) -> int:
    audit = ctx.audit
    if args.action == "verify":
        checkpoint = Checkpoint.parse(args.checkpoint) if args.checkpoint else None
        report = audit.verify(checkpoint)
        if args.json:
            print_json(
                {
                    "ok": report.ok,
                    "message": report.describe(),
                    "events_checked": report.events_checked,
                    "signatures_checked": report.signatures_checked,
                    "head": report.head,
                    "problem": report.problem,
                }
            )
        else:
            print(report.describe())
        return 0 if report.ok else 1
    if args.action == "export":
        me = ctx.identity.current()
        result = audit.export(args.out, args.format, actor=me.user_id if me else "gavel-cli")
        print(
            f"Exported {result.events} events to {result.path} (sha256 {result.sha256}); "
            f"head checkpoint {result.head}."
        )
        return 0
    registry = args.registry or _only_registry(ctx, args.model)
    moves = audit.alias_history(registry, args.model, args.alias)
    if args.json:
        print_json(moves)
    elif not moves:
        print(f"The ledger records no moves of '{args.alias}' on {args.model}.")
    else:
        for m in moves:
            b = "-" if m.before is None else f"v{m.before}"
            a = "-" if m.after is None else f"v{m.after}"
            print(f"#{m.seq} {m.at:%Y-%m-%d %H:%M:%S}Z {b} → {a} ({m.action} by {m.actor})")
    return 0
