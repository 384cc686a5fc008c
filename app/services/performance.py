"""Performance of a model across its versions, one run's metric history, and the
comparison of two versions; all from the cache (metric history is cached by sync)."""

from __future__ import annotations

from app.domain.entities import MetricPoint
from app.domain.errors import UsageError
from app.domain.performance import (
    ModelMetrics,
    VersionComparison,
    compare_runs,
    ordered_metric_keys,
)
from app.domain.portfolio import RunDetail
from app.stores.performance_queries import PerformanceQueries
from app.stores.portfolio_queries import PortfolioQueries


class PerformanceService:
    def __init__(self, queries: PerformanceQueries, portfolio: PortfolioQueries) -> None:
        self._q = queries
        self._portfolio = portfolio

    def model_metrics(self, model_key: int) -> ModelMetrics:
        """Latest metrics of every version of a cached model."""
        found = self._q.model_metrics(model_key)
        if found is None:
            raise UsageError("This model is no longer in the cache; sync the registry.")
        return found

    def history_keys(self, registry: str, run_id: str) -> list[str]:
        """Metrics of a run that have a history (more than one point), headline first."""
        counts = self._q.history_keys(registry, run_id)
        return ordered_metric_keys(k for k, n in counts.items() if n > 1)

    def history(self, registry: str, run_id: str, key: str) -> list[MetricPoint]:
        """Every cached point of one metric of a run, by step then time."""
        return self._portfolio.metric_history(registry, run_id, key)

    def run(self, registry: str, run_id: str) -> RunDetail | None:
        return self._portfolio.run_detail(registry, run_id) if run_id else None

    def compare(self, model_key: int, version_a: int, version_b: int) -> VersionComparison:
        """Params that differ, metric deltas (b − a) and dataset changes of two versions."""
        detail = self._portfolio.model_detail(model_key)
        if detail is None:
            raise UsageError("This model is no longer in the cache; sync the registry.")
        runs: dict[int, RunDetail | None] = {}
        for wanted in (version_a, version_b):
            row = next((v for v in detail.versions if v.version == wanted), None)
            if row is None:
                raise UsageError(f"Version {wanted} of '{detail.name}' is not in the cache.")
            runs[wanted] = self.run(detail.registry, row.run_id)
        return compare_runs(detail.name, version_a, runs[version_a], version_b, runs[version_b])
