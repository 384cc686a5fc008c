"""Portfolio reads for the console and the CLI (all from the cache, so offline too)."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.entities import MetricPoint
from app.domain.errors import UsageError
from app.domain.portfolio import (
    ModelDetail,
    PortfolioRow,
    PortfolioSort,
    RunDetail,
    VersionState,
)
from app.domain.review_schedule import ProductionVersion
from app.stores.portfolio_queries import PortfolioQueries


class PortfolioService:
    def __init__(self, queries: PortfolioQueries) -> None:
        self._q = queries

    def model_keys(
        self,
        text: str = "",
        registry: str | None = None,
        sort: PortfolioSort = PortfolioSort.NAME,
        descending: bool = False,
        team: str | None = None,
        only: Sequence[tuple[str, str]] | None = None,
    ) -> list[int]:
        """Ids of the models shown, in order; team and only narrow them (see the store)."""
        return self._q.model_keys(text, registry, sort, descending, team, only)

    def teams(self) -> list[str]:
        return self._q.teams()

    def rows(self, keys: Sequence[int]) -> dict[int, PortfolioRow]:
        return self._q.rows(keys)

    def all_rows(self, registry: str | None = None) -> list[PortfolioRow]:
        keys = self._q.model_keys("", registry)
        rows = self._q.rows(keys)
        return [rows[k] for k in keys]

    def model_names(self, registry: str | None = None) -> list[tuple[str, str]]:
        """(registry, model) of every cached model, sorted; cheap enough for pickers."""
        return self._q.model_names(registry)

    def version_state(self, registry: str, model: str, version: int) -> VersionState | None:
        """The cached aliases of the model and identity and stage of the version."""
        return self._q.version_state(registry, model, version)

    def production_versions(self) -> list[ProductionVersion]:
        """Every version serving production (alias or stage), as cached."""
        return self._q.production_versions()

    def risk_tiers(self, registry: str | None = None) -> dict[tuple[str, str], str]:
        """(registry, model) -> risk_tier tag as cached ('' when untagged)."""
        return self._q.risk_tiers(registry)

    def model_detail(self, model_key: int, max_versions: int | None = None) -> ModelDetail | None:
        return self._q.model_detail(model_key, max_versions)

    def find_model(self, name: str, registry: str | None = None) -> ModelDetail:
        """The cached model of that name; ambiguous across registries needs `registry`."""
        keys = self._q.find_model(name, registry)
        if not keys:
            where = f" in registry '{registry}'" if registry else ""
            raise UsageError(
                f"No cached model named '{name}'{where}. Run 'gavel sync' or check the name."
            )
        if len(keys) > 1:
            raise UsageError(
                f"Several registries have a model named '{name}'; name one with --registry."
            )
        detail = self._q.model_detail(keys[0])
        assert detail is not None
        return detail

    def run_detail(self, registry: str, run_id: str) -> RunDetail | None:
        return self._q.run_detail(registry, run_id)

    def metric_history(self, registry: str, run_id: str, key: str) -> list[MetricPoint]:
        return self._q.metric_history(registry, run_id, key)
