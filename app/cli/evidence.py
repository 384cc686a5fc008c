"""`gavel evidence pack REQUEST|MODEL VERSION --out FILE.pdf|FILE.html`: what a regulator
reads about one promotion request or one model version (see services.evidence).

A PDF is laid out by Qt (app.ui.common.reports), offscreen when there is no display.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.context import EXIT_OK, CliContext, Handler, by_action
from app.domain.errors import UsageError

FORMATS = (".pdf", ".html", ".htm")


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add the evidence sub-command to the top-level subparsers."""
    ev = sub.add_parser("evidence", help="evidence packs for a promotion request or a version")
    esub = ev.add_subparsers(dest="action", required=True, parser_class=parser_class)
    pack = esub.add_parser(
        "pack",
        help="write the evidence pack of a request (REQUEST) or of a version (MODEL VERSION)",
    )
    pack.add_argument("subject", nargs="+", metavar="REQUEST | MODEL VERSION")
    pack.add_argument("--out", required=True, help="FILE.pdf or FILE.html")
    pack.add_argument("--registry", help="the model's registry (when names clash)")
    pack.add_argument("--no-charts", action="store_true", help="leave the charts out")


def _pack(ctx: CliContext, args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"--out must name a .pdf or .html file, not '{out.name}'.")
    if not out.parent.is_dir():
        raise UsageError(f"The folder {out.parent} does not exist; create it or choose another.")
    match args.subject:
        case [request_id]:
            pack = ctx.evidence.for_request(request_id)
        case [model, version]:
            try:
                number = int(version)
            except ValueError:
                raise UsageError(f"'{version}' is not a version number.") from None
            pack = ctx.evidence.for_version(model, number, args.registry)
        case _:
            raise UsageError("Give a request id, or a model name and a version number.")
    from app.ui.common.reports.evidence_pdf import gui_application, write_pack

    _app = gui_application()  # kept alive while Qt lays the document out
    what = write_pack(pack, out, charts=not args.no_charts)
    head = f", ledger checkpoint {pack.checkpoint}" if pack.checkpoint else ""
    print(f"Wrote {out} ({what}): {pack.title}{head}.")
    return EXIT_OK


_EVIDENCE: dict[str, Handler] = {"pack": _pack}

# Top-level command -> handler.
COMMANDS: dict[str, Handler] = {"evidence": by_action(_EVIDENCE, "evidence")}
