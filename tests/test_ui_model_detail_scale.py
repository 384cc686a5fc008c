"""A model with many versions opens on its newest ones; a worker reads the rest
(issue 8: the detail of a model with 20,000 versions paints within 300 ms)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.ui.common.tasks import TaskRunner
from app.ui.portfolio import model_detail_view
from app.ui.portfolio.model_detail_view import ModelDetailView
from tests.ui_helpers import make_context, no_leaks, seed_cache

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    seed_cache(context, "alpha", 8, prefix="alpha")  # alpha-0003 has 4 versions
    try:
        yield context
    finally:
        context.close()


def test_model_detail_reads_only_the_newest_versions_when_asked(ctx: AppContext) -> None:
    key = ctx.portfolio.find_model("alpha-0003").model_key
    newest = ctx.portfolio.model_detail(key, max_versions=2)
    assert newest is not None and not newest.versions_complete
    assert [v.version for v in newest.versions] == [4, 3]
    whole = ctx.portfolio.model_detail(key, max_versions=4)
    assert whole is not None and whole.versions_complete
    assert whole.versions == ctx.portfolio.find_model("alpha-0003").versions


def test_a_big_model_shows_its_newest_versions_then_all_of_them(
    ctx: AppContext, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_detail_view, "FIRST_VERSIONS", 2)
    runner = TaskRunner()
    view = ModelDetailView(ctx.portfolio, runner=runner)
    qtbot.addWidget(view)
    key = ctx.portfolio.find_model("alpha-0003").model_key
    try:
        view.show_model(key)
        assert view.versions_model.rowCount() == 2
        assert view.versions_title.text() == "Versions (2+)"
        assert view.selected_version is not None and view.selected_version.version == 4
        view.select_version(3)
        qtbot.waitUntil(lambda: view.versions_model.rowCount() == 4)
        assert view.detail is not None and view.detail.versions_complete
        assert view.versions_title.text() == "Versions (4)"
        # The version the reviewer picked meanwhile stays picked.
        assert view.selected_version is not None and view.selected_version.version == 3
    finally:
        runner.shutdown()
