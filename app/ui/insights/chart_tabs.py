"""The Metrics and Compare tabs of the model detail: what they read, in workers.

Imported when one of them is first opened: the charts need matplotlib and numpy,
which start-up should not pay for.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.domain.cancel import CancelToken
from app.domain.performance import ModelMetrics, VersionComparison, highlighted_version
from app.domain.portfolio import ModelDetail, VersionRow
from app.domain.progress import ProgressCallback
from app.services.performance import PerformanceService
from app.ui.common.tasks import TaskRunner
from app.ui.insights.compare_tab import CompareTab
from app.ui.insights.metrics_tab import MetricsTab
from app.ui.insights.performance_charts import HistorySeries

HistoryResult = tuple[list[str], str, list[HistorySeries]]


class MetricsDetailTab:
    """A metric across the model's versions, and its history in the version's run."""

    def __init__(self, performance: PerformanceService, runner: TaskRunner) -> None:
        self._performance = performance
        self._runner = runner
        self.detail: ModelDetail | None = None
        self.version: VersionRow | None = None
        self.model_metrics: ModelMetrics | None = None
        self.view = MetricsTab()
        self.view.history_metric_changed.connect(self._load_history)

    @property
    def widget(self) -> QWidget:
        return self.view

    def show_version(self, model: ModelDetail | None, version: VersionRow | None) -> None:
        if model is None or self.detail is None or model.model_key != self.detail.model_key:
            self.model_metrics = None
        self.detail, self.version = model, version
        self._load_metrics()

    def _load_metrics(self) -> None:
        d = self.detail
        if d is None:
            self.view.show_message("No model selected")
            return
        if self.model_metrics is not None and self.model_metrics.model_key == d.model_key:
            self._load_history()
            return
        svc, key = self._performance, d.model_key
        self.view.show_message("Loading metrics…")

        def load(_cancel: CancelToken, _progress: ProgressCallback) -> ModelMetrics:
            return svc.model_metrics(key)

        def ready(metrics: ModelMetrics) -> None:
            self.model_metrics = metrics
            self.view.set_model_metrics(metrics)
            self._load_history()

        self._runner.run(
            load,
            key="insights-metrics",
            label="Reading metrics",
            on_success=ready,
            on_failure=lambda e: self.view.show_message("Metrics unavailable", e.message),
        )

    def _load_history(self, wanted: str = "") -> None:
        """The history of `wanted` (else the metric shown, else the headline one) in the
        run behind the selected version, with the live version's for reference."""
        d, v = self.detail, self.version
        if d is None or v is None:
            return
        wanted = wanted or self.view.current_history_metric
        preferred = self.view.current_metric
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
            on_success=lambda result: self.view.set_history(*result),
            on_failure=lambda e: self.view.history.show_message("No history", e.message),
        )


class CompareDetailTab:
    """What changed between two versions of the model."""

    def __init__(self, performance: PerformanceService, runner: TaskRunner) -> None:
        self._performance = performance
        self._runner = runner
        self.detail: ModelDetail | None = None
        self.view = CompareTab()
        self.view.pair_changed.connect(self._load_comparison)

    @property
    def widget(self) -> QWidget:
        return self.view

    def show_version(self, model: ModelDetail | None, version: VersionRow | None) -> None:
        self.detail = model
        if model is None or version is None:
            self.view.show_message("No version selected")
            return
        self.view.set_versions(model.versions, *default_pair(model, version))

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
            on_success=self.view.show_comparison,
            on_failure=lambda e: self.view.show_message("Cannot compare", e.message),
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
