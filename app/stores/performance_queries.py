"""Read side of the cache for performance charts: metrics per version, history keys."""

from __future__ import annotations

from sqlalchemy import and_, func, select

from app.domain.performance import ModelMetrics, VersionMetrics
from app.stores.engine import Database
from app.stores.schema import (
    SqlAlias,
    SqlMetricHistory,
    SqlModel,
    SqlRegistry,
    SqlRun,
    SqlRunMetric,
    SqlVersion,
)


class PerformanceQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def model_metrics(self, model_key: int) -> ModelMetrics | None:
        """The latest metrics of the run behind each version of a model (one query)."""
        with self._db.session() as s:
            found = s.execute(
                select(SqlModel.name, SqlModel.registry_id, SqlRegistry.name)
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .where(SqlModel.id == model_key)
            ).first()
            if found is None:
                return None
            name, registry_id, registry = found
            aliases = dict(
                s.execute(
                    select(SqlAlias.alias, SqlAlias.version).where(SqlAlias.model_id == model_key)
                ).all()
            )
            rows = s.execute(
                select(
                    SqlVersion.version,
                    SqlVersion.run_id,
                    SqlVersion.creation_ts,
                    SqlRunMetric.key,
                    SqlRunMetric.value,
                )
                .select_from(SqlVersion)
                .outerjoin(
                    SqlRun,
                    and_(SqlRun.registry_id == registry_id, SqlRun.run_id == SqlVersion.run_id),
                )
                .outerjoin(SqlRunMetric, SqlRunMetric.run_pk == SqlRun.id)
                .where(SqlVersion.model_id == model_key)
                .order_by(SqlVersion.version)
            ).all()
        by_version: dict[int, tuple[str, int | None, dict[str, float]]] = {}
        for version, run_id, created, key, value in rows:
            entry = by_version.setdefault(version, (run_id or "", created, {}))
            if key is not None and value is not None:
                entry[2][key] = float(value)
        on_version: dict[int, list[str]] = {}
        for alias, version in aliases.items():
            on_version.setdefault(version, []).append(alias)
        return ModelMetrics(
            model_key=model_key,
            registry=registry,
            model=name,
            aliases=aliases,
            versions=tuple(
                VersionMetrics(
                    version=v,
                    run_id=run_id,
                    aliases=tuple(sorted(on_version.get(v, []))),
                    metrics=metrics,
                    creation_timestamp=created,
                )
                for v, (run_id, created, metrics) in sorted(by_version.items())
            ),
        )

    def history_keys(self, registry: str, run_id: str) -> dict[str, int]:
        """Metric keys of a run with their number of cached history points."""
        stmt = (
            select(SqlMetricHistory.key, func.count())
            .join(SqlRun, SqlRun.id == SqlMetricHistory.run_pk)
            .join(SqlRegistry, SqlRegistry.id == SqlRun.registry_id)
            .where(SqlRegistry.name == registry, SqlRun.run_id == run_id)
            .group_by(SqlMetricHistory.key)
        )
        with self._db.session() as s:
            return {key: int(n) for key, n in s.execute(stmt)}
