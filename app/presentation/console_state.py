"""What the banners and the status bar say, computed from registry statuses.

Pure functions (no Qt) so the wording can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.portfolio import RegistryStatus
from app.domain.registry import LinkState, RegistryLink
from app.presentation.formatting import local_text, relative_time, utc_text

DEMO_BANNER = "Demo registry — sample data on a local MLflow server, not a real registry."
# In the demo profile, whose ledger holds the demo's made-up history.
DEMO_STORY_BANNER = (
    "Demo — sample models on a local MLflow server and seven months of made-up history "
    "(requests, approvals, a rejection, a rollback, reviews, a violation, drift), in a "
    "profile of its own: nothing here is a real record. To work on your own registry, "
    "add it with 'gavel registry add NAME --url URL' and start Gavel again."
)

# The status bar in an audit session (see services.bundles), instead of "No registries".
SESSION_STATUS = "Audit session (read-only)"


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


def link_state(name: str, links: Mapping[str, RegistryLink]) -> LinkState:
    """What this session knows of registry `name`: UNCHECKED until its first check."""
    link = links.get(name)
    return link.state if link is not None else LinkState.UNCHECKED


def state_word(state: LinkState) -> str:
    """'online', 'offline', 'auth failed', or 'checking…' before the first check."""
    return "checking…" if state is LinkState.UNCHECKED else state.value


def registry_line(status: RegistryStatus, links: Mapping[str, RegistryLink], now: datetime) -> str:
    """The sidebar's second line: 'online · synced 5 minutes ago', 'offline · never synced'."""
    if status.last_synced_at is None:
        synced = "never synced"
    else:
        synced = f"synced {relative_time(status.last_synced_at, now)}"
    return f"{state_word(link_state(status.name, links))} · {synced}"


def _failing(
    status: RegistryStatus, links: Mapping[str, RegistryLink], kinds: Mapping[str, FailureKind]
) -> str:
    """Why the banner should name this registry now ('' when it should not).

    A sync failure counts while nothing newer says the registry answers: a failure
    remembered from an earlier session shows only once a check of this session agrees
    (before that the registry is "checking…"), and a registry that came back is no
    longer called offline. A check that finds a registry down counts without a sync.
    """
    state = link_state(status.name, links)
    link = links.get(status.name)
    if state in (LinkState.OFFLINE, LinkState.AUTH_FAILED):
        return status.last_error or (link.message if link is not None else "") or state.value
    if not status.last_error:
        return ""
    kind = kinds.get(status.name)
    if kind is FailureKind.ERROR:
        return status.last_error  # reached, but the sync failed: still true
    if kind is FailureKind.OFFLINE and state is LinkState.UNCHECKED:
        return status.last_error
    return ""


def failure_banner(
    statuses: Sequence[RegistryStatus],
    selected: str | None,
    kinds: Mapping[str, FailureKind],
    now: datetime,
    links: Mapping[str, RegistryLink] | None = None,
) -> BannerText | None:
    """The offline/error banner for what is on screen, or None when all is well.

    kinds: what this session's syncs learnt about each failure. links: what the
    liveness checks and syncs of this session found (see `_failing`); None keeps the
    cached failures as they are (offline unless kinds says otherwise).
    """
    if links is None:
        reasons = {s.name: s.last_error for s in statuses if s.last_error}
    else:
        reasons = {s.name: _failing(s, links, kinds) for s in statuses}
    failed = [s for s in relevant(statuses, selected) if reasons.get(s.name)]
    if not failed:
        return None

    def offline(s: RegistryStatus) -> bool:
        if links is not None and link_state(s.name, links) is LinkState.AUTH_FAILED:
            return False
        if links is not None and link_state(s.name, links) is LinkState.OFFLINE:
            return True
        return kinds.get(s.name, FailureKind.OFFLINE) is FailureKind.OFFLINE

    kind = FailureKind.OFFLINE if all(offline(s) for s in failed) else FailureKind.ERROR
    headline = "Offline" if kind is FailureKind.OFFLINE else "Sync failed"
    if links is not None and all(
        link_state(s.name, links) is LinkState.AUTH_FAILED for s in failed
    ):
        headline = "Credentials refused"  # said by a check: no sync need have run
    synced = [s.last_synced_at for s in failed if s.last_synced_at is not None]
    if synced:
        oldest = min(synced)
        cached = f"showing cached data from {local_text(oldest)} ({relative_time(oldest, now)})."
    else:
        cached = "there is no cached data yet."
    if len(failed) == 1:
        reason = _sentence(reasons[failed[0].name])
        who = "" if selected is not None or len(statuses) == 1 else f"{failed[0].name}: "
        return BannerText(kind, f"{headline} — {who}{cached} {reason} Press F5 to retry.")
    names = ", ".join(s.name for s in failed)
    return BannerText(
        kind,
        f"{headline} — {len(failed)} registries could not be synced ({names}); {cached} "
        f"{_sentence(reasons[failed[0].name])} Press F5 to retry.",
    )


def shows_demo(statuses: Sequence[RegistryStatus], selected: str | None) -> bool:
    """The demo banner shows when the demo is what the window is showing."""
    shown = relevant(statuses, selected)
    return bool(shown) and all(s.is_demo for s in shown)


def connectivity(
    statuses: Sequence[RegistryStatus], links: Mapping[str, RegistryLink]
) -> tuple[bool | None, str, str]:
    """(online, label, tooltip) for the status bar: each registry counted on its own.

    links: what this session's checks and syncs found. Nothing remembered from an
    earlier session counts: a registry not checked yet is "checking…". online is True
    when every registry answers, False when one does not, None otherwise (checking).
    """
    if not statuses:
        return None, "No registries", "Add a registry, or start the demo."
    states = {s.name: link_state(s.name, links) for s in statuses}
    tooltip = "\n".join(
        f"{s.name}: {state_word(states[s.name])}"
        + (f" — {links[s.name].message}" if states[s.name] in _DOWN else "")
        for s in statuses
    )
    up = sum(1 for st in states.values() if st is LinkState.ONLINE)
    unchecked = sum(1 for st in states.values() if st is LinkState.UNCHECKED)
    if unchecked == len(statuses):
        label = "Checking…" if len(statuses) == 1 else f"Checking {len(statuses)} registries…"
        return None, label, tooltip
    if len(statuses) == 1:
        return up == 1, state_word(states[statuses[0].name]).capitalize(), tooltip
    label = f"{up} of {len(statuses)} registries online"
    if unchecked:
        label += f", {unchecked} checking…"
    down = sum(1 for st in states.values() if st in _DOWN)
    return (True if up == len(statuses) else False if down else None), label, tooltip


_DOWN = (LinkState.OFFLINE, LinkState.AUTH_FAILED)


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
