"""Offline audits: make and verify audit bundles, and carry auditors' findings.

`gavel open FILE` (the console on a bundle) is started by `app.cli.main`, like `gui`.
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
from app.domain.authority_records import Severity
from app.domain.errors import UsageError
from app.domain.progress import Progress


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    bundle = sub.add_parser("bundle", help="audit bundles for offline audits")
    bsub = bundle.add_subparsers(dest="action", required=True, parser_class=parser_class)
    create = signed(bsub.add_parser("create", help="write a signed audit bundle"))
    create.add_argument("--out", required=True, type=Path, help="the bundle file to write")
    create.add_argument("--registry", action="append", default=[], help="only this registry")
    create.add_argument("--model", action="append", default=[], help="only this model")
    create.add_argument("--since", default="", help="versions and samples from DATE (UTC)")
    create.add_argument("--json", action="store_true")
    verify = bsub.add_parser("verify", help="check a bundle's manifest, signature and parts")
    verify.add_argument("file", type=Path)
    verify.add_argument("--json", action="store_true")

    opener = sub.add_parser("open", help="open the console on an audit bundle (read-only)")
    opener.add_argument("file", type=Path)

    findings = sub.add_parser("findings", help="auditors' findings: export, import, list")
    fsub = findings.add_subparsers(dest="action", required=True, parser_class=parser_class)
    export = fsub.add_parser("export", help="write the findings recorded here, signed")
    export.add_argument("--out", required=True, type=Path)
    signed(fsub.add_parser("import", help="enter a findings file in the ledger")).add_argument(
        "file", type=Path
    )
    flist = fsub.add_parser("list", help="findings on the ledger, open and resolved")
    flist.add_argument("--json", action="store_true")
    record = signed(
        fsub.add_parser(
            "record",
            help="sign a finding about a model, version, request or ledger event (kept here "
            "until exported)",
        )
    )
    record.add_argument(
        "--severity", required=True, choices=[s.value for s in Severity], help="how serious"
    )
    record.add_argument("--model", default="", help="the model it is about")
    record.add_argument("--registry", default="", help="the model's registry, if ambiguous")
    record.add_argument("--version", type=int, help="one version of --model")
    record.add_argument("--request", default="", help="a promotion request id (or its start)")
    record.add_argument("--event", type=int, help="a ledger event's number")
    record.add_argument("--note", required=True, help="what was found, and where")
    record.add_argument("--json", action="store_true")
    resolve = signed(fsub.add_parser("resolve", help="close an open finding (admins), signed"))
    resolve.add_argument("id", help="the finding's id (or its start, as 'findings list' shows)")
    resolve.add_argument("--resolution", required=True, help="how it was resolved")


def _progress(report: Progress) -> None:
    print(f"\r{report.describe()}", end="", file=sys.stderr, flush=True)


def _bundle_create(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.services.bundles import scope_from

    scope = scope_from(args.registry, args.model, args.since)
    summary = ctx.bundles.create(
        args.out, scope, passphrase(args), progress=_progress if sys.stderr.isatty() else _quiet
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print_json(
            {
                "path": str(summary.path),
                "bytes": summary.size,
                "cache_bytes": summary.cache_size,
                "counts": dict(summary.counts),
                "ledger_head": f"{summary.ledger_head.seq}:{summary.ledger_head.hash}",
            }
        )
        return EXIT_OK
    c = summary.counts
    print(
        f"Wrote {summary.path}: {c.get('models', 0):,} models, {c.get('versions', 0):,} "
        f"versions, {c['ledger_events']:,} ledger events, {c['bundle_keys']} keys; "
        f"{summary.size / 1e6:.1f} MB (the cache is {summary.cache_size / 1e6:.1f} MB)."
    )
    return EXIT_OK


def _quiet(_: Progress) -> None:
    """No progress line when stderr is not a terminal (scripts, logs)."""


def _bundle_verify(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.services.bundles import verify_bundle

    report = verify_bundle(args.file)
    if args.json:
        print_json(
            {
                "ok": report.ok,
                "manifest": dict(report.manifest),
                "problems": [{"what": p.what, "message": p.message} for p in report.problems],
            }
        )
    elif report.ok:
        print(f"{args.file}: {report.describe()}.")
    else:
        for p in report.problems:
            print(f"gavel: {args.file}: {p.what}: {p.message}.", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _findings_export(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.services.findings import write_findings

    pending = ctx.findings.pending()
    write_findings(args.out, pending)
    print(f"Wrote {len(pending)} signed finding(s) to {args.out}.")
    return EXIT_OK


def _findings_import(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.services.findings import read_findings

    result = ctx.findings.import_findings(read_findings(args.file), passphrase(args))
    print(
        f"{len(result.added)} finding(s) added to the ledger, "
        f"{len(result.already_recorded)} already on it, {len(result.refused)} refused."
    )
    for fid, why in result.refused:
        print(f"gavel: finding {fid} refused: {why}", file=sys.stderr)
    return EXIT_FAILED if result.refused else EXIT_OK


def _findings_list(ctx: CliContext, args: argparse.Namespace) -> int:
    found = ctx.findings.findings()
    if args.json:
        print_json(found)
        return EXIT_OK
    rows = [
        (
            f.finding_id[:8],
            f.severity.value,
            f.auditor,
            " ".join(f"{k}={v}" for k, v in f.about.items()),
            "open" if f.open else f"resolved by {f.resolved_by}",
            f.text,
        )
        for f in found
    ]
    table(rows, ("ID", "SEVERITY", "AUDITOR", "ABOUT", "STATE", "TEXT"))
    return EXIT_OK


def _findings_record(ctx: CliContext, args: argparse.Namespace) -> int:
    from app.services.findings import subject_of

    subject = subject_of(
        ctx.portfolio,
        ctx.governance,
        ctx.audit.store,
        model=args.model,
        registry=args.registry,
        version=args.version,
        request=args.request,
        event=args.event,
    )
    if not args.note.strip():
        raise UsageError("A finding needs a note saying what was found: --note TEXT.")
    signed = ctx.findings.record(subject, Severity(args.severity), args.note, passphrase(args))
    fid = str(signed.document["id"])
    if args.json:
        print_json({"id": fid, "about": subject, "severity": args.severity})
        return EXIT_OK
    print(
        f"Signed {args.severity} finding {fid[:8]}; it is kept in this profile until "
        "'gavel findings export' and 'gavel findings import' put it on the ledger."
    )
    return EXIT_OK


def _findings_resolve(ctx: CliContext, args: argparse.Namespace) -> int:
    found = [f for f in ctx.findings.findings() if f.finding_id.startswith(args.id)]
    if not found:
        raise UsageError(
            f"There is no finding '{args.id}' on the ledger; 'gavel findings list' shows them "
            "(a finding signed here must be imported first)."
        )
    if len(found) > 1:
        raise UsageError(f"'{args.id}' matches several findings; give more of its id.")
    finding = found[0]
    if not finding.open:
        raise UsageError(
            f"Finding {finding.finding_id[:8]} is already resolved by {finding.resolved_by}."
        )
    event = ctx.findings.resolve(finding.finding_id, args.resolution, passphrase(args))
    print(f"Resolved finding {finding.finding_id[:8]}: ledger event {event.seq}.")
    return EXIT_OK


_BUNDLE: dict[str, Handler] = {"create": _bundle_create, "verify": _bundle_verify}
_FINDINGS: dict[str, Handler] = {
    "export": _findings_export,
    "import": _findings_import,
    "list": _findings_list,
    "record": _findings_record,
    "resolve": _findings_resolve,
}
COMMANDS: dict[str, Handler] = {
    "bundle": by_action(_BUNDLE, "bundle"),
    "findings": by_action(_FINDINGS, "findings"),
}
