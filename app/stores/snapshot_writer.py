"""Write one registry's snapshot into the cache in a single transaction.

The write is a diff against what the cache holds: unchanged rows are not touched,
so a re-sync with nothing changed costs reads, not writes. A failure or a cancel
anywhere before commit rolls everything back and the previous snapshot stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from app.domain.cancel import CancelToken
from app.domain.entities import AliasChange, ModelVersion, RegisteredModel, Run
from app.domain.tags import TAG_OWNER, TAG_RISK_TIER, TAG_TEAM, TERMINAL_RUN_STATES
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

# SQLite's default host-parameter limit is 32766; keep IN lists well below it.
_CHUNK = 500


@dataclass(frozen=True)
class SnapshotStats:
    models_written: int
    models_deleted: int
    versions_written: int
    versions_deleted: int
    runs_written: int


class SnapshotWriter:
    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure_registry(self, name: str, url: str) -> None:
        with self._db.session() as s:
            _registry_id(s, name, url)

    def cached_terminal_runs(self, registry: str) -> set[str]:
        """Run ids whose cached copy is final (finished/failed/killed): safe to reuse."""
        with self._db.session() as s:
            rows = s.execute(
                select(SqlRun.run_id)
                .join(SqlRegistry, SqlRegistry.id == SqlRun.registry_id)
                .where(
                    SqlRegistry.name == registry,
                    SqlRun.status.in_(TERMINAL_RUN_STATES),
                )
            )
            return {r[0] for r in rows}

    def rename_registry(self, old: str, new: str) -> None:
        with self._db.session() as s:
            s.execute(update(SqlRegistry).where(SqlRegistry.name == old).values(name=new))

    def drop_registry(self, name: str) -> None:
        """Delete a registry's cached snapshot (models, versions, runs cascade)."""
        with self._db.session() as s:
            s.execute(delete(SqlRegistry).where(SqlRegistry.name == name))

    def record_failure(self, registry: str, url: str, when: datetime, error: str) -> None:
        with self._db.session() as s:
            rid = _registry_id(s, registry, url)
            s.execute(
                update(SqlRegistry)
                .where(SqlRegistry.id == rid)
                .values(last_attempt_at=when, last_error=error)
            )

    def write(
        self,
        registry: str,
        url: str,
        models: Iterable[RegisteredModel],
        versions: Iterable[ModelVersion],
        runs: Mapping[str, Run],
        synced_at: datetime,
        cancel: CancelToken | None = None,
    ) -> tuple[SnapshotStats, list[AliasChange]]:
        """Replace the registry's snapshot; returns counts and the alias moves seen."""
        cancel = cancel or CancelToken()
        models = list(models)
        versions = list(versions)
        with self._db.session() as s:
            rid = _registry_id(s, registry, url)
            model_ids, m_written, m_deleted, alias_changes = _write_models(
                s, rid, models, versions, synced_at
            )
            cancel.raise_if_cancelled()
            v_written, v_deleted = _write_versions(s, model_ids, versions, synced_at)
            cancel.raise_if_cancelled()
            r_written = _write_runs(s, rid, runs, synced_at, cancel)
            _drop_orphan_runs(s, rid)
            cancel.raise_if_cancelled()
            s.execute(
                update(SqlRegistry)
                .where(SqlRegistry.id == rid)
                .values(url=url, last_synced_at=synced_at, last_attempt_at=synced_at, last_error="")
            )
        return SnapshotStats(m_written, m_deleted, v_written, v_deleted, r_written), alias_changes

    def refresh_model(
        self,
        registry: str,
        model: RegisteredModel,
        versions: list[ModelVersion],
        refreshed_at: datetime,
    ) -> bool:
        """Re-write one cached model from a fresh registry read (after an apply): its
        fields, tags, aliases, versions and their tags; runs stay as the last sync left
        them. Returns False when the model is not in the cache (nothing is written)."""
        with self._db.session() as s:
            mid = s.scalar(
                select(SqlModel.id)
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .where(SqlRegistry.name == registry, SqlModel.name == model.name)
            )
            if mid is None:
                return False
            s.execute(
                update(SqlModel)
                .where(SqlModel.id == mid)
                .values(synced_at=refreshed_at, **_model_fields(model, versions))
            )
            _sync_kv(
                s, SqlModelTag, SqlModelTag.model_id, SqlModelTag.key, SqlModelTag.value,
                {mid: dict(model.tags)},
            )  # fmt: skip
            _sync_kv(
                s, SqlAlias, SqlAlias.model_id, SqlAlias.alias, SqlAlias.version,
                {mid: {a: int(v) for a, v in model.aliases.items()}},
            )  # fmt: skip
            _write_versions(s, {model.name: mid}, versions, refreshed_at)
        return True


