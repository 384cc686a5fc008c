"""Per-version tabs of the model detail panel: Run, Lineage, Metrics, Compare.

Every query and the graph layout run on the task runner; a tab loads only when it
is shown (and again when the version changes), and a newer request supersedes an
older one, so scrolling through versions never queues up stale work. The graph
tabs want width: while one is shown the versions list on the left is hidden and the
version is picked in the tab bar's corner instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QWidget

from app.domain.cancel import CancelToken
from app.domain.errors import GavelError
from app.domain.lineage import LineageGraph
from app.domain.lineage_layout import LineageLayout, layout_graph
from app.domain.performance import ModelMetrics, VersionComparison, highlighted_version
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.progress import ProgressCallback
from app.services.lineage import LineageService
from app.services.performance import PerformanceService
from app.services.portfolio import PortfolioService
from app.ui.common.formatting import version_label
from app.ui.common.signals import emit
from app.ui.common.tasks import TaskRunner
from app.ui.common.widgets import LazySlot
from app.ui.insights.lineage_view import LineagePanel
from app.ui.portfolio.model_detail_view import ModelDetailView

if TYPE_CHECKING:
    from app.ui.insights.compare_tab import CompareTab
    from app.ui.insights.metrics_tab import MetricsTab
    from app.ui.insights.performance_charts import HistorySeries

log = logging.getLogger("gavel.ui.insights")

LineageResult = tuple[LineageGraph, LineageLayout]
HistoryResult = tuple[list[str], str, list["HistorySeries"]]


class ModelInsights(QTabWidget):
    """Lineage, Metrics and Compare for the model and version the detail panel shows."""

    version_picked = Signal(int)  # the corner picker chose a version
    open_version_requested = Signal(str, str, int)  # registry, model, version

    def __init__(
        self,
        lineage: LineageService,
        performance: PerformanceService,
        runner: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ModelInsights")
        self.setDocumentMode(True)
        self._lineage = lineage
        self._performance = performance
        self._runner = runner
        self.detail: ModelDetail | None = None
        self.version: VersionRow | None = None
        self.graph: LineageGraph | None = None
        self.model_metrics: ModelMetrics | None = None
        self._stale: set[QWidget] = set()

        self.lineage_panel = LineagePanel()
        # The chart tabs are built when first opened: matplotlib is not a start-up cost.
        self.metrics_slot = LazySlot(self._build_metrics_tab)
        self.compare_slot = LazySlot(self._build_compare_tab)
        self.addTab(self.lineage_panel, "Lineage")
        self.addTab(self.metrics_slot, "Metrics")
        self.addTab(self.compare_slot, "Compare")
        self.setTabToolTip(0, "Where this version came from and what serves it")
        self.setTabToolTip(1, "A metric across versions, and its history during training")
        self.setTabToolTip(2, "What changed between two versions")

        corner = QWidget()
        corner_lay = QHBoxLayout(corner)
        corner_lay.setContentsMargins(8, 0, 4, 0)
        self.model_label = QLabel()
        self.model_label.setObjectName("SectionTitle")
        self.picker = QComboBox()
        self.picker.setObjectName("InsightsVersionPicker")
        self.picker.setToolTip("The version the Run, Lineage and Metrics tabs show")
        self.picker.setMinimumContentsLength(16)
        corner_lay.addWidget(self.model_label)
        corner_lay.addWidget(self.picker)
        self.setCornerWidget(corner, Qt.Corner.TopRightCorner)

        self.currentChanged.connect(self._tab_changed)
        self.picker.activated.connect(self._picked)
        self.lineage_panel.expand_requested.connect(self._expand_dataset)
        self.lineage_panel.open_version_requested.connect(
            lambda r, m, v: emit(self.open_version_requested, r, m, v)
        )

    def _build_metrics_tab(self) -> MetricsTab:
        from app.ui.insights.metrics_tab import MetricsTab

        tab = MetricsTab()
        tab.history_metric_changed.connect(self._load_history)
        return tab

    def _build_compare_tab(self) -> CompareTab:
        from app.ui.insights.compare_tab import CompareTab

        tab = CompareTab()
        tab.pair_changed.connect(self._load_comparison)
        return tab

    @property
    def metrics_tab(self) -> MetricsTab:
        return self.metrics_slot.widget  # type: ignore[return-value]

    @property
    def compare_tab(self) -> CompareTab:
        return self.compare_slot.widget  # type: ignore[return-value]

    # -- what to show --------------------------------------------------------------------

    def show_version(self, detail: ModelDetail | None, version: VersionRow | None) -> None:
        """The detail panel's model and selected version changed (either or both)."""
        new_model = (
            detail is None or self.detail is None or detail.model_key != self.detail.model_key
        )
        self.detail, self.version = detail, version
        self._fill_picker()
        self._stale = {self.lineage_panel, self.metrics_slot, self.compare_slot}
        if new_model:
            self.model_metrics = None
        self._load_current()

    def _fill_picker(self) -> None:
        d = self.detail
        self.model_label.setText(d.name if d else "")
        self.picker.blockSignals(True)
        self.picker.clear()
        for v in d.versions if d else ():
            self.picker.addItem(version_label(v), v.version)
        if self.version is not None:
            self.picker.setCurrentIndex(self.picker.findData(self.version.version))
        self.picker.blockSignals(False)
        self.picker.setEnabled(bool(d and d.versions))

    def _picked(self, index: int) -> None:
        version = self.picker.itemData(index)
        if version is not None:
            emit(self.version_picked, int(version))

    def _tab_changed(self, _index: int) -> None:
        self._load_current()

    def _load_current(self) -> None:
        tab = self.currentWidget()
        if tab not in self._stale:
            return
        self._stale.discard(tab)
        if tab is self.lineage_panel:
            self._load_lineage()
        elif tab is self.metrics_slot:
            self._load_metrics()
        elif tab is self.compare_slot:
            self._load_compare_pickers()

    # -- lineage -------------------------------------------------------------------------

    def _load_lineage(self) -> None:
        d, v = self.detail, self.version
        if d is None or v is None:
            self.lineage_panel.show_message(
                "No version selected", "Select a version to see where it came from."
            )
            return
        self.lineage_panel.show_message("Building the lineage…")
        svc, registry, model, version = self._lineage, d.registry, d.name, v.version

        def build(_cancel: CancelToken, _progress: ProgressCallback) -> LineageResult:
            graph = svc.lineage(registry, model, version)
            return graph, layout_graph(graph)

        self._runner.run(
            build,
            key="insights-lineage",
            label="Building lineage",
            on_success=self._lineage_ready,
            on_failure=lambda e: self.lineage_panel.show_message("No lineage", e.message),
        )

    def _lineage_ready(self, result: LineageResult) -> None:
        self.graph = result[0]
        self.lineage_panel.show_graph(*result)

    def _expand_dataset(self, node_id: str) -> None:
        graph, svc = self.graph, self._lineage
        if graph is None:
            return

        def expand(_cancel: CancelToken, _progress: ProgressCallback) -> LineageResult:
            bigger = svc.expand_dataset(graph, node_id)
            return bigger, layout_graph(bigger)

        def ready(result: LineageResult) -> None:
            added = len(result[0].nodes) - len(graph.nodes)
            self._lineage_ready(result)
            self.lineage_panel.select_node(node_id)
            self.lineage_panel.notes.setVisible(True)
            self.lineage_panel.notes.setText(
                f"{added} other version{'s' if added != 1 else ''} used this data."
                if added
                else "No other cached version used this data."
            )

        self._runner.run(
            expand,
            key="insights-lineage",
            label="Finding versions trained on this data",
            on_success=ready,
            on_failure=lambda e: self.lineage_panel.notes.setText(e.message),
        )

    # -- metrics -------------------------------------------------------------------------

    def _load_metrics(self) -> None:
        d = self.detail
        if d is None:
            self.metrics_tab.show_message("No model selected")
            return
        if self.model_metrics is not None and self.model_metrics.model_key == d.model_key:
            self._load_history()
            return
        svc, key = self._performance, d.model_key
        self.metrics_tab.show_message("Loading metrics…")

        def load(_cancel: CancelToken, _progress: ProgressCallback) -> ModelMetrics:
            return svc.model_metrics(key)

        def ready(metrics: ModelMetrics) -> None:
            self.model_metrics = metrics
            self.metrics_tab.set_model_metrics(metrics)
            self._load_history()

        self._runner.run(
            load,
            key="insights-metrics",
            label="Reading metrics",
            on_success=ready,
            on_failure=lambda e: self.metrics_tab.show_message("Metrics unavailable", e.message),
        )

    def _load_history(self, wanted: str = "") -> None:
        """The history of `wanted` (else the metric shown, else the headline one) in the
        run behind the selected version, with the live version's for reference."""
        from app.ui.insights.performance_charts import HistorySeries

        d, v = self.detail, self.version
        if d is None or v is None:
            return
        wanted = wanted or self.metrics_tab.current_history_metric
        preferred = self.metrics_tab.current_metric
        svc, registry = self._performance, d.registry
        runs = [(v, True)]
        hl = highlighted_version(d.aliases)
        if hl is not None and hl[1] != v.version:
            other = next((x for x in d.versions if x.version == hl[1]), None)
            if other is not None:
                runs.append((other, False))

        def load(_cancel: CancelToken, _progress: ProgressCallback) -> HistoryResult:
            keys = svc.history_keys(registry, v.run_id) if v.run_id else []
            key = next((k for k in (wanted, preferred) if k in keys), keys[0] if keys else "")
            out = []
            for row, emphasis in runs if key else []:
                if not row.run_id:
                    continue
                run = svc.run(registry, row.run_id)
                points = tuple(svc.history(registry, row.run_id, key))
                label = f"v{row.version}" + (f" ({', '.join(row.aliases)})" if row.aliases else "")
                out.append(HistorySeries(label, points, run.start_time if run else None, emphasis))
            return keys, key, out

        self._runner.run(
            load,
            key="insights-history",
            label="Reading metric history",
            on_success=lambda result: self.metrics_tab.set_history(*result),
            on_failure=lambda e: self.metrics_tab.history.show_message("No history", e.message),
        )

    # -- compare -------------------------------------------------------------------------

    def _load_compare_pickers(self) -> None:
        d, v = self.detail, self.version
        if d is None or v is None:
            self.compare_tab.show_message("No version selected")
            return
        self.compare_tab.set_versions(d.versions, *default_pair(d, v))

    def _load_comparison(self, a: int, b: int) -> None:
        d = self.detail
        if d is None:
            return
        svc, key = self._performance, d.model_key

        def load(_cancel: CancelToken, _progress: ProgressCallback) -> VersionComparison:
            return svc.compare(key, a, b)

        self._runner.run(
            load,
            key="insights-compare",
            label="Comparing versions",
            on_success=self.compare_tab.show_comparison,
            on_failure=lambda e: self.compare_tab.show_message("Cannot compare", e.message),
        )


