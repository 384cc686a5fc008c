"""What the banners and the status bar say (pure functions, no Qt needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.portfolio import RegistryStatus
from app.ui.common.formatting import aliases_text, relative_time
from app.ui.portfolio.console_state import (
    FailureKind,
    connectivity,
    failure_banner,
    freshness,
    shows_demo,
)

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


def test_status_bar_texts() -> None:
    assert connectivity([status("a", None)], set())[:2] == (None, "Not synced")
    # A success remembered from an earlier session is not proof of being online.
    assert connectivity([status("a")], set())[:2] == (None, "Cached data")
    assert connectivity([status("a")], {"a"})[:2] == (True, "Online")
    online, label, tip = connectivity([status("a"), status("b", error="down.")], {"a"})
    assert (online, label) == (False, "Offline") and tip == "b: last sync failed — down."
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
