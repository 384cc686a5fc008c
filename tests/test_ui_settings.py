"""The Settings page: solo or team, joining a team ledger from the console (a fresh
profile joins; one whose own ledger holds events is refused and keeps its profile;
a URL that is no database says so), and where secrets are kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.stores.profile_file import ProfileFile
from app.ui.console import Console, build_console
from app.ui.settings.settings_page import SETTINGS_PAGE, SettingsPage
from tests.ui_helpers import make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

TIMEOUT = 30_000


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    console = build_console(ctx)
    console.window.resize(1024, 640)
    console.window.show()
    qtbot.waitExposed(console.window)
    try:
        yield console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _page(console: Console) -> SettingsPage:
    assert console.window.pages.select(SETTINGS_PAGE)
    return console.settings.page


def test_a_fresh_profile_joins_a_team_ledger_from_settings(
    console: Console, ctx: AppContext, qtbot: QtBot, pg_database_url: str
) -> None:
    page = _page(console)
    assert page.ledger_mode.text() == "Solo ledger (this computer only)"
    assert page.secrets.text() == ctx.credentials.describe()
    assert not page.join_button.isEnabled()
    assert page.join_button.toolTip() == "Enter the team ledger's database URL."

    # Not a database URL: one sentence, nothing changed.
    qtbot.keyClicks(page.url, "http://ledger.example.com")
    page.join_button.click()
    qtbot.waitUntil(page.outcome.isVisible, timeout=TIMEOUT)
    assert page.outcome.text().startswith("Not joined: ")
    assert ProfileFile(ctx.paths.profile_file).load().team_ledger_url == ""

    page.url.setText(pg_database_url)
    page.join_button.click()
    qtbot.waitUntil(lambda: "now uses the team ledger" in page.outcome.text(), timeout=TIMEOUT)
    assert "Restart Gavel" in page.outcome.text()
    assert ProfileFile(ctx.paths.profile_file).load().team_ledger_url != ""
    assert not page.join_button.isEnabled()
    save_screenshot(console.window, "settings_joined")


def test_a_profile_with_its_own_events_is_refused_and_keeps_its_ledger(
    console: Console, ctx: AppContext, qtbot: QtBot, pg_database_url: str
) -> None:
    ctx.membership.init_identity("sam", "Sam", (), "sam-passphrase")  # solo work
    page = _page(console)
    page.url.setText(pg_database_url)
    page.join_button.click()
    qtbot.waitUntil(page.outcome.isVisible, timeout=TIMEOUT)
    text = page.outcome.text()
    assert text.startswith("Not joined: ") and "cannot become the replica" in text
    assert "gavel audit export" in text
    assert ProfileFile(ctx.paths.profile_file).load().team_ledger_url == ""
    assert ctx.audit.count() > 1


def test_a_plaintext_keyring_is_said_once_at_start(tmp_path: Path, qtbot: QtBot) -> None:
    from keyrings.alt.file import PlaintextKeyring

    from app.bootstrap import build_context
    from app.connectors.credentials import CredentialStore
    from app.stores.paths import resolve_paths

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    # environ={}: not allowed by the test run's GAVEL_ALLOW_PLAINTEXT_KEYRING.
    credentials = CredentialStore(backend, environ={})
    assert not credentials.persistent
    home = resolve_paths({"GAVEL_HOME": str(tmp_path / "home")})
    ctx = build_context(home, credentials=credentials)
    console = build_console(ctx)
    try:
        console.window.show()
        qtbot.waitExposed(console.window)
        notice = console.window.notice_banner
        qtbot.waitUntil(notice.isVisible, timeout=TIMEOUT)
        assert notice.label.text() == credentials.describe()
        assert "plaintext file" in notice.label.text() and "session only" in notice.label.text()
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        ctx.close()
