"""Stage one of the console's start: the cached portfolio's first screen, painted
before SQLAlchemy, the services and the other features are imported."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.ui.console import attach_features, open_first_screen
from app.ui.overview.first_screen import OVERVIEW_PAGE, OverviewFirstScreen
from app.ui.portfolio.first_screen import PORTFOLIO_PAGE, FirstScreenTable, read_first_screen
from app.ui.portfolio.portfolio_model import Column
from tests.ui_helpers import make_context, no_leaks, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    seed_cache(context, "alpha", 80, prefix="alpha")
    seed_cache(context, "beta", 5, prefix="beta")
    try:
        yield context
    finally:
        context.close()


def test_first_screen_reads_the_first_rows_by_name_read_only(ctx: AppContext) -> None:
    cache = ctx.paths.cache_db
    rows = read_first_screen(cache, limit=10)
    assert [r.name for r in rows] == sorted(r.name for r in rows)
    assert len(rows) == 10 and rows[0].registry == "alpha"
    [beta] = read_first_screen(cache, registry="beta", limit=1)
    assert beta.registry == "beta"
    # The real portfolio model shows the same first rows, in the same words.
    full = ctx.portfolio.all_rows("beta")[0]
    cells = beta.cells()
    assert cells[Column.MODEL] == full.name
    assert cells[Column.VERSIONS] == str(full.version_count)


def test_no_cache_or_a_foreign_file_gives_no_rows(tmp_path: Path) -> None:
    assert read_first_screen(tmp_path / "missing.sqlite3") == []
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    assert read_first_screen(junk) == []


def test_the_first_screen_imports_nothing_heavy() -> None:
    """The modules of stage one keep SQLAlchemy, the services, requests and matplotlib
    out of the process until the first frame is painted."""
    code = (
        "import json, sys; import app.ui.main, app.ui.console;"
        " print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('sqlalchemy', 'requests', 'matplotlib', 'keyring')"
        " or m.startswith('app.services') or m.startswith('app.ui.governance'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert json.loads(out.stdout) == []


def test_the_portfolio_page_takes_the_first_screens_place(ctx: AppContext, qtbot: QtBot) -> None:
    window, _ = open_first_screen(ctx.paths)
    qtbot.addWidget(window)
    first = window.pages.page(PORTFOLIO_PAGE)
    assert isinstance(first, FirstScreenTable)
    assert first.model().rowCount() == 60
    window.show()
    qtbot.waitUntil(lambda: window.first_paint.opened)
    window.add_page("later", "Later", QWidget())
    page = QWidget()
    window.add_page(PORTFOLIO_PAGE, "Portfolio", page)
    assert window.pages.keys() == [OVERVIEW_PAGE, PORTFOLIO_PAGE, "later"]
    assert window.pages.page(PORTFOLIO_PAGE) is page
    # The console opens on the Overview; replacing another page's stand-in keeps it there.
    assert window.pages.current_key == OVERVIEW_PAGE
    window.select_page(PORTFOLIO_PAGE)
    assert window.pages.stack.currentWidget() is page
    window.close()


def test_the_console_opens_on_the_overview_and_never_shows_another_page_first(
    ctx: AppContext, qtbot: QtBot
) -> None:
    """Stage one paints the Overview's first screen (the cache's figures by risk tier);
    the real Overview page takes its place once it has read the ledger: the window goes
    from one to the other, with no portfolio and no empty page in between."""
    window, runner = open_first_screen(ctx.paths)
    first = window.pages.page(OVERVIEW_PAGE)
    assert isinstance(first, OverviewFirstScreen)
    tiers = [row.risk_tier.strip().lower() for row in ctx.portfolio.all_rows()]
    assert first.counts is not None and first.counts.total == len(tiers) == 85
    assert first.counts.high == tiers.count("high")
    assert first.counts.none == sum(1 for t in tiers if t not in ("high", "medium", "low"))
    shown: list[str] = []
    window.pages.stack.currentChanged.connect(
        lambda _i: shown.append(type(window.pages.stack.currentWidget()).__name__)
    )
    window.show()
    qtbot.waitUntil(lambda: window.first_paint.opened)
    assert window.pages.stack.currentWidget() is first
    console = attach_features(window, runner, ctx)
    try:
        qtbot.waitUntil(lambda: console.overview.settled, timeout=20_000)
        assert window.pages.current_key == OVERVIEW_PAGE
        assert window.pages.stack.currentWidget() is console.overview.page
        assert console.overview.page.buttons["tier.high"].figure.value == first.counts.high
        assert shown == ["OverviewPage"], shown
    finally:
        window.close()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
