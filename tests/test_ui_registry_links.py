"""Connectivity per registry in the window: each registry in the sidebar says whether
it answers (checked this session, never remembered from the last) and when it was
synced; the status bar counts them; a server that goes away and comes back is seen by
the liveness check without a sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.registry import AuthKind, RegistryConfig
from app.services.mlflow_process import MlflowServerProcess, free_port
from app.stores.snapshot_writer import SnapshotWriter
from app.ui.console import Console, build_console
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import ROOT, dead_url, make_context, no_leaks, seed_cache

pytestmark = [
    pytest.mark.gui,
    pytest.mark.usefixtures("no_leaks"),
]
__all__ = ["no_leaks"]

TIMEOUT_MS = 60_000
REVIEW = ROOT / "screenshots-review"


def _review(widget: object, name: str) -> None:
    """Screenshots to look at, not committed (the folder is ignored)."""
    REVIEW.mkdir(exist_ok=True)
    QCoreApplication.processEvents()
    widget.grab().save(str(REVIEW / f"{name}.png"))  # type: ignore[attr-defined]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    console.window.activateWindow()
    qtbot.waitUntil(console.window.isActiveWindow)
    return console


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _line(console: Console, name: str) -> str:
    return console.portfolio.sidebar.state_text(name)


def _check(console: Console, qtbot: QtBot) -> None:
    """What the minute timer does, now; waits until the check has come back."""
    links = console.portfolio.links
    assert links.timer.interval() == 60_000
    handle = links.check_now()
    assert handle is not None
    qtbot.waitUntil(lambda: handle.done, timeout=TIMEOUT_MS)


@pytest.mark.integration
def test_one_failing_registry_leaves_the_other_online(
    ctx: AppContext, seeded_registry: MlflowRegistry, qtbot: QtBot
) -> None:
    ctx.registries.add(seeded_registry.config("good"))
    ctx.registries.add(RegistryConfig(name="gone", url=dead_url(), timeout_s=2.0))
    # Last session: "good" failed once, "gone" has a cached snapshot.
    seed_cache(ctx, "gone", 3)
    SnapshotWriter(ctx.db).record_failure(
        "good", seeded_registry.url, datetime.now(UTC), "The registry could not be reached."
    )
    console = _open(ctx, qtbot)
    try:
        portfolio = console.portfolio
        # Before this session's first check nothing earlier is shown as current.
        assert _line(console, "good") == "checking… · never synced"
        assert _line(console, "gone").startswith("checking… · synced ")
        assert portfolio.status.connectivity.text() == "Checking 2 registries…"
        assert portfolio.failure_banner.isHidden()
        _review(portfolio.sidebar, "sidebar-checking")

        QTest.keyClick(console.window, Qt.Key.Key_F5)  # 'All registries': both
        qtbot.waitUntil(lambda: portfolio.settled, timeout=TIMEOUT_MS)
        assert _line(console, "good") == "online · synced just now"
        assert _line(console, "gone").startswith("offline · synced ")
        assert portfolio.status.connectivity.text() == "1 of 2 registries online"
        assert portfolio.status.online is False
        tip = portfolio.status.connectivity.toolTip()
        assert "good: online" in tip and "gone: offline — " in tip
        assert portfolio.failure_banner.isVisible()
        assert "gone:" in portfolio.failure_banner.label.text()
        _review(portfolio.sidebar, "sidebar-one-online-one-offline")
        _review(console.window, "window-one-online-one-offline")

        # The liveness check agrees, on its own, and keeps "good" online.
        _check(console, qtbot)
        assert portfolio.status.connectivity.text() == "1 of 2 registries online"
        assert _line(console, "good").startswith("online")
    finally:
        _close(console)


@pytest.mark.integration
def test_a_server_that_goes_away_and_comes_back_is_noticed(
    ctx: AppContext, qtbot: QtBot, tmp_path: Path
) -> None:
    server = MlflowServerProcess(tmp_path / "mlflow", port=free_port(), workers=1).start()
    console = None
    try:
        ctx.registries.add(RegistryConfig(name="solo", url=server.url, timeout_s=5.0))
        console = _open(ctx, qtbot)
        portfolio = console.portfolio
        assert portfolio.status.connectivity.text() == "Checking…"
        _check(console, qtbot)
        assert _line(console, "solo") == "online · never synced"
        assert portfolio.status.connectivity.text() == "Online"

        server.stop()
        _check(console, qtbot)
        qtbot.waitUntil(lambda: _line(console, "solo").startswith("offline"), timeout=TIMEOUT_MS)
        assert portfolio.status.connectivity.text() == "Offline"
        assert portfolio.failure_banner.isVisible()  # found by the check, no sync needed
        _review(portfolio.sidebar, "sidebar-server-gone")

        server.start()  # same port: the registry's URL is unchanged
        _check(console, qtbot)
        qtbot.waitUntil(lambda: _line(console, "solo").startswith("online"), timeout=TIMEOUT_MS)
        assert portfolio.status.connectivity.text() == "Online"
        assert portfolio.failure_banner.isHidden()
    finally:
        if console is not None:
            _close(console)
        server.stop()


def test_checks_start_after_the_first_paint_and_name_refused_credentials(
    ctx: AppContext, qtbot: QtBot
) -> None:
    # A token read from a variable that is not set: the check says so, without a server.
    ctx.registries.add(
        RegistryConfig(
            name="locked",
            url=dead_url(),
            auth=AuthKind.BEARER,
            secret_env="GAVEL_TEST_UNSET_TOKEN",
        )
    )
    console = _open(ctx, qtbot)
    try:
        portfolio = console.portfolio
        assert not portfolio.links.timer.isActive()  # nothing before the window is up
        portfolio.start(start_demo=False)
        qtbot.waitUntil(portfolio.links.timer.isActive)
        qtbot.waitUntil(lambda: _line(console, "locked").startswith("auth failed"))
        assert _line(console, "locked") == "auth failed · never synced"
        assert portfolio.status.connectivity.text() == "Auth failed"
        assert "GAVEL_TEST_UNSET_TOKEN" in portfolio.status.connectivity.toolTip()
        assert portfolio.failure_banner.isVisible()
        assert portfolio.failure_banner.kind == "error"  # refused, not offline
        assert portfolio.failure_banner.label.text().startswith("Credentials refused — ")
        _review(portfolio.sidebar, "sidebar-auth-failed")
    finally:
        _close(console)
