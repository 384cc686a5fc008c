"""CSV exports for managers: the overview's figures and the portfolio's models, for a
spreadsheet or a meeting. Qt-free; written whole to a temporary file, then moved into
place, so a failed export never leaves half a file under the chosen name."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from app.domain.errors import GavelError
from app.domain.overview import Overview
from app.domain.portfolio import PortfolioRow
from app.domain.review_schedule import ReviewDue, serves_production

OVERVIEW_HEADER = ("section", "figure", "value", "detail", "list", "models")
PORTFOLIO_HEADER = (
    "registry",
    "model",
    "team",
    "owner",
    "risk_tier",
    "latest_version",
    "versions",
    "aliases",
    "in_production",
    "review_state",
    "review_due",
)


def overview_csv(o: Overview) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(OVERVIEW_HEADER)
    for f in o.figures:
        models = "; ".join(f"{r}/{m}" for r, m in f.drill.models)
        listed = models or "; ".join(f.drill.requests or f.drill.endpoints)
        w.writerow((f.section, f.label, f.value, f.detail, f.drill.title, listed))
    for t in o.teams:
        production = f"in production: {t.by_alias} by alias, {t.by_stage} by stage"
        team = f"{t.registry} / {t.team}"
        w.writerow(("By registry and team", team, t.models, production, t.drill.title, ""))
    return out.getvalue()


def portfolio_csv(rows: Sequence[PortfolioRow], schedule: Sequence[ReviewDue] = ()) -> str:
    due = {(d.version.registry, d.version.model): d for d in schedule}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(PORTFOLIO_HEADER)
    for r in rows:
        d = due.get((r.registry, r.name))
        live = [f"v{v}" for a, v in r.aliases.items() if serves_production(a)]
        w.writerow(
            (
                r.registry,
                r.name,
                r.team,
                r.owner,
                r.risk_tier,
                "" if r.latest_version is None else r.latest_version,
                r.version_count,
                "; ".join(f"{a}=v{v}" for a, v in sorted(r.aliases.items())),
                ", ".join(live) or (f"v{d.version.version}" if d else ""),
                d.state.value if d else "",
                f"{d.due_at:%Y-%m-%d}" if d and d.due_at else "",
            )
        )
    return out.getvalue()


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8 with a BOM, so spreadsheets read accents)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8-sig", newline="")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GavelError(
            f"Could not write {path}: {exc.strerror or exc}. Choose another folder."
        ) from None
    return path
