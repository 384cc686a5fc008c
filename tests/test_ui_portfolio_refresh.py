"""After a sync, the portfolio re-reads the cache on a worker and the GUI thread only
applies the result (issue 8: the longest event-loop stall during a sync)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.portfolio import ModelDetail, PortfolioRow, PortfolioSort
from app.services.portfolio import PortfolioService
from app.ui.console import open_window
from app.ui.portfolio.portfolio_model import Column
from app.ui.portfolio.portfolio_ui import REFRESH_TASK, PortfolioUi
from tests.ui_helpers import make_context, no_leaks, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]


class ThreadSpy(PortfolioService):
    """Records on which thread each cache query ran."""

    def __init__(self, inner: PortfolioService) -> None:
        self._inner = inner
        self.calls: list[tuple[str, bool]] = []

    def _note(self, name: str) -> None:
        self.calls.append((name, threading.current_thread() is threading.main_thread()))

    def model_keys(
        self,
        text: str = "",
        registry: str | None = None,
        sort: PortfolioSort = PortfolioSort.NAME,
        descending: bool = False,
        team: str | None = None,
        only: Sequence[tuple[str, str]] | None = None,
    ) -> list[int]:
        self._note("model_keys")
        return self._inner.model_keys(text, registry, sort, descending, team, only)

    def rows(self, keys: Sequence[int]) -> dict[int, PortfolioRow]:
        self._note("rows")
        return self._inner.rows(keys)

    def model_detail(self, model_key: int, max_versions: int | None = None) -> ModelDetail | None:
        self._note("model_detail")
        return self._inner.model_detail(model_key, max_versions)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    seed_cache(context, "alpha", 40, prefix="alpha")
    try:
        yield context
    finally:
        context.close()


def test_post_sync_refresh_reads_on_a_worker_and_applies_in_one_reset(
    ctx: AppContext, qtbot: QtBot
) -> None:
    spy = ThreadSpy(ctx.portfolio)
    window, runner = open_window(ctx.paths)
    qtbot.addWidget(window)
    ui = PortfolioUi(window, dataclasses.replace(ctx, portfolio=spy), runner)
    model = ui.portfolio_model
    ui.portfolio_view.select_key(model.key_at(3))
    assert ui.detail_view.model_key == model.key_at(3)
    # The sync wrote 40 more models; the console hears of it.
    seed_cache(ctx, "beta", 40, prefix="beta")
    spy.calls.clear()
    resets: list[int] = []
    model.modelReset.connect(lambda: resets.append(model.rowCount()))

    ui.syncer.sync_finished.emit([])
    qtbot.waitUntil(lambda: bool(resets) and not runner.is_running(REFRESH_TASK))

    assert resets == [80]
    assert {name for name, _ in spy.calls} == {"model_keys", "rows", "model_detail"}
    assert [name for name, on_gui in spy.calls if on_gui] == [], "the GUI thread read the cache"
    # The first screen and the selected model are shown from what the worker read.
    assert model.data(model.index(0, Column.MODEL)).startswith("alpha")
    assert ui.detail_view.model_key == model.key_at(3)
    assert [name for name, on_gui in spy.calls if on_gui] == []
    window.close()
