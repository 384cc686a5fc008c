"""Fresh after an action: a targeted refresh of one model (what the governance feature
asks for after apply) shows the registry's new aliases in the portfolio table, the
detail header and the versions list at once, without a sync."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.ui.console import Console, build_console
from app.ui.portfolio.portfolio_model import Column
from app.ui.portfolio.versions_model import VersionColumn
from tests.fixtures.mlflow import MlflowRegistry
from tests.ui_helpers import make_context, no_leaks

pytestmark = [
    pytest.mark.gui,
    pytest.mark.integration,
    pytest.mark.usefixtures("no_leaks"),
]
__all__ = ["no_leaks"]

TIMEOUT_MS = 60_000


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def model_name(seeded_registry: MlflowRegistry) -> Iterator[str]:
    """A model of our own with two versions, champion on v1; deleted afterwards."""
    name = f"fresh-{secrets.token_hex(4)}"
    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        c.create_registered_model(name)
        c.create_model_version(name, source="s3://bucket/model", run_id="")
        c.create_model_version(name, source="s3://bucket/model", run_id="")
        c.set_registered_model_alias(name, "champion", 1)
    try:
        yield name
    finally:
        with MlflowRegistryClient(seeded_registry.config(), None) as c:
            c.delete_registered_model(name)


def _row_aliases(console: Console, name: str) -> str:
    model = console.portfolio.portfolio_model
    for row in range(model.rowCount()):
        if model.data(model.index(row, Column.MODEL)) == name:
            return str(model.data(model.index(row, Column.ALIASES)) or "")
    raise AssertionError(f"{name} is not in the portfolio")


def _version_aliases(console: Console, version: int) -> str:
    versions = console.portfolio.detail_view.versions_model
    row = versions.row_of_version(version)
    assert row is not None
    return str(versions.data(versions.index(row, VersionColumn.ALIASES)) or "")


def test_refresh_model_shows_a_moved_alias_without_a_sync(
    ctx: AppContext, seeded_registry: MlflowRegistry, model_name: str, qtbot: QtBot
) -> None:
    ctx.registries.add(seeded_registry.config("seeded"))
    console = build_console(ctx)
    console.window.resize(1360, 860)
    console.window.show()
    qtbot.waitExposed(console.window)
    try:
        portfolio = console.portfolio
        portfolio.sync_now()
        qtbot.waitUntil(lambda: portfolio.settled, timeout=TIMEOUT_MS)
        focus = portfolio.focus
        assert focus.show_model("seeded", model_name)
        assert _row_aliases(console, model_name) == "champion → v1"
        assert "champion → v1" in portfolio.detail_view.aliases.text()
        synced = []
        focus.on_synced(lambda: synced.append(True))

        # An action elsewhere (governance's Apply) moves champion to v2 in the registry.
        with MlflowRegistryClient(seeded_registry.config(), None) as c:
            c.set_registered_model_alias(model_name, "champion", 2)
        focus.refresh_model("seeded", model_name)
        assert not portfolio.syncer.busy  # a targeted read, not a sync
        qtbot.waitUntil(lambda: _row_aliases(console, model_name) == "champion → v2")
        assert "champion → v2" in portfolio.detail_view.aliases.text()
        assert _version_aliases(console, 2) == "champion"
        assert _version_aliases(console, 1) == ""
        assert portfolio.detail_view.model_key is not None  # still showing the model
        assert focus.model is not None and focus.model.name == model_name
        assert synced == [True]  # the other features hear that the cache changed
        assert portfolio.status.connectivity.text() == "Online"
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