def _registry_id(s: Session, name: str, url: str) -> int:
    rid = s.scalar(select(SqlRegistry.id).where(SqlRegistry.name == name))
    if rid is None:
        rid = s.scalar(
            insert(SqlRegistry).values(name=name, url=url, last_error="").returning(SqlRegistry.id)
        )
    assert rid is not None
    return rid


def _model_fields(m: RegisteredModel, versions: list[ModelVersion]) -> dict[str, object]:
    numbers = [v.version for v in versions]
    return {
        "description": m.description,
        "creation_ts": m.creation_timestamp,
        "last_updated_ts": m.last_updated_timestamp,
        "owner": m.tags.get(TAG_OWNER, ""),
        "risk_tier": m.tags.get(TAG_RISK_TIER, ""),
        "team": m.tags.get(TAG_TEAM, ""),
        "latest_version": max(numbers) if numbers else None,
        "version_count": len(numbers),
    }


def _write_models(
    s: Session,
    rid: int,
    models: list[RegisteredModel],
    versions: list[ModelVersion],
    synced_at: datetime,
) -> tuple[dict[str, int], int, int, list[AliasChange]]:
    by_model: dict[str, list[ModelVersion]] = {}
    for v in versions:
        by_model.setdefault(v.model_name, []).append(v)

    cols = [SqlModel.id, SqlModel.name, *[getattr(SqlModel, k) for k in _MODEL_COLS]]
    existing = {
        row.name: row for row in s.execute(select(*cols).where(SqlModel.registry_id == rid))
    }
    # Read before deletes cascade away the aliases of models that disappeared.
    old_aliases = _load_kv(s, SqlAlias, SqlAlias.model_id, SqlAlias.alias, SqlAlias.version, rid)
    ids: dict[str, int] = {}
    written = 0
    for m in models:
        fields = _model_fields(m, by_model.get(m.name, []))
        row = existing.get(m.name)
        if row is None:
            new_id = s.scalar(
                insert(SqlModel)
                .values(registry_id=rid, name=m.name, synced_at=synced_at, **fields)
                .returning(SqlModel.id)
            )
            assert new_id is not None
            ids[m.name] = new_id
            written += 1
        else:
            ids[m.name] = row.id
            if any(getattr(row, k) != v for k, v in fields.items()):
                s.execute(
                    update(SqlModel)
                    .where(SqlModel.id == row.id)
                    .values(synced_at=synced_at, **fields)
                )
                written += 1

    gone = [row.id for name, row in existing.items() if name not in ids]
    for chunk in _chunks(gone):
        s.execute(delete(SqlModel).where(SqlModel.id.in_(chunk)))

    _sync_kv(
        s,
        SqlModelTag,
        SqlModelTag.model_id,
        SqlModelTag.key,
        SqlModelTag.value,
        {ids[m.name]: dict(m.tags) for m in models},
    )
    new_aliases = {ids[m.name]: {a: int(v) for a, v in m.aliases.items()} for m in models}
    _sync_kv(s, SqlAlias, SqlAlias.model_id, SqlAlias.alias, SqlAlias.version, new_aliases)

    name_of = {mid: name for name, mid in ids.items()}
    name_of.update({row.id: name for name, row in existing.items()})
    changes: list[AliasChange] = []
    # The first snapshot of a registry is the baseline: nothing "moved" yet.
    if existing:
        for mid in sorted(set(old_aliases) | set(new_aliases)):
            before, after = old_aliases.get(mid, {}), new_aliases.get(mid, {})
            for alias in sorted(set(before) | set(after)):
                b, a = before.get(alias), after.get(alias)
                if b != a:
                    changes.append(AliasChange(name_of[mid], alias, _int(b), _int(a)))
    return ids, written, len(gone), changes


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


