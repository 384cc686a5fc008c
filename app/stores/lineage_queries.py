"""Read side of the cache for lineage: one version's facts, and who used a dataset.

A version points at its run by run id within the same registry (runs are unique per
registry, not globally), so every join from versions to runs goes through the
model's registry.
"""

from __future__ import annotations

from sqlalchemy import and_, select

from app.domain.lineage import DatasetUse, VersionFacts
from app.stores.engine import Database
from app.stores.schema import (
    SqlAlias,
    SqlDatasetInput,
    SqlModel,
    SqlRegistry,
    SqlRun,
    SqlVersion,
    SqlVersionTag,
)

# A dataset shared by every version of a big registry would otherwise list thousands.
DEFAULT_USES_LIMIT = 200


class LineageQueries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def version_facts(self, registry: str, model: str, version: int) -> VersionFacts | None:
        """The cached version, with its model's aliases and its tags; None if not cached."""
        with self._db.session() as s:
            found = s.execute(
                select(SqlVersion, SqlModel.id)
                .join(SqlModel, SqlModel.id == SqlVersion.model_id)
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .where(
                    SqlRegistry.name == registry,
                    SqlModel.name == model,
                    SqlVersion.version == version,
                )
            ).first()
            if found is None:
                return None
            row, model_key = found
            aliases = dict(
                s.execute(
                    select(SqlAlias.alias, SqlAlias.version).where(SqlAlias.model_id == model_key)
                ).all()
            )
            tags = dict(
                s.execute(
                    select(SqlVersionTag.key, SqlVersionTag.value).where(
                        SqlVersionTag.version_id == row.id
                    )
                ).all()
            )
        return VersionFacts(
            registry=registry,
            model=model,
            model_key=model_key,
            version=row.version,
            status=row.status,
            source=row.source,
            run_id=row.run_id,
            logged_model_id=row.logged_model_id,
            user_id=row.user_id,
            description=row.description,
            creation_timestamp=row.creation_ts,
            tags=tags,
            model_aliases=aliases,
        )

    def dataset_uses(self, digest: str, limit: int = DEFAULT_USES_LIMIT) -> list[DatasetUse]:
        """Cached model versions whose run logged a dataset with this digest, any registry.

        Ordered by registry, model, version; at most `limit` of them.
        """
        stmt = (
            select(
                SqlRegistry.name,
                SqlModel.name,
                SqlModel.id,
                SqlVersion.version,
                SqlRun.run_id,
                SqlDatasetInput.name,
                SqlDatasetInput.context,
            )
            .select_from(SqlDatasetInput)
            .join(SqlRun, SqlRun.id == SqlDatasetInput.run_pk)
            .join(SqlRegistry, SqlRegistry.id == SqlRun.registry_id)
            .join(SqlModel, SqlModel.registry_id == SqlRun.registry_id)
            .join(
                SqlVersion,
                and_(SqlVersion.model_id == SqlModel.id, SqlVersion.run_id == SqlRun.run_id),
            )
            .where(SqlDatasetInput.digest == digest)
            .order_by(SqlRegistry.name, SqlModel.name, SqlVersion.version, SqlDatasetInput.id)
        )
        with self._db.session() as s:
            rows = s.execute(stmt).all()
            model_keys = {r[2] for r in rows}
            aliases: dict[tuple[int, int], list[str]] = {}
            if model_keys:
                q = select(SqlAlias.model_id, SqlAlias.version, SqlAlias.alias).where(
                    SqlAlias.model_id.in_(model_keys)
                )
                for model_key, version, alias in s.execute(q):
                    aliases.setdefault((model_key, version), []).append(alias)
        uses: dict[tuple[str, str, int], DatasetUse] = {}
        for registry, model, model_key, version, run_id, name, context in rows:
            key = (registry, model, version)
            if key in uses:
                # The same data logged twice by one run (training and evaluation).
                prev = uses[key]
                if context and context not in prev.context.split(", "):
                    uses[key] = DatasetUse(
                        prev.registry,
                        prev.model,
                        prev.version,
                        prev.run_id,
                        prev.dataset,
                        prev.digest,
                        f"{prev.context}, {context}" if prev.context else context,
                        prev.aliases,
                    )
                continue
            if len(uses) >= limit:
                break
            uses[key] = DatasetUse(
                registry=registry,
                model=model,
                version=version,
                run_id=run_id,
                dataset=name,
                digest=digest,
                context=context,
                aliases=tuple(sorted(aliases.get((model_key, version), []))),
            )
        return list(uses.values())
