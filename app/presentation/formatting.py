"""How times, counts and risk read in the console: relative for scanning, UTC for the
record, the same colours and counts on every page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the domain's portfolio types: not before the first paint
    from app.domain.portfolio import VersionRow
    from app.domain.progress import Progress


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def relative_time(when: datetime, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', 'yesterday', '3 days ago', then a date."""
    now = now or datetime.now(UTC)
    seconds = (now - when).total_seconds()
    if seconds < 0:
        return "just now" if seconds > -60 else local_text(when)
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return _plural(minutes, "minute") + " ago"
    hours = minutes // 60
    if hours < 24:
        return _plural(hours, "hour") + " ago"
    days = hours // 24
    if days == 1:
        return "yesterday"
    if days < 30:
        return f"{days} days ago"
    return when.astimezone().strftime("%d %b %Y")


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_text(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def aliases_text(aliases: Mapping[str, int]) -> str:
    """'challenger → v5 · champion, production → v4': grouped by version, newest first.

    Grouping keeps the line short enough for a table cell, and the version most
    aliases point at (usually what serves) is not cut off at the end.
    """
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    return " · ".join(
        f"{', '.join(sorted(names))} → v{version}"
        for version, names in sorted(by_version.items(), reverse=True)
    )


def version_label(v: VersionRow) -> str:
    """A version with the aliases it holds: 'v4 · champion, production'."""
    return f"v{v.version} · {', '.join(v.aliases)}" if v.aliases else f"v{v.version}"


def badge_text(title: str, count: int | None) -> str:
    """'Approvals (3)'; no count (None or 0) shows the bare title."""
    return f"{title} ({count:,})" if count else title


def progress_text(progress: Progress) -> str:
    """'demo: reading runs 40 of 120' — counts a person can follow."""
    if progress.total:
        return f"{progress.phase} {progress.done:,} of {progress.total:,}"
    if progress.done:
        return f"{progress.phase} ({progress.done:,})"
    return f"{progress.phase}…"


# Risk tier words seen in registries, mapped to a traffic-light colour.
_RISK_COLORS = {
    "unacceptable": "#b91c1c",
    "critical": "#b91c1c",
    "high": "#dc2626",
    "medium": "#d97706",
    "moderate": "#d97706",
    "limited": "#d97706",
    "low": "#16a34a",
    "minimal": "#16a34a",
}
MISSING_COLOR = "#94a3b8"


def risk_color(tier: str) -> str:
    return _RISK_COLORS.get(tier.strip().lower(), "#64748b") if tier else MISSING_COLOR