_MODEL_COLS = (
    "description",
    "creation_ts",
    "last_updated_ts",
    "owner",
    "risk_tier",
    "team",
    "latest_version",
    "version_count",
)

_VERSION_COLS = (
    "creation_ts",
    "last_updated_ts",
    "description",
    "user_id",
    "source",
    "run_id",
    "status",
    "current_stage",
    "logged_model_id",
)


def _version_fields(v: ModelVersion) -> dict[str, object]:
    return {
        "creation_ts": v.creation_timestamp,
        "last_updated_ts": v.last_updated_timestamp,
        "description": v.description,
        "user_id": v.user_id,
        "source": v.source,
        "run_id": v.run_id,
        "status": v.status,
        "current_stage": v.current_stage,
        "logged_model_id": v.logged_model_id,
    }


def _write_versions(
    s: Session, model_ids: dict[str, int], versions: list[ModelVersion], synced_at: datetime
) -> tuple[int, int]:
    cols = [SqlVersion.id, SqlVersion.model_id, SqlVersion.version]
    cols += [getattr(SqlVersion, k) for k in _VERSION_COLS]
    existing: dict[tuple[int, int], Any] = {}
    mids = list(model_ids.values())
    for chunk in _chunks(mids):
        for erow in s.execute(select(*cols).where(SqlVersion.model_id.in_(chunk))):
            existing[(erow.model_id, erow.version)] = erow

    seen: set[tuple[int, int]] = set()
    inserts: list[dict[str, object]] = []
    written = 0
    for v in versions:
        mid = model_ids.get(v.model_name)
        if mid is None:
            continue  # a version of a model deleted between the two searches
        key = (mid, v.version)
        seen.add(key)
        fields = _version_fields(v)
        row = existing.get(key)
        if row is None:
            inserts.append(
                {"model_id": mid, "version": v.version, "synced_at": synced_at, **fields}
            )
        elif any(getattr(row, k) != val for k, val in fields.items()):
            s.execute(
                update(SqlVersion)
                .where(SqlVersion.id == row.id)
                .values(synced_at=synced_at, **fields)
            )
            written += 1
    if inserts:
        s.execute(insert(SqlVersion), inserts)
        written += len(inserts)

    gone = [row.id for key, row in existing.items() if key not in seen]
    for chunk in _chunks(gone):
        s.execute(delete(SqlVersion).where(SqlVersion.id.in_(chunk)))

    # Map versions to ids after inserts, then sync their tags.
    vid: dict[tuple[int, int], int] = {}
    for chunk in _chunks(mids):
        q = select(SqlVersion.id, SqlVersion.model_id, SqlVersion.version).where(
            SqlVersion.model_id.in_(chunk)
        )
        for vrow in s.execute(q):
            vid[(vrow.model_id, vrow.version)] = vrow.id
    tags = {
        vid[(model_ids[v.model_name], v.version)]: dict(v.tags)
        for v in versions
        if v.model_name in model_ids
    }
    _sync_kv(
        s, SqlVersionTag, SqlVersionTag.version_id, SqlVersionTag.key, SqlVersionTag.value, tags
    )
    return written, len(gone)


def _load_kv(
    s: Session, table: type, owner_col: Any, key_col: Any, val_col: Any, rid: int
) -> dict[int, dict[str, object]]:
    out: dict[int, dict[str, object]] = {}
    q = (
        select(owner_col, key_col, val_col)
        .join(SqlModel, SqlModel.id == owner_col)
        .where(SqlModel.registry_id == rid)
    )
    for owner, key, val in s.execute(q):
        out.setdefault(owner, {})[key] = val
    return out


