"""What the banners and the status bar say (pure functions, no Qt needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.portfolio import RegistryStatus
from app.domain.registry import LinkState, RegistryLink
from app.presentation.console_state import (
    FailureKind,
    connectivity,
    failure_banner,
    freshness,
    registry_line,
    shows_demo,
)
from app.presentation.formatting import aliases_text, relative_time

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def status(
    name: str,
    synced_minutes_ago: int | None = 5,
    error: str = "",
    demo: bool = False,
) -> RegistryStatus:
    synced = None if synced_minutes_ago is None else NOW - timedelta(minutes=synced_minutes_ago)
    return RegistryStatus(name, f"http://{name}", demo, synced, error, 3)


def test_offline_banner_names_the_cached_time_the_reason_and_f5() -> None:
    statuses = [status("prod", 12, "The registry at http://prod could not be reached")]
    banner = failure_banner(statuses, None, {}, NOW)
    assert banner is not None and banner.kind is FailureKind.OFFLINE
    local = (NOW - timedelta(minutes=12)).astimezone().strftime("%Y-%m-%d %H:%M")
    assert banner.text == (
        f"Offline — showing cached data from {local} (12 minutes ago). "
        "The registry at http://prod could not be reached. Press F5 to retry."
    )


def test_refused_credentials_are_not_called_offline() -> None:
    statuses = [status("prod", 60, "The registry rejected the credentials.")]
    banner = failure_banner(statuses, "prod", {"prod": FailureKind.ERROR}, NOW)
    assert banner is not None and banner.kind is FailureKind.ERROR
    assert banner.text.startswith("Sync failed — showing cached data from ")


def test_banner_follows_the_selected_registry_and_counts_several() -> None:
    statuses = [status("a", 5, "down."), status("b", 30, "down too."), status("c")]
    assert failure_banner(statuses, "c", {}, NOW) is None
    banner = failure_banner(statuses, None, {}, NOW)
    assert banner is not None
    assert "2 registries could not be synced (a, b)" in banner.text
    assert "(30 minutes ago)" in banner.text  # the oldest cache is the one quoted
    never = failure_banner([status("new", None, "down.")], None, {}, NOW)
    assert never is not None and "there is no cached data yet" in never.text


def link(name: str, state: LinkState, message: str = "") -> RegistryLink:
    return RegistryLink(name, state, NOW, message)


def test_status_bar_counts_each_registry_on_its_own() -> None:
    # Nothing from an earlier session counts: not checked yet is "checking…".
    assert connectivity([status("a")], {})[:2] == (None, "Checking…")
    assert connectivity([status("a", error="down.")], {})[:2] == (None, "Checking…")
    assert connectivity([status("a"), status("b")], {})[:2] == (None, "Checking 2 registries…")
    assert connectivity([status("a")], {"a": link("a", LinkState.ONLINE)})[:2] == (True, "Online")
    three = [status("a"), status("b", error="down."), status("c")]
    links = {
        "a": link("a", LinkState.ONLINE),
        "b": link("b", LinkState.OFFLINE, "refused"),
        "c": link("c", LinkState.ONLINE),
    }
    online, label, tip = connectivity(three, links)
    assert (online, label) == (False, "2 of 3 registries online")
    assert tip == "a: online\nb: offline — refused\nc: online"
    del links["c"]
    assert connectivity(three, links)[1] == "1 of 3 registries online, 1 checking…"
    links["b"] = link("b", LinkState.AUTH_FAILED, "401")
    assert "b: auth failed — 401" in connectivity(three, links)[2]


def test_sidebar_line_says_state_and_last_sync() -> None:
    links = {"a": link("a", LinkState.ONLINE)}
    assert registry_line(status("a", 5), links, NOW) == "online · synced 5 minutes ago"
    assert registry_line(status("b", None), {}, NOW) == "checking… · never synced"
    down = {"c": link("c", LinkState.AUTH_FAILED)}
    assert registry_line(status("c", 90), down, NOW) == "auth failed · synced 1 hour ago"


def test_banner_trusts_this_session_not_the_last() -> None:
    old = [status("prod", 60, "could not be reached")]
    # Last session's failure: not shown as current before this session's first check.
    assert failure_banner(old, None, {}, NOW, {}) is None
    # The check finds it down: offline, whatever the cache remembered.
    banner = failure_banner(old, None, {}, NOW, {"prod": link("prod", LinkState.OFFLINE)})
    assert banner is not None and banner.kind is FailureKind.OFFLINE
    # The check finds it up again: no longer called offline.
    up = {"prod": link("prod", LinkState.ONLINE)}
    assert failure_banner(old, None, {"prod": FailureKind.OFFLINE}, NOW, up) is None
    # Reached but the sync failed this session: still true once it answers.
    assert failure_banner(old, None, {"prod": FailureKind.ERROR}, NOW, up) is not None
    # Found down by a check with nothing failed in the cache: the check's words.
    fine = [status("prod", 3)]
    banner = failure_banner(
        fine, None, {}, NOW, {"prod": link("prod", LinkState.OFFLINE, "Connection refused")}
    )
    assert banner is not None and "Connection refused." in banner.text


def test_status_bar_texts() -> None:
    assert freshness([status("a", 5), status("b", 90)], None, NOW)[0] == "Synced 1 hour ago"
    assert freshness([status("a", 5), status("b", 90)], "a", NOW)[0] == "Synced 5 minutes ago"
    assert freshness([status("a", None)], None, NOW) == ("", "")


def test_demo_banner_only_when_the_demo_is_what_is_shown() -> None:
    demo, prod = status("demo", demo=True), status("prod")
    assert shows_demo([demo], None)
    assert shows_demo([demo, prod], "demo")
    assert not shows_demo([demo, prod], None)
    assert not shows_demo([], None)


def test_relative_times_and_aliases() -> None:
    assert relative_time(NOW - timedelta(seconds=20), NOW) == "just now"
    assert relative_time(NOW - timedelta(minutes=1), NOW) == "1 minute ago"
    assert relative_time(NOW - timedelta(hours=26), NOW) == "yesterday"
    assert relative_time(NOW - timedelta(days=3), NOW) == "3 days ago"
    assert aliases_text({"production": 4, "champion": 4, "challenger": 5}) == (
        "challenger → v5 · champion, production → v4"
    )
    assert aliases_text({}) == ""
