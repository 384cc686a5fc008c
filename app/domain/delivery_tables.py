"""The delivery report as tables (the command line, the page and CSV export print the
same rows) and as JSON, and the period a person types."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.domain.delivery import (
    DeliveryFilter,
    DeliveryReport,
    Distribution,
    Rate,
    TeamFigures,
)
from app.domain.errors import UsageError

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_period(start: str | None, end: str | None, team: str | None = None) -> DeliveryFilter:
    """The filter for ``--from START --to END``: days (YYYY-MM-DD, whole UTC days, END
    included) or ISO times with an offset (END excluded)."""

    def parse(text: str, what: str, is_end: bool) -> datetime:
        text = text.strip()
        try:
            if _DAY_RE.match(text):
                day = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
                return day + timedelta(days=1) if is_end else day
            at = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"'{text}' is not a date for {what}: use YYYY-MM-DD (a whole UTC day) or an "
                "ISO time with an offset such as 2026-03-01T09:00+01:00."
            ) from None
        if at.tzinfo is None:
            raise UsageError(
                f"'{text}' for {what} has no time zone: add an offset (e.g. +00:00) or give "
                "a day as YYYY-MM-DD."
            )
        return at

    return DeliveryFilter(
        start=parse(start, "--from", False) if start else None,
        end=parse(end, "--to", True) if end else None,
        team=team.strip() if team and team.strip() else None,
    )


def hours(d: timedelta | None) -> str:
    """A duration as people read it: minutes under an hour, hours under two days, else days."""
    if d is None:
        return "—"
    s = d.total_seconds()
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def rate(r: Rate) -> str:
    value = r.value
    return "—" if value is None else f"{value:.0%} ({r.numerator} of {r.denominator})"


def _utc(at: datetime | None) -> str:
    return "" if at is None else f"{at:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class Table:
    """A table of the report: a title, what it shows, a header and rows of text."""

    key: str
    title: str
    caption: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


def _dist(d: Distribution) -> tuple[str, str, str]:
    return str(d.count), hours(d.median), hours(d.p90)


def _team_row(t: TeamFigures) -> tuple[str, ...]:
    return (
        t.team,
        str(t.promotions),
        hours(t.lead_time.median),
        hours(t.lead_time.p90),
        hours(t.request_to_decision.median),
        hours(t.decision_to_applied.median),
        rate(t.rollback_rate),
        rate(t.change_failure_rate),
        hours(t.time_to_restore.median),
        str(t.open_incidents),
    )


def tables(report: DeliveryReport) -> list[Table]:
    """Every table of the report, in the order the page and the command line show them."""
    o = report.overall
    summary = Table(
        "summary",
        "Summary",
        "Each measure over the period; medians and 90th percentiles of durations.",
        ("measure", "count", "median", "90th percentile", "rate"),
        [
            ("Lead time: registered → production", *_dist(o.lead_time), ""),
            ("Approval: request → decision", *_dist(o.request_to_decision), ""),
            ("Approval: decision → applied", *_dist(o.decision_to_applied), ""),
            ("Approval: request → applied", *_dist(o.request_to_applied), ""),
            ("Time to restore (drift, outage)", *_dist(o.time_to_restore), ""),
            ("Rollback rate", str(o.rollback_rate.denominator), "", "", rate(o.rollback_rate)),
            (
                "Change-failure rate",
                str(o.change_failure_rate.denominator),
                "",
                "",
                rate(o.change_failure_rate),
            ),
        ],
    )
    teams = Table(
        "teams",
        "By team",
        "Promotions and each measure per team (the model's team tag).",
        (
            "team",
            "promotions",
            "lead time median",
            "lead time p90",
            "request → decision",
            "decision → applied",
            "rollback rate",
            "change-failure rate",
            "time to restore",
            "open incidents",
        ),
        [_team_row(t) for t in report.teams],
    )
    months = Table(
        "frequency",
        "Promotion frequency",
        "Versions reaching production per team and calendar month (UTC); without a "
        "request: seen by a sync, made outside Gavel.",
        ("month", "team", "promotions", "with a request", "without a request"),
        [
            (m.month, m.team, str(m.promotions), str(m.with_request), str(m.without_request))
            for m in report.months
        ],
    )
    promotions = Table(
        "promotions",
        "Promotions",
        "Each version's first arrival in production, and what followed it.",
        (
            "promoted (UTC)",
            "team",
            "registry",
            "model",
            "version",
            "target",
            "request",
            "lead time",
            "failed by",
        ),
        [
            (
                _utc(p.at),
                p.team,
                p.registry,
                p.model,
                str(p.version),
                p.target,
                p.request_id or "none",
                hours(p.lead_time),
                p.failed_by,
            )
            for p in report.promotions
        ],
    )
    rollbacks = Table(
        "rollbacks",
        "Rollbacks",
        "Production moved back to an earlier version within 30 days of a promotion.",
        ("rolled back (UTC)", "team", "registry", "model", "target", "from", "to", "after"),
        [
            (
                _utc(r.at),
                r.team,
                r.registry,
                r.model,
                r.target,
                f"v{r.from_version}",
                f"v{r.to_version}",
                hours(r.after),
            )
            for r in report.rollbacks
        ],
    )
    incidents = Table(
        "incidents",
        "Incidents",
        "Serving drift (from the ledger) and outages (from endpoint polling), and when "
        "each was restored.",
        ("started (UTC)", "kind", "registry", "model", "endpoint", "restored (UTC)", "took"),
        [
            (
                _utc(i.started_at),
                i.kind.value,
                i.registry,
                i.model,
                i.endpoint,
                _utc(i.restored_at) or "not yet",
                hours(i.time_to_restore),
            )
            for i in report.incidents
        ],
    )
    return [summary, teams, months, promotions, rollbacks, incidents]


def _team_json(t: TeamFigures) -> dict[str, Any]:
    return {
        "team": t.team,
        "promotions": t.promotions,
        "lead_time": t.lead_time.to_json(),
        "approval_cycle": {
            "request_to_decision": t.request_to_decision.to_json(),
            "decision_to_applied": t.decision_to_applied.to_json(),
            "request_to_applied": t.request_to_applied.to_json(),
        },
        "rollback_rate": t.rollback_rate.to_json(),
        "change_failure_rate": t.change_failure_rate.to_json(),
        "time_to_restore": t.time_to_restore.to_json(),
        "open_incidents": t.open_incidents,
    }


def to_json(report: DeliveryReport) -> dict[str, Any]:
    """The report for ``--json``: figures with their counts, durations in hours, times UTC."""
    f = report.filter

    def iso(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat()

    return {
        "period": {"from": iso(f.start), "to_exclusive": iso(f.end)},
        "team": f.team,
        "overall": _team_json(report.overall),
        "teams": [_team_json(t) for t in report.teams],
        "frequency": [
            {
                "team": m.team,
                "month": m.month,
                "promotions": m.promotions,
                "with_request": m.with_request,
                "without_request": m.without_request,
            }
            for m in report.months
        ],
        "promotions": [
            {
                "at": iso(p.at),
                "team": p.team,
                "registry": p.registry,
                "model": p.model,
                "version": p.version,
                "target": p.target,
                "request_id": p.request_id,
                "lead_time_hours": None
                if p.lead_time is None
                else round(p.lead_time.total_seconds() / 3600, 4),
                "rolled_back_at": iso(p.rolled_back_at),
                "failed_by": p.failed_by or None,
            }
            for p in report.promotions
        ],
        "rollbacks": [
            {
                "at": iso(r.at),
                "team": r.team,
                "registry": r.registry,
                "model": r.model,
                "target": r.target,
                "from_version": r.from_version,
                "to_version": r.to_version,
            }
            for r in report.rollbacks
        ],
        "incidents": [
            {
                "kind": i.kind.value,
                "registry": i.registry,
                "model": i.model,
                "endpoint": i.endpoint,
                "started_at": iso(i.started_at),
                "restored_at": iso(i.restored_at),
            }
            for i in report.incidents
        ],
        "unknown_lead_time": report.unknown_lead_time,
    }


def csv_rows(table: Table) -> Sequence[Sequence[str]]:
    """The table as CSV rows, header first."""
    return [table.header, *table.rows]