def default_pair(d: ModelDetail, selected: VersionRow) -> tuple[int | None, int | None]:
    """(A, B): what is live (production, else champion) against the selected version;
    when the selected one is live, the version before it (or after, for the first)."""
    hl = highlighted_version(d.aliases)
    if hl is not None and hl[1] != selected.version:
        return hl[1], selected.version
    numbers = sorted(v.version for v in d.versions)
    older = [n for n in numbers if n < selected.version]
    newer = [n for n in numbers if n > selected.version]
    if older:
        return older[-1], selected.version
    if newer:
        return selected.version, newer[0]
    return selected.version, None


class _KeepDetailLayout(QObject):
    """Shows the versions pane again before the window saves its splitter state."""

    def __init__(self, restore: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._restore = restore

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self._restore()
        return False


def attach_insights(
    view: ModelDetailView,
    insights: ModelInsights,
    portfolio: PortfolioService,
    select_model: Callable[[int], bool] | None = None,
) -> None:
    """Put the detail panel's run panel in the first tab of `insights`, beside Lineage,
    Metrics and Compare, and wire them to the panel's model and version.

    select_model: selects a model in the portfolio (for 'Open this version' on
    another model); False when it is not listed there (filtered out).
    """
    splitter = view.splitter
    run_panel = view.run_panel
    splitter.replaceWidget(splitter.indexOf(run_panel), insights)
    insights.insertTab(0, run_panel, "Run")
    insights.setTabToolTip(0, "The run behind this version: metrics, parameters, datasets")
    insights.setCurrentIndex(0)
    saved: list[bytes] = []
    hidden: list[QWidget] = []

    def show_others() -> None:
        if hidden:
            for widget in hidden:
                widget.show()
            hidden.clear()
            if saved:
                splitter.restoreState(saved.pop())

    def tab_changed(_index: int) -> None:
        if insights.currentWidget() is run_panel:
            show_others()
        elif not hidden:
            # The graph tabs get the panel's whole width; the versions list (and any
            # other pane) comes back with the Run tab.
            saved[:] = [bytes(splitter.saveState().data())]
            for i in range(splitter.count()):
                widget = splitter.widget(i)
                if widget is not None and widget is not insights and not widget.isHidden():
                    widget.hide()
                    hidden.append(widget)

    def select_version(version: int) -> None:
        row = view.versions_model.row_of_version(version)
        if row is not None:
            view.select_version_row(row)

    def open_version(registry: str, model: str, version: int) -> None:
        try:
            key = portfolio.find_model(model, registry).model_key
        except GavelError as exc:
            insights.lineage_panel.notes.setText(exc.message)
            return
        if key != view.model_key and (select_model is None or not select_model(key)):
            view.show_model(key)
        select_version(version)

    insights.currentChanged.connect(tab_changed)
    insights.version_picked.connect(select_version)
    insights.open_version_requested.connect(open_version)
    view.version_selected.connect(lambda v: insights.show_version(view.detail, v))
    window = view.window()
    window.installEventFilter(_KeepDetailLayout(show_others, insights))
