"""The portfolio table model: ids only, rows fetched lazily, sort and filter in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.portfolio import PortfolioSort
from app.ui.portfolio.portfolio_model import MODEL_KEY_ROLE, Column, PortfolioModel
from app.ui.portfolio.portfolio_view import PortfolioView
from app.ui.portfolio.versions_model import VersionsModel
from tests.ui_helpers import SpyPortfolio, make_context, no_leaks, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

DISPLAY = Qt.ItemDataRole.DisplayRole


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    seed_cache(context, "alpha", 150, prefix="alpha")
    seed_cache(context, "beta", 100, prefix="beta")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def spy(ctx: AppContext) -> SpyPortfolio:
    return SpyPortfolio(ctx.portfolio)


def _names(model: PortfolioModel) -> list[str]:
    return [model.data(model.index(r, Column.MODEL)) for r in range(model.rowCount())]


def test_model_passes_qt_model_tester(ctx: AppContext, qtmodeltester: ModelTester) -> None:
    model = PortfolioModel(ctx.portfolio, block_size=40, cache_rows=80)
    model.refresh()
    qtmodeltester.check(model, force_py=True)
    model.sort(Column.VERSIONS, Qt.SortOrder.DescendingOrder)
    model.set_filter(text="alpha-00")
    model.set_filter(registry="beta")
    model.refresh()
    assert model.rowCount() == 0  # 'alpha-00' within registry beta


def test_versions_model_passes_qt_model_tester(ctx: AppContext, qtmodeltester: ModelTester) -> None:
    model = VersionsModel()
    qtmodeltester.check(model, force_py=True)
    key = ctx.portfolio.model_keys("alpha-0003")[0]
    detail = ctx.portfolio.model_detail(key)
    assert detail is not None
    model.set_versions(detail.versions)
    assert model.rowCount() == 4
    assert model.data(model.index(0, 0)) == "v4"  # newest first


def test_rows_are_fetched_only_for_the_block_asked_for(spy: SpyPortfolio) -> None:
    model = PortfolioModel(spy, block_size=50, cache_rows=100)
    model.refresh()
    assert model.rowCount() == 250
    assert spy.row_requests == []  # ids only until a view asks for data

    keys = [model.key_at(r) for r in range(250)]
    model.data(model.index(120, Column.OWNER), DISPLAY)
    assert spy.row_requests == [keys[100:150]]

    # Same block, other rows and columns: served from the row cache.
    for r in (100, 149, 133):
        for c in Column:
            model.data(model.index(r, c), DISPLAY)
    assert len(spy.row_requests) == 1
    # Roles that need no row (the key, alignment) never touch the cache.
    assert model.data(model.index(5, 0), MODEL_KEY_ROLE) == keys[5]
    model.data(model.index(5, Column.VERSIONS), Qt.ItemDataRole.TextAlignmentRole)
    assert len(spy.row_requests) == 1

    model.data(model.index(0, 0), DISPLAY)
    model.data(model.index(249, 0), DISPLAY)
    assert spy.row_requests[1:] == [keys[0:50], keys[200:250]]
    # The LRU keeps at most cache_rows rows; the oldest block went first.
    assert model.cached_row_count() == 100
    model.data(model.index(120, 0), DISPLAY)
    assert spy.row_requests[-1] == keys[100:150]
    assert spy.rows_fetched == 200


def test_view_fetches_only_what_is_visible(spy: SpyPortfolio, qtbot: QtBot) -> None:
    model = PortfolioModel(spy, block_size=50)
    view = PortfolioView(model)
    qtbot.addWidget(view)
    view.resize(900, 400)
    model.refresh()
    view.show()
    qtbot.waitExposed(view)
    view.grab()  # paints synchronously: the view asks for what it shows
    assert model.rowCount() == 250
    # 400 px show ~14 rows: the first block of 50, not the 250.
    assert spy.rows_fetched == 50


def test_sort_runs_in_sql_and_keeps_persistent_indexes(spy: SpyPortfolio) -> None:
    model = PortfolioModel(spy)
    model.refresh()
    names = _names(model)
    assert names == sorted(names, key=str.lower)

    tracked = QPersistentModelIndex(model.index(10, Column.MODEL))
    tracked_name = tracked.data()
    queries = spy.key_queries
    model.sort(Column.VERSIONS, Qt.SortOrder.DescendingOrder)
    assert spy.key_queries == queries + 1
    assert model.sort_key == (PortfolioSort.VERSION_COUNT, True)
    counts = [int(model.data(model.index(r, Column.VERSIONS))) for r in range(model.rowCount())]
    assert counts == sorted(counts, reverse=True)
    assert tracked.isValid() and tracked.data() == tracked_name

    model.sort(Column.MODEL, Qt.SortOrder.DescendingOrder)
    assert _names(model) == sorted(names, key=str.lower, reverse=True)

    # Owners sort case-insensitively; models without one come first.
    model.sort(Column.OWNER, Qt.SortOrder.AscendingOrder)
    owners = [model.row_at(r).owner for r in range(model.rowCount())]  # type: ignore[union-attr]
    assert owners == sorted(owners, key=str.lower)
    assert owners[0] == ""

    # Aliases have no order: the model keeps the one it has.
    queries = spy.key_queries
    model.sort(Column.ALIASES, Qt.SortOrder.AscendingOrder)
    assert spy.key_queries == queries
    assert model.sort_key == (PortfolioSort.OWNER, False)


def test_filter_by_text_and_registry(ctx: AppContext) -> None:
    model = PortfolioModel(ctx.portfolio)
    model.refresh()
    model.set_filter(text="FRAUD")  # team, case-insensitive
    assert 0 < model.rowCount() < 250
    assert all(model.row_at(r).team == "fraud" for r in range(model.rowCount()))  # type: ignore[union-attr]

    model.set_filter(registry="beta")
    assert all(model.row_at(r).registry == "beta" for r in range(model.rowCount()))  # type: ignore[union-attr]
    assert model.filter_text == "FRAUD"

    model.set_filter(text="", registry=None)
    assert model.rowCount() == 250
    model.set_filter(text="50%_")  # LIKE wildcards are literal
    assert model.rowCount() == 0


def test_cells_read_like_the_registry(ctx: AppContext) -> None:
    model = PortfolioModel(
        ctx.portfolio, clock=lambda: datetime.fromtimestamp(1_736_154_000, tz=UTC)
    )
    model.set_filter(text="alpha-0000")
    assert model.rowCount() == 1

    def cell(col: Column, role: Qt.ItemDataRole = DISPLAY) -> object:
        return model.data(model.index(0, col), role)

    assert cell(Column.MODEL) == "alpha-0000"
    assert cell(Column.REGISTRY) == "alpha"
    assert cell(Column.LATEST_VERSION) == "v1"
    assert cell(Column.ALIASES) == "champion → v1"
    assert cell(Column.OWNER) == "no owner"  # i % 7 == 0 has no owner tag
    assert cell(Column.RISK_TIER) == "High"
    assert cell(Column.RISK_TIER, Qt.ItemDataRole.ForegroundRole) is not None
    assert cell(Column.RISK_TIER, Qt.ItemDataRole.DecorationRole) is not None
    assert cell(Column.VERSIONS) == "1"
    assert cell(Column.LAST_UPDATED) == "just now"
    assert (
        cell(Column.LAST_UPDATED, Qt.ItemDataRole.ToolTipRole)
        == "Changed in the registry 2025-01-06 09:00:00 UTC"
    )
    assert model.headerData(Column.ALIASES, Qt.Orientation.Horizontal) == "Aliases"


def test_refresh_keeps_the_selection_by_id(ctx: AppContext, qtbot: QtBot) -> None:
    model = PortfolioModel(ctx.portfolio)
    view = PortfolioView(model)
    qtbot.addWidget(view)
    model.refresh()
    key = ctx.portfolio.model_keys("beta-0042")[0]
    assert view.select_key(key)
    row_before = model.row_of(key)
    # A sync brings models that sort before it.
    seed_cache(ctx, "alpha", 160, prefix="alpha")
    with qtbot.waitSignal(model.modelReset):
        model.refresh()
    assert view.selected_key == key
    assert model.row_of(key) == row_before + 10  # type: ignore[operator]

    # Filtering it out clears the selection and says so.
    with qtbot.waitSignal(view.model_selected, check_params_cb=lambda k: k is None):
        model.set_filter(text="alpha")
    assert view.selected_key is None
