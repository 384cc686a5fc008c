"""Read side of the cache: the portfolio (ids first, rows on demand) and details.

Sorting and filtering run in SQL so a table of any size only ever loads the rows
on screen (Anki's browser does the same).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, tuple_
from sqlalchemy.orm import Session

from app.domain.entities import DatasetInput, MetricPoint
from app.domain.portfolio import (
    ModelDetail,
    PortfolioRow,
    PortfolioSort,
    RegistryStatus,
    RunDetail,
    VersionRow,
    VersionState,
)
from app.domain.review_schedule import PRODUCTION_ALIAS, PRODUCTION_STAGE, ProductionVersion
from app.stores.engine import Database
from app.stores.schema import (
    SqlAlias,
    SqlDatasetInput,
    SqlMetricHistory,
    SqlModel,
    SqlModelTag,
    SqlRegistry,
    SqlRun,
    SqlRunMetric,
    SqlRunParam,
    SqlRunTag,
    SqlVersion,
    SqlVersionTag,
)

_SORT_COLUMNS = {
    PortfolioSort.NAME: func.lower(SqlModel.name),
    PortfolioSort.REGISTRY: SqlRegistry.name,
    PortfolioSort.LATEST_VERSION: SqlModel.latest_version,
    PortfolioSort.OWNER: func.lower(SqlModel.owner),
    PortfolioSort.TEAM: func.lower(SqlModel.team),
    PortfolioSort.RISK_TIER: SqlModel.risk_tier,
    PortfolioSort.VERSION_COUNT: SqlModel.version_count,
    PortfolioSort.LAST_UPDATED: SqlModel.last_updated_ts,
}


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class PortfolioQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _filtered(self, stmt: Select[Any], text: str, registry: str | None) -> Select[Any]:
        stmt = stmt.join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
        if registry:
            stmt = stmt.where(SqlRegistry.name == registry)
        text = text.strip()
        if text:
            pat = _like_pattern(text)
            stmt = stmt.where(
                or_(
                    func.lower(SqlModel.name).like(pat, escape="\\"),
                    func.lower(SqlModel.owner).like(pat, escape="\\"),
                    func.lower(SqlModel.team).like(pat, escape="\\"),
                    func.lower(SqlModel.risk_tier).like(pat, escape="\\"),
                )
            )
        return stmt

    def model_keys(
        self,
        text: str = "",
        registry: str | None = None,
        sort: PortfolioSort = PortfolioSort.NAME,
        descending: bool = False,
        team: str | None = None,
        only: Sequence[tuple[str, str]] | None = None,
    ) -> list[int]:
        """Ids of the models matching the filter, in display order.

        team: only this team's models ('' for those without a team tag).
        only: only these (registry, model) pairs (a list behind an overview figure).
        """
        col = _SORT_COLUMNS[sort]
        order = col.desc() if descending else col.asc()
        stmt = self._filtered(select(SqlModel.id), text, registry)
        if team is not None:
            stmt = stmt.where(SqlModel.team == team)
        if only is not None:
            wanted = sorted({(r, m) for r, m in only})
            if not wanted:
                return []
            stmt = stmt.where(tuple_(SqlRegistry.name, SqlModel.name).in_(wanted))
        stmt = stmt.order_by(order.nulls_last(), func.lower(SqlModel.name), SqlModel.id)
        with self._db.session() as s:
            return list(s.scalars(stmt))

    def teams(self) -> list[str]:
        """Every team tag in the cache ('' for models without one), by name."""
        stmt = select(SqlModel.team).distinct().order_by(func.lower(SqlModel.team))
        with self._db.session() as s:
            return [t or "" for t in s.scalars(stmt)]

    def model_names(self, registry: str | None = None) -> list[tuple[str, str]]:
        """(registry, model) of every cached model, by name then registry: for pickers,
        which need names only, not whole rows."""
        stmt = select(SqlRegistry.name, SqlModel.name).join(
            SqlRegistry, SqlRegistry.id == SqlModel.registry_id
        )
        if registry is not None:
            stmt = stmt.where(SqlRegistry.name == registry)
        stmt = stmt.order_by(func.lower(SqlModel.name), SqlModel.name, SqlRegistry.name)
        with self._db.session() as s:
            return [(reg, name) for reg, name in s.execute(stmt)]

    def version_state(self, registry: str, model: str, version: int) -> VersionState | None:
        """The model's aliases and the version's identity and stage, as cached; None when
        the version is not in the cache (deleted, or never synced)."""
        with self._db.session() as s:
            found = s.execute(
                select(
                    SqlModel.id,
                    SqlVersion.creation_ts,
                    SqlVersion.run_id,
                    SqlVersion.current_stage,
                )
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .join(SqlVersion, SqlVersion.model_id == SqlModel.id)
                .where(
                    SqlRegistry.name == registry,
                    SqlModel.name == model,
                    SqlVersion.version == version,
                )
            ).first()
            if found is None:
                return None
            aliases = dict(
                s.execute(
                    select(SqlAlias.alias, SqlAlias.version).where(SqlAlias.model_id == found[0])
                ).all()
            )
        return VersionState(aliases, found[1], found[2] or "", found[3] or "")

    def risk_tiers(self, registry: str | None = None) -> dict[tuple[str, str], str]:
        """(registry, model) -> the model's risk_tier tag ('' when it has none), in one query."""
        stmt = select(SqlRegistry.name, SqlModel.name, SqlModel.risk_tier).join(
            SqlRegistry, SqlRegistry.id == SqlModel.registry_id
        )
        if registry is not None:
            stmt = stmt.where(SqlRegistry.name == registry)
        with self._db.session() as s:
            return {(reg, name): tier or "" for reg, name, tier in s.execute(stmt)}

    def team_of_models(self) -> dict[tuple[str, str], str]:
        """(registry, model) -> the model's team tag ('' when it has none), in one query."""
        stmt = select(SqlRegistry.name, SqlModel.name, SqlModel.team).join(
            SqlRegistry, SqlRegistry.id == SqlModel.registry_id
        )
        with self._db.session() as s:
            return {(reg, name): team or "" for reg, name, team in s.execute(stmt)}

    def version_created(
        self, wanted: Collection[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], int]:
        """(registry, model, version) -> the version's creation timestamp (ms since the
        epoch, as the registry gives it), for those of ``wanted`` the cache holds.

        One pass over the versions of the models named (not an IN list of triples, which
        SQLite's limit on bound parameters would break for large sets).
        """
        if not wanted:
            return {}
        names = sorted({m for _r, m, _v in wanted})
        columns = (SqlRegistry.name, SqlModel.name, SqlVersion.version, SqlVersion.creation_ts)
        out: dict[tuple[str, str, int], int] = {}
        with self._db.session() as s:
            for start in range(0, len(names), 500):
                stmt = (
                    select(*columns)
                    .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                    .join(SqlVersion, SqlVersion.model_id == SqlModel.id)
                    .where(
                        SqlModel.name.in_(names[start : start + 500]),
                        SqlVersion.creation_ts.is_not(None),
                    )
                )
                for reg, name, version, ts in s.execute(stmt):
                    if ts is not None and (reg, name, version) in wanted:
                        out[(reg, name, version)] = ts
        return out

    def production_versions(self) -> list[ProductionVersion]:
        """Every version the alias 'production' points at or in stage Production, in
        one read (an alias and a stage on one version make one entry)."""
        cols = (
            SqlRegistry.name,
            SqlModel.name,
            SqlVersion.version,
            SqlModel.risk_tier,
            SqlModel.owner,
            SqlModel.team,
            SqlVersion.user_id,
            SqlVersion.creation_ts,
            SqlRun.user_id,
        )
        run = (SqlRun.registry_id == SqlModel.registry_id) & (SqlRun.run_id == SqlVersion.run_id)
        by_alias = (
            select(*cols)
            .select_from(SqlAlias)
            .join(SqlModel, SqlModel.id == SqlAlias.model_id)
            .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
            .join(
                SqlVersion,
                (SqlVersion.model_id == SqlAlias.model_id)
                & (SqlVersion.version == SqlAlias.version),
            )
            .outerjoin(SqlRun, run)
            .where(func.lower(SqlAlias.alias) == PRODUCTION_ALIAS)
        )
        by_stage = (
            select(*cols)
            .select_from(SqlVersion)
            .join(SqlModel, SqlModel.id == SqlVersion.model_id)
            .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
            .outerjoin(SqlRun, run)
            # MLflow spells it 'Production'; a plain comparison lets SQLite scan fast.
            .where(
                SqlVersion.current_stage.in_(
                    (PRODUCTION_STAGE, PRODUCTION_STAGE.lower(), PRODUCTION_STAGE.upper())
                )
            )
        )
        found: dict[tuple[str, str, int], tuple[list[str], tuple[Any, ...]]] = {}
        with self._db.session() as s:
            for how, stmt in (
                (f"alias {PRODUCTION_ALIAS}", by_alias),
                (f"stage {PRODUCTION_STAGE}", by_stage),
            ):
                for row in s.execute(stmt):
                    key = (row[0], row[1], row[2])
                    found.setdefault(key, ([], tuple(row)))[0].append(how)
        return [
            ProductionVersion(
                registry=reg,
                model=model,
                version=version,
                served_by=" and ".join(hows),
                risk_tier=tier or "",
                owner=owner or "",
                team=team or "",
                creator=creator or "",
                created_at=(
                    datetime.fromtimestamp(created / 1000, UTC) if created is not None else None
                ),
                run_user=run_user or "",
            )
            for (hows, (reg, model, version, tier, owner, team, creator, created, run_user)) in (
                found[k] for k in sorted(found)
            )
        ]

    def rows(self, keys: Sequence[int]) -> dict[int, PortfolioRow]:
        """Portfolio rows for the given ids (the visible ones)."""
        if not keys:
            return {}
        with self._db.session() as s:
            # Columns, not ORM entities: a thousand rows load in a few milliseconds.
            stmt = (
                select(
                    SqlModel.id,
                    SqlRegistry.name,
                    SqlModel.name,
                    SqlModel.latest_version,
                    SqlModel.owner,
                    SqlModel.risk_tier,
                    SqlModel.team,
                    SqlModel.version_count,
                    SqlModel.last_updated_ts,
                )
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .where(SqlModel.id.in_(list(keys)))
            )
            models = list(s.execute(stmt))
            aliases: dict[int, dict[str, int]] = {}
            q = select(SqlAlias.model_id, SqlAlias.alias, SqlAlias.version).where(
                SqlAlias.model_id.in_(list(keys))
            )
            for mid, alias, version in s.execute(q):
                aliases.setdefault(mid, {})[alias] = version
        return {
            mid: PortfolioRow(
                model_key=mid,
                registry=reg,
                name=name,
                latest_version=latest,
                aliases=aliases.get(mid, {}),
                owner=owner,
                risk_tier=tier,
                team=team,
                version_count=count,
                last_updated_timestamp=updated,
            )
            for mid, reg, name, latest, owner, tier, team, count, updated in models
        }

    def find_model(self, name: str, registry: str | None = None) -> list[int]:
        stmt = self._filtered(select(SqlModel.id), "", registry).where(SqlModel.name == name)
        with self._db.session() as s:
            return list(s.scalars(stmt))

    def model_detail(self, model_key: int, max_versions: int | None = None) -> ModelDetail | None:
        """The model with its versions, newest first (only the newest `max_versions`
        when given; `versions_complete` says whether that was all of them)."""
        with self._db.session() as s:
            found = s.execute(
                select(SqlModel, SqlRegistry.name)
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .where(SqlModel.id == model_key)
            ).first()
            if found is None:
                return None
            m, reg = found
            tags = dict(
                s.execute(
                    select(SqlModelTag.key, SqlModelTag.value).where(
                        SqlModelTag.model_id == model_key
                    )
                ).all()
            )
            aliases = dict(
                s.execute(
                    select(SqlAlias.alias, SqlAlias.version).where(SqlAlias.model_id == model_key)
                ).all()
            )
            versions = _versions(
                s, model_key, aliases, None if max_versions is None else max_versions + 1
            )
            complete = max_versions is None or len(versions) <= max_versions
            versions = versions if complete else versions[:max_versions]
        return ModelDetail(
            model_key=m.id,
            registry=reg,
            name=m.name,
            description=m.description,
            tags=tags,
            aliases=aliases,
            creation_timestamp=m.creation_ts,
            last_updated_timestamp=m.last_updated_ts,
            versions=versions,
            synced_at=_aware(m.synced_at),
            versions_complete=complete,
        )

    def run_detail(self, registry: str, run_id: str) -> RunDetail | None:
        with self._db.session() as s:
            run = s.scalars(
                select(SqlRun)
                .join(SqlRegistry, SqlRegistry.id == SqlRun.registry_id)
                .where(SqlRegistry.name == registry, SqlRun.run_id == run_id)
            ).first()
            if run is None:
                return None
            params = dict(
                s.execute(
                    select(SqlRunParam.key, SqlRunParam.value).where(SqlRunParam.run_pk == run.id)
                ).all()
            )
            tags = dict(
                s.execute(
                    select(SqlRunTag.key, SqlRunTag.value).where(SqlRunTag.run_pk == run.id)
                ).all()
            )
            metrics = {
                r.key: MetricPoint(r.key, r.value, r.step, r.timestamp)
                for r in s.scalars(select(SqlRunMetric).where(SqlRunMetric.run_pk == run.id))
            }
            datasets = tuple(
                DatasetInput(d.name, d.digest, d.source_type, d.source, d.context)
                for d in s.scalars(
                    select(SqlDatasetInput)
                    .where(SqlDatasetInput.run_pk == run.id)
                    .order_by(SqlDatasetInput.id)
                ).all()
            )
        return RunDetail(
            run_id=run.run_id,
            experiment_id=run.experiment_id,
            run_name=run.run_name,
            user_id=run.user_id,
            status=run.status,
            start_time=run.start_time,
            end_time=run.end_time,
            params=params,
            metrics=metrics,
            tags=tags,
            datasets=datasets,
        )

    def metric_history(self, registry: str, run_id: str, key: str) -> list[MetricPoint]:
        with self._db.session() as s:
            q = (
                select(SqlMetricHistory)
                .join(SqlRun, SqlRun.id == SqlMetricHistory.run_pk)
                .join(SqlRegistry, SqlRegistry.id == SqlRun.registry_id)
                .where(
                    SqlRegistry.name == registry,
                    SqlRun.run_id == run_id,
                    SqlMetricHistory.key == key,
                )
                .order_by(SqlMetricHistory.step, SqlMetricHistory.timestamp)
            )
            return [MetricPoint(r.key, r.value, r.step, r.timestamp) for r in s.scalars(q)]

    def registry_statuses(self) -> list[RegistryStatus]:
        with self._db.session() as s:
            counts = dict(
                s.execute(
                    select(SqlModel.registry_id, func.count()).group_by(SqlModel.registry_id)
                ).all()
            )
            return [
                RegistryStatus(
                    name=r.name,
                    url=r.url,
                    is_demo=False,
                    last_synced_at=_aware(r.last_synced_at),
                    last_error=r.last_error,
                    model_count=counts.get(r.id, 0),
                )
                for r in s.scalars(select(SqlRegistry).order_by(SqlRegistry.name))
            ]


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything Gavel stores is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _versions(
    s: Session, model_key: int, aliases: dict[str, int], limit: int | None = None
) -> tuple[VersionRow, ...]:
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    # Columns, not ORM objects, and the tags by join rather than an IN list of ids: a
    # model with 20,000 versions loads in one pass (and stays under SQLite's limit on
    # bound parameters).
    records = s.execute(
        select(
            SqlVersion.id,
            SqlVersion.version,
            SqlVersion.status,
            SqlVersion.current_stage,
            SqlVersion.user_id,
            SqlVersion.source,
            SqlVersion.run_id,
            SqlVersion.creation_ts,
        )
        .where(SqlVersion.model_id == model_key)
        .order_by(SqlVersion.version.desc())
        .limit(limit)
    ).all()
    tags: dict[int, dict[str, str]] = {}
    if records:
        q = (
            select(SqlVersionTag.version_id, SqlVersionTag.key, SqlVersionTag.value)
            .join(SqlVersion, SqlVersion.id == SqlVersionTag.version_id)
            .where(SqlVersion.model_id == model_key)
        )
        if limit is not None:
            q = q.where(SqlVersion.version >= records[-1].version)
        for vid, key, value in s.execute(q):
            tags.setdefault(vid, {})[key] = value
    return tuple(
        VersionRow(
            version_key=r.id,
            version=r.version,
            status=r.status,
            current_stage=r.current_stage,
            user_id=r.user_id,
            source=r.source,
            run_id=r.run_id,
            creation_timestamp=r.creation_ts,
            aliases=tuple(sorted(by_version.get(r.version, []))),
            tags=tags.get(r.id, {}),
        )
        for r in records
    )
