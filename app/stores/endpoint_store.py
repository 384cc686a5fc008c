"""Endpoints' observed state and samples in the cache, and the registry facts probes need.

One probe is one transaction: its sample row and the endpoint's new state are
written together, so the history and the "last seen" never disagree.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.domain.endpoint_metrics import MetricSnapshot, WindowStats
from app.domain.endpoints import EndpointObservation, EndpointRecord, EndpointSample, HealthState
from app.domain.serving import ServingCatalog, ServingStatus, VersionIdentity
from app.stores.endpoint_schema import SqlEndpoint, SqlEndpointSample
from app.stores.engine import Database
from app.stores.schema import SqlAlias, SqlModel, SqlRegistry, SqlVersion

_INSERT_CHUNK = 5000


class EndpointStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._write_lock = threading.Lock()

    # -- endpoints -----------------------------------------------------------------------

    def ensure(self, name: str) -> int:
        """The cache id of an endpoint, creating its row on first use."""
        with self._db.session() as s:
            return _endpoint_id(s, name)

    def rename(self, old: str, new: str) -> None:
        with self._db.session() as s:
            s.execute(update(SqlEndpoint).where(SqlEndpoint.name == old).values(name=new))

    def drop(self, name: str) -> None:
        """Forget an endpoint's state and its whole history."""
        with self._db.session() as s:
            found = s.scalar(select(SqlEndpoint.id).where(SqlEndpoint.name == name))
            if found is not None:
                # Explicit, so PostgreSQL and SQLite without FK enforcement agree.
                s.execute(delete(SqlEndpointSample).where(SqlEndpointSample.endpoint_id == found))
                s.execute(delete(SqlEndpoint).where(SqlEndpoint.id == found))

    def record(self, name: str) -> EndpointRecord:
        with self._db.session() as s:
            row = s.scalar(select(SqlEndpoint).where(SqlEndpoint.name == name))
            return _to_record(row) if row is not None else EndpointRecord(name)

    def records(self) -> dict[str, EndpointRecord]:
        with self._db.session() as s:
            return {r.name: _to_record(r) for r in s.scalars(select(SqlEndpoint))}

    def save_probe(
        self,
        obs: EndpointObservation,
        serving: ServingStatus,
        stats: WindowStats | None,
    ) -> None:
        """Append the probe's sample and make it the endpoint's last known state."""
        snapshot = json.dumps(obs.snapshot.to_json()) if obs.snapshot is not None else None
        values: dict[str, object] = {
            "last_probe_at": obs.at,
            "health": obs.health.value,
            "health_reason": _reason(obs),
            "server": obs.server,
            "serving_state": serving.state.value,
            "serving_reason": serving.reason,
            "served_versions": ",".join(str(v) for v in serving.served_versions),
            "served_label": serving.served_label,
            "expected_version": serving.expected_version,
        }
        if snapshot is not None:
            values["last_scrape"] = snapshot
        # Write first: a transaction that reads, then writes, fails at once on SQLite
        # when another writer committed in between; the busy timeout only covers a write
        # that comes first. The lock keeps this process's probe threads in single file.
        with self._write_lock, self._db.session() as s:
            done = s.execute(
                update(SqlEndpoint).where(SqlEndpoint.name == obs.endpoint).values(**values)
            )
            if not getattr(done, "rowcount", 0):
                s.execute(
                    update(SqlEndpoint)
                    .where(SqlEndpoint.id == _endpoint_id(s, obs.endpoint))
                    .values(**values)
                )
            endpoint_id = _endpoint_id(s, obs.endpoint)
            s.execute(
                insert(SqlEndpointSample),
                [_sample_values(endpoint_id, _sample_of(obs, stats))],
            )

    def claim_drift(self, name: str, old_key: str, new_key: str) -> bool:
        """Move the endpoint's recorded drift from old_key to new_key; False if another
        process moved it first (then that process records the change, not this one)."""
        with self._write_lock, self._db.session() as s:
            done = s.execute(
                update(SqlEndpoint)
                .where(SqlEndpoint.name == name, SqlEndpoint.drift_key == old_key)
                .values(drift_key=new_key)
            )
            return bool(getattr(done, "rowcount", 0))

    def add_samples(self, name: str, samples: Sequence[EndpointSample]) -> None:
        """Bulk-append samples (imports, benchmarks, tests)."""
        with self._db.session() as s:
            endpoint_id = _endpoint_id(s, name)
            for i in range(0, len(samples), _INSERT_CHUNK):
                chunk = samples[i : i + _INSERT_CHUNK]
                s.execute(
                    insert(SqlEndpointSample), [_sample_values(endpoint_id, x) for x in chunk]
                )

    # -- the registry side ---------------------------------------------------------------

    def serving_catalog(self, registry: str, model: str) -> ServingCatalog:
        """Aliases and version identities of one cached model (found=False if not cached)."""
        with self._db.session() as s:
            model_id = s.scalar(
                select(SqlModel.id)
                .join(SqlRegistry, SqlRegistry.id == SqlModel.registry_id)
                .where(SqlRegistry.name == registry, SqlModel.name == model)
            )
            if model_id is None:
                return ServingCatalog(found=False, aliases={})
            aliases = {
                alias: version
                for alias, version in s.execute(
                    select(SqlAlias.alias, SqlAlias.version).where(SqlAlias.model_id == model_id)
                )
            }
            versions = tuple(
                VersionIdentity(v, run_id or "", source or "", logged or "")
                for v, run_id, source, logged in s.execute(
                    select(
                        SqlVersion.version,
                        SqlVersion.run_id,
                        SqlVersion.source,
                        SqlVersion.logged_model_id,
                    )
                    .where(SqlVersion.model_id == model_id)
                    .order_by(SqlVersion.version.desc())
                )
            )
        return ServingCatalog(found=True, aliases=aliases, versions=versions)


