"""Insight into the version the model detail shows: the Lineage, Metrics and Compare
tabs, added through the portfolio's model focus.

Every query and the graph layout run on the task runner; a tab loads only when it
is shown (and again when the version changes), and a newer request supersedes an
older one, so scrolling through versions never queues up stale work. The tabs are
wide: while one is shown the versions list hides and the version is picked in the
tab bar's corner instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from app.domain.cancel import CancelToken
from app.domain.lineage import LineageGraph
from app.domain.lineage_layout import LineageLayout, layout_graph
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.progress import ProgressCallback
from app.services.lineage import LineageService
from app.ui.common.context import ConsoleContext
from app.ui.common.host import ModelFocus
from app.ui.common.tasks import TaskRunner
from app.ui.insights.lineage_view import LineagePanel

if TYPE_CHECKING:
    from app.ui.insights.chart_tabs import CompareDetailTab, MetricsDetailTab

log = logging.getLogger("gavel.ui.insights")

LINEAGE_TAB, METRICS_TAB, COMPARE_TAB = "lineage", "metrics", "compare"

LineageResult = tuple[LineageGraph, LineageLayout]
# Opens a version of a (perhaps other) model: registry, model, version.
OpenVersion = Callable[[str, str, int], object]


class LineageDetailTab:
    """Where the version came from and what serves it, as a graph."""

    def __init__(
        self, lineage: LineageService, runner: TaskRunner, open_version: OpenVersion
    ) -> None:
        self._lineage = lineage
        self._runner = runner
        self.detail: ModelDetail | None = None
        self.version: VersionRow | None = None
        self.graph: LineageGraph | None = None
        self.panel = LineagePanel()
        self.panel.expand_requested.connect(self._expand_dataset)
        self.panel.open_version_requested.connect(open_version)

    @property
    def widget(self) -> QWidget:
        return self.panel

    def show_version(self, model: ModelDetail | None, version: VersionRow | None) -> None:
        self.detail, self.version = model, version
        d, v = model, version
        if d is None or v is None:
            self.panel.show_message(
                "No version selected", "Select a version to see where it came from."
            )
            return
        self.panel.show_message("Building the lineage…")
        svc, registry, name, number = self._lineage, d.registry, d.name, v.version

        def build(_cancel: CancelToken, _progress: ProgressCallback) -> LineageResult:
            graph = svc.lineage(registry, name, number)
            return graph, layout_graph(graph)

        self._runner.run(
            build,
            key="insights-lineage",
            label="Building lineage",
            on_success=self._ready,
            on_failure=lambda e: self.panel.show_message("No lineage", e.message),
        )

    def _ready(self, result: LineageResult) -> None:
        self.graph = result[0]
        self.panel.show_graph(*result)

    def _expand_dataset(self, node_id: str) -> None:
        graph, svc = self.graph, self._lineage
        if graph is None:
            return

        def expand(_cancel: CancelToken, _progress: ProgressCallback) -> LineageResult:
            bigger = svc.expand_dataset(graph, node_id)
            return bigger, layout_graph(bigger)

        def ready(result: LineageResult) -> None:
            added = len(result[0].nodes) - len(graph.nodes)
            self._ready(result)
            self.panel.select_node(node_id)
            self.panel.notes.setVisible(True)
            self.panel.notes.setText(
                f"{added} other version{'s' if added != 1 else ''} used this data."
                if added
                else "No other cached version used this data."
            )

        self._runner.run(
            expand,
            key="insights-lineage",
            label="Finding versions trained on this data",
            on_success=ready,
            on_failure=lambda e: self.panel.notes.setText(e.message),
        )


class InsightsUi:
    """Adds the Lineage, Metrics and Compare tabs; the chart tabs (and matplotlib)
    load the first time one is opened."""

    def __init__(self, focus: ModelFocus, ctx: ConsoleContext, runner: TaskRunner) -> None:
        lineage, performance = ctx.lineage, ctx.performance
        self.lineage: LineageDetailTab | None = None
        self.metrics: MetricsDetailTab | None = None
        self.compare: CompareDetailTab | None = None

        def lineage_tab() -> LineageDetailTab:
            self.lineage = LineageDetailTab(lineage, runner, focus.show_model)
            return self.lineage

        def metrics_tab() -> MetricsDetailTab:
            from app.ui.insights.chart_tabs import MetricsDetailTab

            self.metrics = MetricsDetailTab(performance, runner)
            return self.metrics

        def compare_tab() -> CompareDetailTab:
            from app.ui.insights.chart_tabs import CompareDetailTab

            self.compare = CompareDetailTab(performance, runner)
            return self.compare

        focus.add_detail_tab(
            LINEAGE_TAB,
            "Lineage",
            lineage_tab,
            tooltip="Where this version came from and what serves it",
            wide=True,
        )
        focus.add_detail_tab(
            METRICS_TAB,
            "Metrics",
            metrics_tab,
            tooltip="A metric across versions, and its history during training",
            wide=True,
        )
        focus.add_detail_tab(
            COMPARE_TAB,
            "Compare",
            compare_tab,
            tooltip="What changed between two versions",
            wide=True,
        )
