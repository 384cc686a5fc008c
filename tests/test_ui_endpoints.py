"""The Endpoints page: the table model, drift highlighted in the table and marked in the
portfolio, the poller started by the console with its outcomes on the GUI thread, and
a real MLServer endpoint probed, listed and charted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QThread
from PySide6.QtGui import QBrush
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.endpoints import (
    EndpointConfig,
    EndpointKind,
    EndpointObservation,
    EndpointRecord,
    HealthState,
)
from app.domain.serving import ServingState, ServingStatus
from app.services.endpoints import EndpointStatus, ProbeOutcome
from app.stores.endpoint_store import EndpointStore
from app.ui.common.tasks import TaskRunner
from app.ui.common.theme import semantic
from app.ui.console import Console, build_console
from app.ui.portfolio.portfolio_model import Column
from app.ui.serving.endpoint_dialog import EndpointDialog
from app.ui.serving.endpoints_model import (
    EndpointColumn,
    EndpointsModel,
    drift_by_model,
)
from tests import lineage_data as data
from tests.fixtures.mlflow import MlflowRegistry
from tests.fixtures.serving import MlserverEndpoint
from tests.test_ui_charts import synthetic_samples
from tests.ui_helpers import dead_url, make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

DISPLAY = Qt.ItemDataRole.DisplayRole
PROBE_TIMEOUT_MS = 60_000


def _statuses() -> list[EndpointStatus]:
    never = EndpointConfig(
        name="mortgage-canary",
        kind=EndpointKind.MLFLOW,
        url="http://canary.invalid:5001",
        registry=data.REGISTRY,
        model=data.MODEL,
        alias="champion",
    )
    return [*data.endpoint_statuses(), EndpointStatus(never, EndpointRecord(never.name))]


def test_model_passes_qt_model_tester_and_highlights_drift(qtmodeltester: ModelTester) -> None:
    model = EndpointsModel()
    qtmodeltester.check(model, force_py=True)
    model.set_statuses(_statuses())
    qtmodeltester.check(model, force_py=True)
    assert [model.data(model.index(r, 0)) for r in range(3)] == [
        "mortgage-blue",
        "mortgage-canary",
        "mortgage-green",
    ]
    green = model.row_of("mortgage-green")
    assert green is not None
    serving = model.index(green, EndpointColumn.SERVING)
    assert model.data(serving) == "DRIFT"
    brush = model.data(serving, Qt.ItemDataRole.BackgroundRole)
    assert isinstance(brush, QBrush) and brush.color().name() == semantic().error_box[0]
    assert "not approved" in model.data(serving, Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(green, EndpointColumn.SERVED)) == "v4"
    assert model.data(model.index(green, EndpointColumn.APPROVED)) == "production → v3"
    canary = model.row_of("mortgage-canary")
    assert canary is not None
    assert model.data(model.index(canary, EndpointColumn.HEALTH)) == "Never probed"
    assert model.data(model.index(canary, EndpointColumn.SERVING)) == "Not probed"
    assert drift_by_model(model.statuses()) == {
        (data.REGISTRY, data.MODEL): data.endpoint_statuses()[1].record.serving_reason
    }

    # A probe outcome updates its row in place (no reset), e.g. the drift resolved.
    cfg = _statuses()[1].config
    obs = EndpointObservation(cfg.name, datetime.now(UTC), HealthState.UP, "Live.", 0.01, ("v3",))
    sv = ServingStatus(
        cfg.name,
        cfg.registry,
        cfg.model,
        cfg.alias,
        ServingState.MATCH,
        "serves version 3",
        (3,),
        "v3",
        3,
    )
    assert model.apply_outcome(ProbeOutcome(cfg, obs, sv, None))
    assert model.data(serving) == "Match"
    assert drift_by_model(model.statuses()) == {}
    qtmodeltester.check(model, force_py=True)


# ------------------------------------------------------------------ offline window


def _add_probed(ctx: AppContext, name: str, served: int, state: ServingState) -> None:
    """An endpoint whose last probe (written as a probe writes it) found `served`."""
    ctx.endpoints.add(
        EndpointConfig(
            name=name,
            kind=EndpointKind.OIP,
            url=dead_url(),
            registry=data.REGISTRY,
            model=data.MODEL,
            alias="production",
            timeout_s=2.0,
        )
    )
    store = EndpointStore(ctx.db)
    now = datetime.now(UTC)
    store.add_samples(name, synthetic_samples(now - timedelta(minutes=1), hours=20))
    reason = (
        f"Endpoint '{name}' serves version {served} of '{data.MODEL}' (it reports "
        f"'v{served}'), but alias 'production' points to version 3: the deployment is not "
        "the approved version."
        if state is ServingState.DRIFT
        else f"Endpoint '{name}' serves version 3 of '{data.MODEL}', the version alias "
        "'production' points to."
    )
    store.save_probe(
        EndpointObservation(
            name,
            now,
            HealthState.UP,
            "Live and ready.",
            0.01,
            (f"v{served}",),
            server="mlserver 1.7.1",
        ),
        ServingStatus(
            name, data.REGISTRY, data.MODEL, "production", state, reason, (served,), f"v{served}", 3
        ),
        None,
    )


@pytest.fixture
def offline_ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    data.seed_lineage_model(context)
    _add_probed(context, "mortgage-blue", 3, ServingState.MATCH)
    _add_probed(context, "mortgage-green", 4, ServingState.DRIFT)
    try:
        yield context
    finally:
        context.close()


def _open(ctx: AppContext, qtbot: QtBot) -> Console:
    console = build_console(ctx)
    console.window.resize(1500, 1000)
    console.window.show()
    qtbot.waitExposed(console.window)
    return console


def _close(console: Console) -> None:
    console.window.close()
    console.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_drift_in_the_page_and_in_the_portfolio(offline_ctx: AppContext, qtbot: QtBot) -> None:
    console = _open(offline_ctx, qtbot)
    try:
        page = console.serving.page
        qtbot.waitUntil(lambda: page.loaded, timeout=10_000)
        assert page.model.rowCount() == 2
        assert console.window.pages.tab_text("endpoints") == "Endpoints (1)"  # one drifts
        # The portfolio marks the model whose endpoint serves off-alias, on its aliases.
        model = console.portfolio.portfolio_model
        row = next(r for r in range(model.rowCount()) if model.row_at(r).name == data.MODEL)  # type: ignore[union-attr]
        aliases = model.index(row, Column.ALIASES)
        assert model.data(aliases, Qt.ItemDataRole.DecorationRole) is not None
        tip = model.data(aliases, Qt.ItemDataRole.ToolTipRole)
        assert tip.startswith("Serving drift") and "mortgage-green" in tip
        other = next(r for r in range(model.rowCount()) if r != row)
        assert (
            model.data(model.index(other, Column.ALIASES), Qt.ItemDataRole.DecorationRole) is None
        )

        console.window.pages.select("endpoints")
        assert page.select("mortgage-green")
        assert (
            "DRIFT." in page.detail.reason.text()
            and "not the approved version" in page.detail.reason.text()
        )
        qtbot.waitUntil(lambda: page.detail.charts.has_chart, timeout=10_000)
        assert (
            page.detail.outages.count() == 1
            and "Connection refused" in page.detail.outages.item(0).text()
        )  # type: ignore[union-attr]
        save_screenshot(console.window, "endpoints_drift")

        page.detail.window_picker.setCurrentIndex(0)  # last hour
        qtbot.waitUntil(lambda: page.detail.charts.window_label == "last hour", timeout=10_000)
        page.interval.setValue(45)
        assert offline_ctx.endpoints.poll_interval_s() == 45
    finally:
        _close(console)


# ---------------------------------------------------------------- real MLServer


@pytest.fixture
def live_ctx(tmp_path: Path, seeded_registry: MlflowRegistry) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    context.registries.add(seeded_registry.config("seeded"))
    context.sync.sync("seeded")
    try:
        yield context
    finally:
        context.close()


def _mlserver(name: str, server: MlserverEndpoint, **kw: object) -> EndpointConfig:
    fields: dict[str, object] = {
        "kind": EndpointKind.OIP,
        "url": server.url,
        "metrics_url": server.metrics_url,
        "registry": "seeded",
        "model": server.model,
        "alias": "production",
        "timeout_s": 10.0,
    }
    fields.update(kw)
    return EndpointConfig(name=name, **fields)  # type: ignore[arg-type]


@pytest.mark.integration
def test_mlserver_endpoint_polled_by_the_console(
    live_ctx: AppContext, mlserver_endpoint: MlserverEndpoint, qtbot: QtBot
) -> None:
    # The seeded mortgage-pd has production -> v2; MLServer serves 'v1': drift. A
    # second endpoint on the same server declares 'v1' is version 2: match.
    live_ctx.endpoints.add(_mlserver("mortgage-mlserver", mlserver_endpoint))
    live_ctx.endpoints.add(_mlserver("mortgage-mapped", mlserver_endpoint, version_map={"v1": 2}))
    console = _open(live_ctx, qtbot)
    try:
        page, monitor = console.serving.page, console.serving.monitor
        qtbot.waitUntil(lambda: page.loaded, timeout=10_000)
        gui_thread = QThread.currentThread()
        seen: list[tuple[str, bool]] = []
        monitor.outcome.connect(
            lambda o: seen.append((o.config.name, QThread.currentThread() is gui_thread))
        )
        console.start(start_demo=False)  # the console starts the poller after first paint
        qtbot.waitUntil(lambda: monitor.running, timeout=10_000)
        qtbot.waitUntil(lambda: len({n for n, _ in seen}) == 2, timeout=PROBE_TIMEOUT_MS)
        assert all(on_gui for _, on_gui in seen), "outcomes must arrive on the GUI thread"
        assert threading.current_thread() is threading.main_thread()

        drift_row = page.model.row_of("mortgage-mlserver")
        match_row = page.model.row_of("mortgage-mapped")
        assert drift_row is not None and match_row is not None
        m = page.model
        assert m.data(m.index(drift_row, EndpointColumn.HEALTH)) == "Up"
        assert m.data(m.index(drift_row, EndpointColumn.SERVING)) == "DRIFT"
        assert m.data(m.index(drift_row, EndpointColumn.SERVED)) == "v1"
        assert m.data(m.index(drift_row, EndpointColumn.APPROVED)) == "production → v2"
        assert m.data(m.index(match_row, EndpointColumn.SERVING)) == "Match"
        assert console.portfolio.portfolio_model.serving_drift
        qtbot.waitUntil(lambda: console.window.pages.tab_text("endpoints") == "Endpoints (1)")

        # A second probe gives rates (they need two scrapes), and the chart shows them.
        mlserver_endpoint.infer()
        console.window.pages.select("endpoints")
        assert page.select("mortgage-mlserver")
        with qtbot.waitSignal(monitor.outcome, timeout=PROBE_TIMEOUT_MS):
            qtbot.mouseClick(page.probe_button, Qt.MouseButton.LeftButton)
        # Both probes may fall in one chart bucket: count the probes the points stand for.
        qtbot.waitUntil(
            lambda: (
                page.detail.charts.has_chart
                and sum(x.samples for x in page.detail.charts.samples) >= 2
            ),
            timeout=PROBE_TIMEOUT_MS,
        )
        assert any(x.stats is not None for x in page.detail.charts.samples)
        assert "DRIFT." in page.detail.reason.text()
        assert "points to version 2" in page.detail.reason.text()
        page.detail.window_picker.setCurrentIndex(
            0
        )  # the last hour: where this endpoint's probes are
        qtbot.waitUntil(lambda: page.detail.charts.window_label == "last hour", timeout=10_000)
        save_screenshot(console.window, "endpoints_mlserver")
    finally:
        _close(console)
    assert not monitor.running  # stopped on quit


@pytest.mark.integration
def test_add_dialog_probes_a_new_endpoint(
    live_ctx: AppContext, mlserver_endpoint: MlserverEndpoint, qtbot: QtBot
) -> None:
    runner = TaskRunner()
    dialog = EndpointDialog(live_ctx.endpoints, live_ctx.portfolio, ["seeded"], runner)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    try:
        qtbot.keyClicks(dialog.name, "mortgage-new")
        dialog.kind.setCurrentIndex(dialog.kind.findData("oip"))
        qtbot.keyClicks(dialog.url, mlserver_endpoint.url)
        qtbot.keyClicks(dialog.metrics_url, mlserver_endpoint.metrics_url)
        qtbot.waitUntil(lambda: dialog.model.count() > 0, timeout=10_000)
        dialog.model.setEditText(mlserver_endpoint.model)
        dialog.alias.setEditText("production")
        qtbot.mouseClick(dialog.probe_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: dialog.result_kind in ("success", "failure") and dialog.probed is not None,
            timeout=PROBE_TIMEOUT_MS,
        )
        assert dialog.result_kind == "failure"  # up, but serving v1 instead of v2
        assert "Serving: DRIFT" in dialog.result_label.text()
        assert dialog.saved is not None and live_ctx.endpoints.get("mortgage-new").url == (
            mlserver_endpoint.url
        )
        save_screenshot(dialog, "endpoints_dialog_probe")

        dialog.version_map.setText("v1=2")
        qtbot.mouseClick(dialog.probe_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.result_kind == "success", timeout=PROBE_TIMEOUT_MS)
        assert live_ctx.endpoints.get("mortgage-new").version_map == {"v1": 2}
    finally:
        dialog.close()
        assert runner.shutdown(20_000)
