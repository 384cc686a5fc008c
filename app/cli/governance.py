"""Governance verbs of the command line: identity, requests, decisions, roles, audit.

Every verb that grants, changes or uses authority is signed with the user's key, so
it needs their passphrase: from a prompt, or an environment variable the user names
(``--passphrase-env VAR``), never argv. Commands that read what the ledger's fold
decides exit 1 with its sentence when the ledger holds an event that does not verify.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.context import (
    EXIT_FAILED,
    EXIT_OK,
    CliContext,
    Handler,
    by_action,
    passphrase,
    signed,
)
from app.cli.output import print_json, table
from app.domain.errors import UsageError
from app.domain.governance import (
    CHECKLIST,
    MetricThreshold,
    Policy,
    RequestState,
    Role,
    SignatureMeaning,
)
from app.domain.ledger import Checkpoint
from app.domain.review_schedule import ReviewDue
from app.services.outbox import OutboxEntry


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the governance sub-commands to the top-level subparsers."""
    _register_identity(sub, parser_class)
    _register_requests(sub, parser_class)
    _register_audit(sub, parser_class)
    _register_policy(sub, parser_class)
    _register_roles(sub, parser_class)
    _register_review(sub, parser_class)


def _register_identity(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Identity: people, their keys and registry names."""
    ident = sub.add_parser("identity", help="people, their signing keys and registry names")
    isub = ident.add_subparsers(dest="action", required=True, parser_class=parser_class)
    init = signed(isub.add_parser("init", help="create your identity and enrol a signing key"))
    init.add_argument("--user-id", required=True)
    init.add_argument("--name", default="", help="printed name shown with your signatures")
    init.add_argument(
        "--registry-username",
        action="append",
        default=[],
        help="a user name you have in a registry (repeatable; counts once an admin approves)",
    )
    show = isub.add_parser("show", help="who this profile acts as")
    show.add_argument("--json", action="store_true")
    ilist = isub.add_parser("list", help="everyone on the ledger")
    ilist.add_argument("--json", action="store_true")
    signed(isub.add_parser("rotate", help="enrol a new key for yourself (an admin approves)"))
    pend = isub.add_parser("pending", help="keys waiting for an admin's approval")
    pend.add_argument("--json", action="store_true")
    appr = signed(isub.add_parser("approve", help="approve a member's pending key (admins)"))
    appr.add_argument("user")
    appr.add_argument(
        "--registry-username",
        action="append",
        default=None,
        help="the registry user names that are theirs (default: what they declared)",
    )
    irev = signed(isub.add_parser("revoke", help="revoke a member's key (admins, or its holder)"))
    irev.add_argument("user")
    irev.add_argument("--reason", required=True)
    imap = signed(isub.add_parser("map", help="record a member's registry user names (admins)"))
    imap.add_argument("user")
    imap.add_argument("registry_username", nargs="*")


def _register_requests(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Request, the decisions on one (approve, reject, comment, apply), violations."""
    req = sub.add_parser("request", help="promotion requests")
    rsub = req.add_subparsers(dest="action", required=True, parser_class=parser_class)
    create = signed(
        rsub.add_parser("create", help="request promoting a version to an alias or stage")
    )
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
    rw = signed(rsub.add_parser("withdraw", help="take back a request (requester or admin)"))
    rw.add_argument("id")
    rw.add_argument("--reason", required=True)

    for verb in ("approve", "reject"):
        p = signed(sub.add_parser(verb, help=f"{verb} a promotion request (signed)"))
        p.add_argument("id")
        p.add_argument("--comment", required=True)
    signed(
        sub.add_parser("apply", help="apply an approved promotion to the registry")
    ).add_argument("id")
    cm = signed(sub.add_parser("comment", help="comment on a request (signed)"))
    cm.add_argument("id")
    cm.add_argument("text")

    vio = sub.add_parser("violations", help="alias moves no approved request explains")
    vio.add_argument("--registry")
    vio.add_argument("--json", action="store_true")


def _register_audit(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Audit: verify, export, history, acknowledge."""
    audit = sub.add_parser("audit", help="verify or export the audit ledger")
    asub = audit.add_subparsers(dest="action", required=True, parser_class=parser_class)
    ver = asub.add_parser("verify", help="verify the ledger, or an export of it (--file)")
    ver.add_argument("--checkpoint", metavar="SEQ:HASH")
    ver.add_argument("--file", type=Path, help="a JSONL export to verify instead of the ledger")
    ver.add_argument("--json", action="store_true")
    exp = asub.add_parser("export")
    exp.add_argument("--out", required=True, type=Path)
    exp.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    hist = asub.add_parser("history", help="which version held an alias at a time")
    hist.add_argument("model")
    hist.add_argument("alias")
    hist.add_argument("--registry")
    hist.add_argument("--json", action="store_true")
    ack = signed(
        asub.add_parser("acknowledge", help="record that a refused event was investigated")
    )
    ack.add_argument("seq", type=int)
    ack.add_argument("--reason", required=True)


def _register_review(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Periodic reviews of the versions in production: what is due, and recording one."""
    review = sub.add_parser("review", help="periodic reviews of the versions in production")
    rsub = review.add_subparsers(dest="action", required=True, parser_class=parser_class)
    due = rsub.add_parser("due", help="reviews due within 30 days or overdue")
    due.add_argument("--all", action="store_true", help="every version in production")
    due.add_argument("--json", action="store_true")
    rec = signed(
        rsub.add_parser("record", help="attest, signed, that a version is still fit for purpose")
    )
    rec.add_argument("model")
    rec.add_argument("version", type=int)
    rec.add_argument("--comment", required=True, help="what was reviewed and found")
    rec.add_argument("--evidence", action="append", default=[], metavar="REF")
    rec.add_argument("--registry")


def _register_policy(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Policy: show and set a tier's approval policy."""
    pol = sub.add_parser("policy", help="approval policy per risk tier")
    psub = pol.add_subparsers(dest="action", required=True, parser_class=parser_class)
    pshow = psub.add_parser("show")
    pshow.add_argument("--json", action="store_true")
    pset = signed(psub.add_parser("set", help="change a tier's policy (admins; signed)"))
    pset.add_argument("tier", choices=["high", "medium", "low"])
    pset.add_argument("--approvals", type=int, required=True)
    pset.add_argument("--role", choices=[r.value for r in Role], default=Role.APPROVER.value)
    pset.add_argument(
        "--checklist", default="", help=f"comma-separated items from: {', '.join(CHECKLIST)}"
    )
    pset.add_argument(
        "--threshold", action="append", default=[], metavar="'METRIC OP VALUE'",
        help="e.g. 'auc >= 0.8' (repeatable)",
    )  # fmt: skip
    pset.add_argument(
        "--expiry-days", type=int, help="days a request may wait for decisions and apply"
    )
    pset.add_argument("--reason", default="")


def _register_roles(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Roles: grant, revoke, list."""
    roles = sub.add_parser("roles", help="grant, revoke and list roles (admins)")
    rosub = roles.add_subparsers(dest="action", required=True, parser_class=parser_class)
    for verb in ("grant", "revoke"):
        p = signed(rosub.add_parser(verb))
        p.add_argument("user")
        p.add_argument("role", choices=[r.value for r in Role])
        p.add_argument("--reason", default="")
    rlist = rosub.add_parser("list")
    rlist.add_argument("--json", action="store_true")


def _fold_verdict(ctx: CliContext) -> int:
    """After output that rests on the fold: the ledger's open problem (exit 1), and the
    replica's age when the team ledger is out of reach."""
    status = ctx.team_status()
    if status.team and (not status.online or status.problem):
        print(f"gavel: {status.problem or 'the team ledger cannot be reached.'}", file=sys.stderr)
        print(f"gavel: showing the local replica, {status.as_of()}.", file=sys.stderr)
    problems = ctx.governance.problems()
    if problems:
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        print(
            f"gavel: the ledger does not verify: {problems[0].describe()}{more} Run 'gavel "
            "audit verify' and tell an admin.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if status.team and status.problem and status.online:
        return EXIT_FAILED  # a refused pull is an integrity alarm, not a view to trust
    return EXIT_OK


# ------------------------------------------------------------------------ identity


def _identity_init(ctx: CliContext, args: argparse.Namespace) -> int:
    done = ctx.membership.init_identity(
        args.user_id, args.name, tuple(args.registry_username), passphrase(args, True)
    )
    if done.active:
        roles = ", ".join(sorted(r.value for r in done.roles)) or "none"
        print(f"Enrolled {args.user_id} with signing key {done.key_id} (roles: {roles}).")
    else:
        print(
            f"Enrolled {args.user_id} with signing key {done.key_id}; it counts once an admin "
            f"approves it ('gavel identity approve {args.user_id}')."
        )
    if not ctx.credentials.persistent:
        print(f"Warning: {ctx.credentials.describe()}", file=sys.stderr)
    return EXIT_OK


def _identity_json(ident: Any, roles: frozenset[Role]) -> dict[str, Any]:
    return {
        "user_id": ident.user_id,
        "display_name": ident.display_name,
        "status": ident.status.value,
        "key_id": ident.key_id,
        "registry_usernames": list(ident.registry_usernames),
        "roles": sorted(r.value for r in roles),
    }


def _identity_show(ctx: CliContext, args: argparse.Namespace) -> int:
    me = ctx.actor.me()
    data = _identity_json(me, ctx.membership.roles_of(me.user_id))
    data["key_on_this_computer"] = ctx.actor.has_key()
    if args.json:
        print_json(data)
    else:
        print(
            f"{me.display_name} ({me.user_id}), {me.status.value}; roles: "
            f"{', '.join(data['roles']) or 'none'}; registry names: "
            f"{', '.join(me.registry_usernames) or 'none mapped'}"
        )
    return _fold_verdict(ctx)


def _identity_list(ctx: CliContext, args: argparse.Namespace) -> int:
    roles = ctx.membership.roles()
    people = [
        _identity_json(i, roles.get(u, frozenset())) for u, i in ctx.membership.identities().items()
    ]
    if args.json:
        print_json(people)
    else:
        table(
            [
                (
                    p["user_id"],
                    p["display_name"],
                    p["status"],
                    ", ".join(p["roles"]),
                    ", ".join(p["registry_usernames"]),
                )
                for p in people
            ],
            ("USER", "NAME", "STATUS", "ROLES", "REGISTRY NAMES"),
        )
    return _fold_verdict(ctx)


def _identity_rotate(ctx: CliContext, args: argparse.Namespace) -> int:
    key_id = ctx.membership.rotate_key(passphrase(args, True))
    print(
        f"New signing key {key_id} enrolled; it replaces your current key once an admin "
        "approves it. Until then, nothing can be signed with it."
    )
    return EXIT_OK


def _identity_pending(ctx: CliContext, args: argparse.Namespace) -> int:
    pending = ctx.membership.pending_keys()
    if args.json:
        print_json(pending)
    elif not pending:
        print("No keys are waiting for approval.")
    else:
        table(
            [
                (
                    p.user_id,
                    p.display_name,
                    p.key_id,
                    "replacement" if p.replaces else "new member",
                    ", ".join(p.claimed_usernames) or "-",
                    f"{p.enrolled_at:%Y-%m-%d %H:%M}",
                )
                for p in pending
            ],
            ("USER", "NAME", "KEY", "KIND", "CLAIMED REGISTRY NAMES", "ENROLLED (UTC)"),
        )
    return _fold_verdict(ctx)


def _identity_approve(ctx: CliContext, args: argparse.Namespace) -> int:
    event = ctx.membership.approve_key(args.user, passphrase(args), args.registry_username)
    print(f"Approved the key of {args.user} (event {event.seq}).")
    return EXIT_OK


def _identity_revoke(ctx: CliContext, args: argparse.Namespace) -> int:
    event = ctx.membership.revoke_key(args.user, passphrase(args), args.reason)
    print(f"Revoked the key of {args.user} (event {event.seq}); nothing it signs counts now.")
    return EXIT_OK


def _identity_map(ctx: CliContext, args: argparse.Namespace) -> int:
    event = ctx.membership.map_names(args.user, args.registry_username, passphrase(args))
    names = ", ".join(args.registry_username) or "none"
    print(f"Registry user names of {args.user}: {names} (event {event.seq}).")
    return EXIT_OK


_IDENTITY: dict[str, Handler] = {
    "init": _identity_init,
    "show": _identity_show,
    "list": _identity_list,
    "rotate": _identity_rotate,
    "pending": _identity_pending,
    "approve": _identity_approve,
    "revoke": _identity_revoke,
    "map": _identity_map,
}


# ------------------------------------------------------------------------ requests


def _request_json(view: Any) -> dict[str, Any]:
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
        "policy_tier": view.tier,
        "requester": r.requester,
        "version_creator": r.version_creator,
        "run_user": r.run_user,
        "justification": r.justification,
        "checklist": r.checklist,
        "evidence": r.evidence.to_json(),
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
        "notes": list(view.notes),
        "cannot_be_applied_as_requested": view.blocked or None,
        "being_applied_by": r.claim.actor if r.claim and r.is_open else None,
    }


def _request_create(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.governance.require_no_problems()
    checklist = {}
    for item in args.checklist:
        key, sep, ref = item.partition("=")
        if not sep:
            raise UsageError(f"--checklist takes ITEM=REFERENCE, not '{item}'.")
        checklist[key.strip()] = ref
    r = ctx.governance.create_request(
        args.registry or _only_registry(ctx, args.model),
        args.model,
        args.version,
        args.alias or "",
        args.justification,
        checklist,
        stage=args.stage,
        passphrase=passphrase(args),
    )
    view = ctx.governance.view(r)
    print(f"Created request {r.request_id}: {r.target_text}. {view.status.describe()}")
    for note in view.notes:
        print(f"Note: {note}")
    return EXIT_OK


def _request_list(ctx: CliContext, args: argparse.Namespace) -> int:
    views = [v for v in ctx.governance.views() if not args.state or v.request.state == args.state]
    if args.json:
        print_json([_request_json(v) for v in views])
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
    return _fold_verdict(ctx)


def _request_show(ctx: CliContext, args: argparse.Namespace) -> int:
    gov = ctx.governance
    view = gov.view_of(args.id)
    data = _request_json(view)
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
        print(
            f"{'created by':>14}: {data['version_creator'] or '-'} (run: {data['run_user'] or '-'})"
        )
        print(f"{'policy':>14}: {view.tier} risk; {view.status.describe()}")
        if view.blocked:
            print(f"{'blocked':>14}: {view.blocked_text}")
        for note in view.notes:
            print(f"{'note':>14}: {note}")
        for e in gov.events_of(view.request):
            print(f"  #{e.seq} {e.at:%Y-%m-%d %H:%M:%S}Z {e.actor} {e.action} {e.reason}")
    return _fold_verdict(ctx)


def _request_withdraw(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.governance.require_no_problems()
    r = ctx.governance.withdraw(args.id, args.reason, passphrase(args))
    print(f"Withdrew request {r.request_id} ({r.target_text}).")
    return EXIT_OK


_REQUEST: dict[str, Handler] = {
    "create": _request_create,
    "list": _request_list,
    "show": _request_show,
    "withdraw": _request_withdraw,
}


def _decide(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.governance.require_no_problems()
    meaning = SignatureMeaning.APPROVAL if args.command == "approve" else SignatureMeaning.REJECTION
    signed = ctx.outbox.sign_decision(args.id, meaning, args.comment, passphrase(args))
    if isinstance(signed, OutboxEntry):
        print(_kept(signed.sentence()))
        return EXIT_OK
    print(
        f"Signed {args.command} of {signed.request_id} ({signed.target_text}); "
        f"request is {signed.state.value}."
    )
    return EXIT_OK


def _comment(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.governance.require_no_problems()
    signed = ctx.outbox.sign_comment(args.id, args.text, passphrase(args))
    if isinstance(signed, OutboxEntry):
        print(_kept(signed.sentence()))
    return EXIT_OK


def _kept(sentence: str) -> str:
    return (
        f"The team ledger cannot be reached: signed and kept in this computer's outbox. "
        f"{sentence} It is sent when Gavel next reaches the team ledger ('gavel outbox flush')."
    )


def _apply(ctx: CliContext, args: argparse.Namespace) -> int:
    outcome = ctx.promotions.apply(args.id, passphrase(args))
    print(outcome.message)
    return EXIT_OK if outcome.applied or outcome.request.state is RequestState.APPLIED else 1


def _violations(ctx: CliContext, args: argparse.Namespace) -> int:
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
    return EXIT_OK


# --------------------------------------------------------------------------- reviews


def review_json(d: ReviewDue) -> dict[str, Any]:
    v, last = d.version, d.last_review
    return {
        "registry": v.registry,
        "model": v.model,
        "version": v.version,
        "served_by": v.served_by,
        "risk_tier": d.tier,
        "owner": v.owner,
        "team": v.team,
        "interval_days": d.interval_days,
        "counted_from": d.counted_from.value,
        "since": d.since,
        "due_at": d.due_at,
        "days_left": d.days_left,
        "state": d.state.value,
        "last_review": None
        if last is None
        else {"seq": last.seq, "at": last.at, "reviewer": last.reviewer, "comment": last.comment},
    }


def _review_due(ctx: CliContext, args: argparse.Namespace) -> int:
    found = ctx.reviews.schedule() if args.all else ctx.reviews.due()
    if args.json:
        print_json([review_json(d) for d in found])
    elif not found:
        print(
            "No periodic review is due within 30 days."
            if not args.all
            else "Nothing is in production."
        )
    else:
        for d in found:
            print(d.describe())
    return _fold_verdict(ctx)


def _review_record(ctx: CliContext, args: argparse.Namespace) -> int:
    registry = args.registry or _only_registry(ctx, args.model)
    event = ctx.reviews.record(
        registry, args.model, args.version, args.comment, passphrase(args), args.evidence
    )
    print(
        f"Recorded (event {event.seq}) that {args.model} v{args.version} ({registry}) is still "
        "fit for purpose; its next review counts from today."
    )
    return EXIT_OK


_REVIEW: dict[str, Handler] = {"due": _review_due, "record": _review_record}


# --------------------------------------------------------------------- policy, roles


def _policy_show(ctx: CliContext, args: argparse.Namespace) -> int:
    policies = ctx.membership.policies()
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
                    f"{p.request_expiry_days} days" if p.request_expiry_days else "-",
                )
                for tier, p in sorted(policies.items())
            ],
            ("TIER", "APPROVALS", "ROLE", "CHECKLIST", "THRESHOLDS", "REQUESTS EXPIRE"),
        )
    return _fold_verdict(ctx)


def _policy_set(ctx: CliContext, args: argparse.Namespace) -> int:
    policy = Policy(
        risk_tier=args.tier,
        approvals_required=args.approvals,
        required_role=Role(args.role),
        required_checklist=tuple(c.strip() for c in args.checklist.split(",") if c.strip()),
        metric_thresholds=tuple(MetricThreshold.parse(t) for t in args.threshold),
        request_expiry_days=args.expiry_days,
    )
    ctx.membership.set_policy(policy, passphrase(args), args.reason)
    print(f"Policy for {policy.risk_tier}-risk models changed; signed and recorded in the ledger.")
    return EXIT_OK


_POLICY: dict[str, Handler] = {"show": _policy_show, "set": _policy_set}


def _roles_list(ctx: CliContext, args: argparse.Namespace) -> int:
    data = {u: sorted(r.value for r in rs) for u, rs in ctx.membership.roles().items()}
    if args.json:
        print_json({"roles": data})
    else:
        table([(u, ", ".join(r)) for u, r in data.items()], ("USER", "ROLES"))
    return _fold_verdict(ctx)


def _roles_change(ctx: CliContext, args: argparse.Namespace) -> int:
    membership = ctx.membership
    fn = membership.grant if args.action == "grant" else membership.revoke
    fn(args.user, Role(args.role), passphrase(args), args.reason)
    print(f"{'Granted' if args.action == 'grant' else 'Revoked'} {args.role} for {args.user}.")
    return EXIT_OK


_ROLES: dict[str, Handler] = {"list": _roles_list, "grant": _roles_change, "revoke": _roles_change}


def _only_registry(ctx: CliContext, model: str) -> str:
    detail = ctx.portfolio.find_model(model)
    return str(detail.registry)


# --------------------------------------------------------------------------- audit


def _audit_verify(ctx: CliContext, args: argparse.Namespace) -> int:
    checkpoint = Checkpoint.parse(args.checkpoint) if args.checkpoint else None
    if args.file is not None:
        from app.services.ledger_export import verify_export

        report = verify_export(args.file, checkpoint=checkpoint)
    else:
        report = ctx.authority.verify(checkpoint)
    if args.json:
        print_json(
            {
                "ok": report.ok,
                "message": report.describe(),
                "events_checked": report.events_checked,
                "signatures_checked": report.signatures_checked,
                "head": report.head,
                "problem": report.problem,
                "problems": report.open_problems,
                "acknowledged": report.acknowledged,
            }
        )
    else:
        print(report.describe())
    return EXIT_OK if report.ok else EXIT_FAILED


def _audit_export(ctx: CliContext, args: argparse.Namespace) -> int:
    result = ctx.audit.export(args.out, args.format, actor=ctx.identity.user_id() or "gavel-cli")
    print(
        f"Exported {result.events} events to {result.path} (sha256 {result.sha256}); "
        f"head checkpoint {result.head}."
    )
    return EXIT_OK


def _audit_history(ctx: CliContext, args: argparse.Namespace) -> int:
    registry = args.registry or _only_registry(ctx, args.model)
    moves = ctx.audit.alias_history(registry, args.model, args.alias)
    if args.json:
        print_json(moves)
    elif not moves:
        print(f"The ledger records no moves of '{args.alias}' on {args.model}.")
    else:
        for m in moves:
            b = "-" if m.before is None else f"v{m.before}"
            a = "-" if m.after is None else f"v{m.after}"
            print(f"#{m.seq} {m.at:%Y-%m-%d %H:%M:%S}Z {b} → {a} ({m.action} by {m.actor})")
    return EXIT_OK


def _audit_acknowledge(ctx: CliContext, args: argparse.Namespace) -> int:
    event = ctx.membership.acknowledge(args.seq, args.reason, passphrase(args))
    print(
        f"Recorded (event {event.seq}) that the problem at event {args.seq} was investigated; "
        "that event still counts for nothing."
    )
    return EXIT_OK


_AUDIT: dict[str, Handler] = {
    "verify": _audit_verify,
    "export": _audit_export,
    "history": _audit_history,
    "acknowledge": _audit_acknowledge,
}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {
    "identity": by_action(_IDENTITY, "identity"),
    "request": by_action(_REQUEST, "request"),
    "approve": _decide,
    "reject": _decide,
    "apply": _apply,
    "comment": _comment,
    "violations": _violations,
    "audit": by_action(_AUDIT, "audit"),
    "policy": by_action(_POLICY, "policy"),
    "roles": by_action(_ROLES, "roles"),
    "review": by_action(_REVIEW, "review"),
}
