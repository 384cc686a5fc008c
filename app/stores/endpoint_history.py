"""Endpoint sample history: chart series downsampled in SQL, and retention by merging.

Merging keeps every probe accounted for: a merged row carries how many probes it
stands for (``samples``), the share that found the endpoint up, the last reason it
was not, and sample-weighted means of the serving figures. Percentiles of merged
rows are means of the merged percentiles: an approximation, good enough to see a
trend on a chart, and said so here because it is not a true percentile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, or_, select

from app.domain.endpoint_metrics import (
    DEFAULT_RETENTION,
    RetentionTier,
    WindowStats,
    bucket_width_ms,
    compaction_cutoff_ms,
)
from app.domain.endpoints import EndpointSample
from app.stores.endpoint_schema import SqlEndpoint, SqlEndpointSample
from app.stores.engine import Database

S = SqlEndpointSample
_METRICS = ("probe_s", "request_rate", "error_rate", "mean_latency_s", "p50_s", "p95_s", "p99_s")


@dataclass(frozen=True)
class CompactionStats:
    rows_before: int
    rows_after: int
    # Probes the merged rows stand for: equal before and after, nothing is dropped.
    probes: int


def _weighted(column: Any) -> ColumnElement[Any]:
    """Sample-weighted mean of a nullable column over a group (NULL when all are NULL)."""
    weight = func.sum(case((column.is_not(None), S.samples), else_=0))
    return func.sum(column * S.samples) / func.nullif(weight, 0)


def _aggregates() -> list[ColumnElement[Any]]:
    return [
        func.min(S.at_ms),
        func.sum(S.samples),
        func.sum(S.up_ratio * S.samples) / func.sum(S.samples),
        *(_weighted(getattr(S, m)) for m in _METRICS),
    ]


class EndpointHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    def series(
        self, name: str, since: datetime, until: datetime, max_points: int = 500
    ) -> list[EndpointSample]:
        """Samples of one endpoint in [since, until), merged in SQL into at most max_points.

        Each point starts at its first sample; its resolution_s is the bucket width.
        """
        since_ms, until_ms = _ms(since), _ms(until)
        width = bucket_width_ms(since_ms, until_ms, max_points)
        bucket = (S.at_ms - since_ms) // width
        reason = func.max(case((S.up_ratio < 1, S.reason), else_=None))
        stmt = (
            select(*_aggregates(), reason)
            .join(SqlEndpoint, SqlEndpoint.id == S.endpoint_id)
            .where(SqlEndpoint.name == name, S.at_ms >= since_ms, S.at_ms < until_ms)
            .group_by(bucket)
            .order_by(bucket)
        )
        with self._db.session() as s:
            rows = s.execute(stmt).all()
        return [_to_sample(r[:-1], max(width // 1000, 0), r[-1] or "") for r in rows]

    def up_down_changes(self) -> list[tuple[str, int, bool]]:
        """(endpoint, at_ms, down) at each change between answering and not, per endpoint
        in time order: the first sample of each endpoint, then every sample whose state
        differs from the one before. A sample is down when no probe it stands for found
        the endpoint up. The window function runs in SQL, so only changes come back.
        """
        down = (S.up_ratio <= 0).label("down")
        inner = select(
            S.endpoint_id,
            S.at_ms,
            down,
            func.lag(S.up_ratio <= 0)
            .over(partition_by=S.endpoint_id, order_by=(S.at_ms, S.id))
            .label("prev"),
        ).subquery()
        stmt = (
            select(SqlEndpoint.name, inner.c.at_ms, inner.c.down)
            .join(SqlEndpoint, SqlEndpoint.id == inner.c.endpoint_id)
            .where(or_(inner.c.prev.is_(None), inner.c.prev != inner.c.down))
            .order_by(SqlEndpoint.name, inner.c.at_ms)
        )
        with self._db.session() as s:
            return [(name, int(at), bool(d)) for name, at, d in s.execute(stmt)]

    def count(self, name: str | None = None) -> int:
        stmt = select(func.count()).select_from(S)
        if name is not None:
            stmt = stmt.join(SqlEndpoint, SqlEndpoint.id == S.endpoint_id).where(
                SqlEndpoint.name == name
            )
        with self._db.session() as s:
            return int(s.scalar(stmt) or 0)

    def compact(
        self, now: datetime, tiers: Sequence[RetentionTier] = DEFAULT_RETENTION
    ) -> CompactionStats:
        """Merge aged samples into coarser rows, tier by tier, in one transaction."""
        now_ms = _ms(now)
        with self._db.session() as s:
            before = int(s.scalar(select(func.count()).select_from(S)) or 0)
            probes = int(s.scalar(select(func.sum(S.samples))) or 0)
            for tier in sorted(tiers, key=lambda t: t.resolution_s):
                self._compact_tier(s, now_ms, tier)
            after = int(s.scalar(select(func.count()).select_from(S)) or 0)
        return CompactionStats(before, after, probes)

    @staticmethod
    def _compact_tier(s: Any, now_ms: int, tier: RetentionTier) -> None:
        cutoff = compaction_cutoff_ms(now_ms, tier)
        res_ms = tier.resolution_s * 1000
        lowest = s.scalar(
            select(func.min(S.at_ms)).where(S.at_ms < cutoff, S.resolution_s < tier.resolution_s)
        )
        if lowest is None:
            return
        # Whole buckets from the first one holding a finer row: rows already merged at
        # this tier in those buckets are merged again with the newcomers.
        start = (int(lowest) // res_ms) * res_ms
        in_range = and_(S.at_ms >= start, S.at_ms < cutoff, S.resolution_s <= tier.resolution_s)
        bucket = S.at_ms // res_ms
        merged = s.execute(
            select(S.endpoint_id, bucket, *_aggregates())
            .where(in_range)
            .group_by(S.endpoint_id, bucket)
        ).all()
        reasons: dict[tuple[int, int], str] = {}
        for endpoint_id, at_ms, reason in s.execute(
            select(S.endpoint_id, S.at_ms, S.reason)
            .where(in_range, S.reason != "")
            .order_by(S.at_ms)
        ):
            reasons[(endpoint_id, int(at_ms) // res_ms)] = reason
        s.execute(delete(S).where(in_range))
        rows = []
        for endpoint_id, b, _first, samples, up, *metrics in merged:
            row: dict[str, object] = {
                "endpoint_id": endpoint_id,
                "at_ms": int(b) * res_ms,
                "resolution_s": tier.resolution_s,
                "samples": int(samples),
                "up_ratio": float(up),
                "reason": reasons.get((endpoint_id, int(b)), ""),
            }
            row.update(dict(zip(_METRICS, metrics, strict=True)))
            rows.append(row)
        if rows:
            s.execute(insert(S), rows)


def _to_sample(r: Sequence[Any], resolution_s: int, reason: str) -> EndpointSample:
    at_ms, samples, up, probe_s, rate, err, mean, p50, p95, p99 = r
    stats = None
    if rate is not None:
        stats = WindowStats(
            seconds=float(resolution_s),
            requests=float(rate) * resolution_s,
            request_rate=float(rate),
            error_rate=_opt(err),
            mean_latency_s=_opt(mean),
            p50_s=_opt(p50),
            p95_s=_opt(p95),
            p99_s=_opt(p99),
        )
    return EndpointSample(
        at_ms=int(at_ms),
        resolution_s=resolution_s,
        samples=int(samples),
        up_ratio=float(up),
        reason=reason,
        probe_s=_opt(probe_s),
        stats=stats,
    )


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
