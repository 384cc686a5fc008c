"""The lineage graph view: drawn from the cache, clickable, zoomable, exported as PNG
and SVG; and its tab in the model detail panel."""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.bootstrap import AppContext
from app.domain.lineage import NodeKind, dataset_id, version_id
from app.domain.lineage_layout import layout_graph
from app.services.lineage import LineageService
from app.stores.lineage_queries import LineageQueries
from app.stores.portfolio_queries import PortfolioQueries
from app.ui.common.tasks import TaskRunner
from app.ui.console import Console, build_console
from app.ui.insights.insights_ui import LineageDetailTab
from app.ui.insights.lineage_items import NodeItem
from app.ui.insights.lineage_view import LineagePanel
from tests import lineage_data as data
from tests.ui_helpers import make_context, no_leaks, save_screenshot

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_leaks")]
__all__ = ["no_leaks"]

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = make_context(tmp_path / "home")
    data.seed_lineage_model(context)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def service(ctx: AppContext) -> LineageService:
    return LineageService(LineageQueries(ctx.db), PortfolioQueries(ctx.db), data.endpoint_statuses)


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    try:
        yield tasks
    finally:
        assert tasks.shutdown(10_000)


def pixel_spread(path: Path) -> float:
    """Standard deviation of grey levels over a grid of pixels: 0 for a blank image."""
    image = QImage(str(path))
    assert not image.isNull(), path
    greys = [
        image.pixelColor(x, y).lightness()
        for x in range(0, image.width(), max(1, image.width() // 120))
        for y in range(0, image.height(), max(1, image.height() // 80))
    ]
    return statistics.pstdev(greys)


def svg_texts(path: Path) -> set[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return {(t.text or "").strip() for t in root.iter(f"{SVG}text")}


def _panel(qtbot: QtBot) -> LineagePanel:
    panel = LineagePanel()
    qtbot.addWidget(panel)
    panel.resize(1280, 560)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _click_node(qtbot: QtBot, panel: LineagePanel, node_id: str) -> None:
    item = panel.node_items[node_id]
    pos = panel.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_graph_renders_and_exports_png_and_svg(
    service: LineageService, qtbot: QtBot, tmp_path: Path
) -> None:
    graph = service.lineage(data.REGISTRY, data.MODEL, 3)
    panel = _panel(qtbot)
    panel.show_graph(graph, layout_graph(graph))
    assert set(panel.node_items) == {n.id for n in graph.nodes}
    assert len(panel.edge_items) == len(graph.edges)
    # The version shown is selected, so its details are on screen at once.
    assert panel.selected_node_id == graph.root
    assert panel.details.title.text() == "mortgage-pd v3"

    png = panel.export_png(tmp_path / "lineage.png")
    image = QImage(str(png))
    assert image.width() > 1000 and image.height() > 200
    assert pixel_spread(png) > 10, "the exported PNG is blank"

    texts = svg_texts(panel.export_svg(tmp_path / "lineage.svg"))
    for label in (
        "mortgage-pd v3",
        "production",
        "mortgage-blue",
        "mortgage-green",
        data.HOLDOUT,
        "mortgage-pd-v3-training",
    ):
        assert label in texts, f"{label!r} missing from the SVG"
    assert "DRIFT" in texts and "MATCH" in texts
    save_screenshot(panel, "lineage_graph")


def test_nodes_open_details_and_datasets_list_other_versions(
    ctx: AppContext, runner: TaskRunner, qtbot: QtBot
) -> None:
    detail = ctx.portfolio.find_model(data.MODEL, data.REGISTRY)
    v3 = next(v for v in detail.versions if v.version == 3)
    opened_versions: list[tuple[str, str, int]] = []
    tab = LineageDetailTab(
        LineageService(LineageQueries(ctx.db), PortfolioQueries(ctx.db), data.endpoint_statuses),
        runner,
        lambda *version: opened_versions.append(version),
    )
    panel = tab.panel
    qtbot.addWidget(panel)
    panel.resize(1300, 620)
    panel.show()
    qtbot.waitExposed(panel)
    tab.show_version(detail, v3)
    qtbot.waitUntil(lambda: panel.graph is not None, timeout=10_000)

    holdout = dataset_id(data.HOLDOUT, data.HOLDOUT_DIGEST)
    _click_node(qtbot, panel, holdout)
    assert panel.selected_node_id == holdout
    assert panel.details.kind.text() == "Dataset"
    assert panel.details.related_button.isVisibleTo(panel)
    rows = {
        panel.details.table.item(r, 0).text(): panel.details.table.item(r, 1).text()  # type: ignore[union-attr]
        for r in range(panel.details.table.rowCount())
    }
    assert rows["Digest"] == data.HOLDOUT_DIGEST and rows["Also used by"] == "4 other versions"

    before = len(panel.node_items)
    qtbot.mouseClick(panel.details.related_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.node_items) == before + 4, timeout=10_000)
    assert panel.selected_node_id == holdout  # still the dataset, now with its neighbours
    assert "4 other versions used this data." in panel.notes.text()
    save_screenshot(panel, "lineage_related_versions")

    lgd = version_id(data.REGISTRY, data.OTHER_MODEL, 1)
    _click_node(qtbot, panel, lgd)
    assert panel.details.open_button.isVisibleTo(panel)
    with qtbot.waitSignal(panel.open_version_requested) as opened:
        qtbot.mouseClick(panel.details.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [data.REGISTRY, data.OTHER_MODEL, 1]
    assert opened_versions == [(data.REGISTRY, data.OTHER_MODEL, 1)]

    zoom = panel.view.zoom_level
    wheel = QWheelEvent(
        QPointF(200, 200),
        QPointF(200, 200),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(panel.view.viewport(), wheel)
    assert panel.view.zoom_level == pytest.approx(min(3.0, zoom * 1.15**2))
    assert not panel.view.auto_fit
    panel.fit_action.trigger()
    assert panel.view.auto_fit and panel.view.zoom_level <= 1.0


@pytest.fixture
def console(ctx: AppContext, qtbot: QtBot) -> Iterator[Console]:
    console = build_console(ctx)
    console.window.resize(1500, 1000)
    console.window.show()
    qtbot.waitExposed(console.window)
    try:
        yield console
    finally:
        console.window.close()
        console.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_lineage_tab_in_the_model_detail(ctx: AppContext, console: Console, qtbot: QtBot) -> None:
    key = ctx.portfolio.find_model(data.MODEL, data.REGISTRY).model_key
    assert console.portfolio.portfolio_view.select_key(key)
    detail = console.portfolio.detail_view
    qtbot.waitUntil(lambda: detail.selected_version is not None)
    console.portfolio.content_splitter.setSizes([280, 700])
    tabs = detail.tabs
    assert tabs.tabText(0) == "Run" and tabs.widget(0) is detail.run_panel
    assert [tabs.tabText(i) for i in range(1, 5)] == ["Lineage", "Metrics", "Compare", "Governance"]
    versions_pane = detail.splitter.widget(0)

    tabs.select("lineage")
    assert console.insights.lineage is not None
    panel = console.insights.lineage.panel
    qtbot.waitUntil(lambda: panel.graph is not None, timeout=10_000)
    assert panel.graph is not None and panel.graph.root.endswith("/4")  # newest selected
    assert versions_pane.isHidden()  # the graph gets the panel's width

    # The corner picker moves the selection, and the graph follows.
    tabs.picker.setCurrentIndex(tabs.picker.findData(3))
    tabs.picker.activated.emit(tabs.picker.currentIndex())
    qtbot.waitUntil(
        lambda: panel.graph is not None and panel.graph.root.endswith("/3"), timeout=10_000
    )
    assert detail.selected_version is not None and detail.selected_version.version == 3
    kinds = {panel.node_items[n].node.kind for n in panel.node_items}
    assert NodeKind.DATASET in kinds and NodeKind.ALIAS in kinds
    assert all(isinstance(item, NodeItem) for item in panel.node_items.values())
    save_screenshot(console.window, "lineage_tab")

    tabs.select("run")
    assert not versions_pane.isHidden()