def _sync_kv(
    s: Session,
    table: type,
    owner_col: Any,
    key_col: Any,
    val_col: Any,
    wanted: Mapping[int, Mapping[str, Any]],
) -> None:
    """Make the key/value rows of each owner equal to `wanted`, touching only diffs."""
    owners = list(wanted)
    have: dict[int, dict[str, object]] = {}
    for chunk in _chunks(owners):
        q = select(owner_col, key_col, val_col).where(owner_col.in_(chunk))
        for owner, key, val in s.execute(q):
            have.setdefault(owner, {})[key] = val
    owner_name = owner_col.key
    key_name = key_col.key
    val_name = val_col.key
    inserts: list[dict[str, object]] = []
    stale: list[tuple[int, str]] = []
    for owner, kv in wanted.items():
        old = have.get(owner, {})
        for k, v in kv.items():
            if k not in old:
                inserts.append({owner_name: owner, key_name: k, val_name: v})
            elif old[k] != v:
                stale.append((owner, k))
                inserts.append({owner_name: owner, key_name: k, val_name: v})
        stale.extend((owner, k) for k in old if k not in kv)
    for chunk in _chunks(stale):
        s.execute(delete(table).where(tuple_(owner_col, key_col).in_(chunk)))
    if inserts:
        s.execute(insert(table), inserts)


def _write_runs(
    s: Session, rid: int, runs: Mapping[str, Run], synced_at: datetime, cancel: CancelToken
) -> int:
    if not runs:
        return 0
    ids = list(runs)
    old: list[int] = []
    for chunk in _chunks(ids):
        old.extend(
            s.scalars(select(SqlRun.id).where(SqlRun.registry_id == rid, SqlRun.run_id.in_(chunk)))
        )
    # Runs fetched again are replaced whole: simpler than diffing params/metrics, and
    # a run is only re-fetched when it was not final or not cached.
    for chunk in _chunks(old):
        s.execute(delete(SqlRun).where(SqlRun.id.in_(chunk)))
    cancel.raise_if_cancelled()
    s.execute(
        insert(SqlRun),
        [
            {
                "registry_id": rid,
                "run_id": r.run_id,
                "experiment_id": r.experiment_id,
                "run_name": r.run_name,
                "user_id": r.user_id,
                "status": r.status,
                "start_time": r.start_time,
                "end_time": r.end_time,
                "artifact_uri": r.artifact_uri,
                "synced_at": synced_at,
            }
            for r in runs.values()
        ],
    )
    pk: dict[str, int] = {}
    for chunk in _chunks(ids):
        q = select(SqlRun.id, SqlRun.run_id).where(
            SqlRun.registry_id == rid, SqlRun.run_id.in_(chunk)
        )
        pk.update({run_id: id_ for id_, run_id in s.execute(q)})
    params, tags, metrics, history, datasets = [], [], [], [], []
    for r in runs.values():
        p = pk[r.run_id]
        params += [{"run_pk": p, "key": k, "value": v} for k, v in r.params.items()]
        tags += [{"run_pk": p, "key": k, "value": v} for k, v in r.tags.items()]
        metrics += [
            {"run_pk": p, "key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp}
            for m in r.metrics.values()
        ]
        for points in r.metric_history.values():
            history += [
                {
                    "run_pk": p,
                    "key": m.key,
                    "value": m.value,
                    "step": m.step,
                    "timestamp": m.timestamp,
                }
                for m in points
            ]
        datasets += [
            {
                "run_pk": p,
                "name": d.name,
                "digest": d.digest,
                "source_type": d.source_type,
                "source": d.source,
                "context": d.context,
            }
            for d in r.datasets
        ]
    for table, rows in (
        (SqlRunParam, params),
        (SqlRunTag, tags),
        (SqlRunMetric, metrics),
        (SqlMetricHistory, history),
        (SqlDatasetInput, datasets),
    ):
        if rows:
            # Core's executemany: the ORM's bulk path costs more per row than SQLite
            # takes to store it, and at 100,000 versions these are millions of rows.
            s.execute(insert(cast(Table, table.__table__)), rows)
    return len(runs)


def _drop_orphan_runs(s: Session, rid: int) -> None:
    """Runs no cached version points at any more are dropped with the versions."""
    used = (
        select(SqlVersion.run_id)
        .join(SqlModel, SqlModel.id == SqlVersion.model_id)
        .where(SqlModel.registry_id == rid)
    )
    s.execute(delete(SqlRun).where(SqlRun.registry_id == rid, SqlRun.run_id.not_in(used)))


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
