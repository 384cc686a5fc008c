"""What the banners and the status bar say, computed from registry statuses.

Pure functions (no Qt) so the wording can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.portfolio import RegistryStatus
from app.ui.common.formatting import local_text, relative_time, utc_text

DEMO_BANNER = "Demo registry — sample data on a local MLflow server, not a real registry."


class FailureKind(StrEnum):
    OFFLINE = "offline"  # could not reach the registry
    ERROR = "error"  # reached it, but the sync failed (credentials, permissions, bad data)


@dataclass(frozen=True)
class BannerText:
    kind: FailureKind
    text: str


def relevant(statuses: Sequence[RegistryStatus], selected: str | None) -> list[RegistryStatus]:
    """The registries the window is showing: the selected one, or all."""
    if selected is None:
        return list(statuses)
    return [s for s in statuses if s.name == selected]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def failure_banner(
    statuses: Sequence[RegistryStatus],
    selected: str | None,
    kinds: Mapping[str, FailureKind],
    now: datetime,
) -> BannerText | None:
    """The offline/error banner for what is on screen, or None when all is well.

    kinds: what this session learnt about each failure; a failure remembered from an
    earlier session (only its sentence is cached) counts as offline.
    """
    failed = [s for s in relevant(statuses, selected) if s.last_error]
    if not failed:
        return None
    kind = (
        FailureKind.OFFLINE
        if all(kinds.get(s.name, FailureKind.OFFLINE) is FailureKind.OFFLINE for s in failed)
        else FailureKind.ERROR
    )
    headline = "Offline" if kind is FailureKind.OFFLINE else "Sync failed"
    synced = [s.last_synced_at for s in failed if s.last_synced_at is not None]
    if synced:
        oldest = min(synced)
        cached = f"showing cached data from {local_text(oldest)} ({relative_time(oldest, now)})."
    else:
        cached = "there is no cached data yet."
    if len(failed) == 1:
        reason = _sentence(failed[0].last_error)
        who = "" if selected is not None or len(statuses) == 1 else f"{failed[0].name}: "
        return BannerText(kind, f"{headline} — {who}{cached} {reason} Press F5 to retry.")
    names = ", ".join(s.name for s in failed)
    return BannerText(
        kind,
        f"{headline} — {len(failed)} registries could not be synced ({names}); {cached} "
        f"{_sentence(failed[0].last_error)} Press F5 to retry.",
    )


def shows_demo(statuses: Sequence[RegistryStatus], selected: str | None) -> bool:
    """The demo banner shows when the demo is what the window is showing."""
    shown = relevant(statuses, selected)
    return bool(shown) and all(s.is_demo for s in shown)


def connectivity(
    statuses: Sequence[RegistryStatus], checked: Set[str]
) -> tuple[bool | None, str, str]:
    """(online, label, tooltip) for the status bar.

    checked: registries synced (or tried) in this session. Only those prove the
    console is online; a success remembered from yesterday does not.
    """
    failed = [s for s in statuses if s.last_error]
    if failed:
        lines = [f"{s.name}: last sync failed — {s.last_error}" for s in failed]
        return False, "Offline", "\n".join(lines)
    if any(s.name in checked for s in statuses):
        return True, "Online", "\n".join(f"{s.name}: last sync succeeded" for s in statuses)
    if any(s.last_synced_at is not None for s in statuses):
        return None, "Cached data", "Showing what the last sync cached. Press F5 to sync now."
    return None, "Not synced", "No registry has been synced yet. Press F5 to sync."


def freshness(
    statuses: Sequence[RegistryStatus], selected: str | None, now: datetime
) -> tuple[str, str]:
    """('Synced 5 minutes ago', per-registry tooltip) for what is on screen.

    With several registries the oldest successful sync is the one quoted: the data
    on screen is at least that fresh.
    """
    shown = relevant(statuses, selected)
    synced = [s for s in shown if s.last_synced_at is not None]
    if not synced:
        return "", ""  # the connectivity label already says "Not synced"
    oldest = min(s.last_synced_at for s in synced if s.last_synced_at is not None)
    tooltip = "\n".join(
        f"{s.name}: synced {relative_time(s.last_synced_at, now)} ({utc_text(s.last_synced_at)})"
        if s.last_synced_at is not None
        else f"{s.name}: never synced"
        for s in shown
    )
    return f"Synced {relative_time(oldest, now)}", tooltip


class EmptyAction(StrEnum):
    ADD_REGISTRY = "add_registry"
    START_DEMO = "start_demo"
    CLEAR_FILTER = "clear_filter"
    SYNC = "sync"


@dataclass(frozen=True)
class EmptyContent:
    title: str
    text: str
    actions: tuple[EmptyAction, ...] = ()


def portfolio_empty_state(
    statuses: Sequence[RegistryStatus],
    selected: str | None,
    filter_text: str,
    *,
    syncing: bool,
    starting_demo: bool,
) -> EmptyContent:
    """What the portfolio pane says when it has no row to show, and what it offers."""
    if starting_demo:
        return EmptyContent(
            "Starting the demo registry…",
            "A local MLflow server with sample models is being prepared. The first start "
            "seeds it and takes a little longer.",
        )
    if not statuses:
        return EmptyContent(
            "No registries yet",
            "Add the MLflow registry your models live in, or start the demo to explore "
            "Gavel with sample data.",
            (EmptyAction.ADD_REGISTRY, EmptyAction.START_DEMO),
        )
    if filter_text.strip():
        return EmptyContent(
            f"No models match “{filter_text.strip()}”",
            "The filter looks at model name, owner, team and risk tier.",
            (EmptyAction.CLEAR_FILTER,),
        )
    if syncing:
        return EmptyContent("Syncing…", "The models appear here as soon as the sync has finished.")
    if all(s.last_synced_at is None for s in relevant(statuses, selected)):
        return EmptyContent(
            f"{selected} has not been synced yet" if selected else "Nothing synced yet",
            "Sync to copy the registry's models into the local cache; after that they stay "
            "readable offline.",
            (EmptyAction.SYNC,),
        )
    return EmptyContent(
        "No registered models",
        "The registry has no registered models yet. They appear here after the next sync "
        "once someone registers one.",
    )