def _endpoint_id(s: Session, name: str) -> int:
    found = s.scalar(select(SqlEndpoint.id).where(SqlEndpoint.name == name))
    if found is not None:
        return int(found)
    row = SqlEndpoint(
        name=name,
        health="",
        health_reason="",
        server="",
        serving_state="",
        serving_reason="",
        served_versions="",
        served_label="",
        drift_key="",
        last_scrape="",
    )
    s.add(row)
    s.flush()
    return row.id


def _reason(obs: EndpointObservation) -> str:
    if obs.metrics_reason and obs.up:
        return f"{obs.reason} {obs.metrics_reason}"
    return obs.reason


def _sample_of(obs: EndpointObservation, stats: WindowStats | None) -> EndpointSample:
    return EndpointSample(
        at_ms=int(obs.at.timestamp() * 1000),
        resolution_s=0,
        samples=1,
        up_ratio=1.0 if obs.up else 0.0,
        reason="" if obs.up and not obs.metrics_reason else _reason(obs),
        probe_s=obs.probe_s,
        stats=stats,
    )


def _sample_values(endpoint_id: int, x: EndpointSample) -> dict[str, object]:
    st = x.stats
    return {
        "endpoint_id": endpoint_id,
        "at_ms": x.at_ms,
        "resolution_s": x.resolution_s,
        "samples": x.samples,
        "up_ratio": x.up_ratio,
        "reason": x.reason,
        "probe_s": x.probe_s,
        "request_rate": st.request_rate if st else None,
        "error_rate": st.error_rate if st else None,
        "mean_latency_s": st.mean_latency_s if st else None,
        "p50_s": st.p50_s if st else None,
        "p95_s": st.p95_s if st else None,
        "p99_s": st.p99_s if st else None,
    }


def _to_record(r: SqlEndpoint) -> EndpointRecord:
    scrape = None
    if r.last_scrape:
        try:
            scrape = MetricSnapshot.from_json(json.loads(r.last_scrape))
        except ValueError:
            scrape = None
    at = r.last_probe_at
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return EndpointRecord(
        name=r.name,
        last_probe_at=at,
        health=HealthState(r.health) if r.health in HealthState.__members__.values() else None,
        health_reason=r.health_reason,
        server=r.server,
        serving_state=r.serving_state,
        serving_reason=r.serving_reason,
        served_versions=tuple(int(v) for v in r.served_versions.split(",") if v.isdigit()),
        served_label=r.served_label,
        expected_version=r.expected_version,
        drift_key=r.drift_key,
        last_scrape=scrape,
    )
