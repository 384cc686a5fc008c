"""Serving metrics math: rates and percentiles from two successive scrapes, retention tiers.

A scrape gives cumulative counters (requests that succeeded, failed, total latency)
and, where the server keeps one, a cumulative latency histogram. Rates come from the
difference between two scrapes, as Prometheus' ``rate()`` computes them, and
percentiles from the difference of the histogram buckets, interpolated linearly
inside the bucket that holds the rank, as ``histogram_quantile()`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class MetricSnapshot:
    """The serving counters of one model, read from one scrape (all cumulative).

    at: scrape time, seconds since the epoch.
    flavour: which server's metric names were found ('mlserver', 'triton').
    buckets: latency histogram as (upper bound in seconds, cumulative count), sorted
        by bound, the last one +inf; empty when the server keeps no histogram.
    """

    at: float
    flavour: str
    success: float
    failure: float
    latency_sum_s: float
    latency_count: float
    buckets: tuple[tuple[float, float], ...] = ()
    version_labels: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at,
            "flavour": self.flavour,
            "success": self.success,
            "failure": self.failure,
            "latency_sum_s": self.latency_sum_s,
            "latency_count": self.latency_count,
            # JSON has no infinity: the last bound is always +inf, so keep counts only there.
            "buckets": [[b if math.isfinite(b) else None, c] for b, c in self.buckets],
            "version_labels": list(self.version_labels),
        }

    @classmethod
    def from_json(cls, data: object) -> MetricSnapshot | None:
        """The snapshot to_json wrote, or None when data is not one (e.g. an older format)."""
        if not isinstance(data, dict):
            return None
        try:
            raw_buckets = data.get("buckets") or []
            labels = data.get("version_labels") or []
            if not isinstance(raw_buckets, list) or not isinstance(labels, list):
                return None
            return cls(
                at=_number(data["at"]),
                flavour=str(data["flavour"]),
                success=_number(data["success"]),
                failure=_number(data["failure"]),
                latency_sum_s=_number(data["latency_sum_s"]),
                latency_count=_number(data["latency_count"]),
                buckets=tuple(
                    (math.inf if b is None else _number(b), _number(c)) for b, c in raw_buckets
                ),
                version_labels=tuple(str(v) for v in labels),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


@dataclass(frozen=True)
class WindowStats:
    """Serving figures over the interval between two scrapes.

    request_rate: requests per second; error_rate: share of them that failed (0..1,
    None without requests); latencies in seconds (None without requests, or without
    a histogram for the percentiles).
    """

    seconds: float
    requests: float
    request_rate: float
    error_rate: float | None
    mean_latency_s: float | None
    p50_s: float | None = None
    p95_s: float | None = None
    p99_s: float | None = None


def counter_delta(before: float, after: float) -> float:
    """Increase of a cumulative counter; a drop means the server restarted from zero."""
    if after < before:
        return after
    return after - before


def bucket_deltas(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Per-bound increase of a cumulative histogram between two scrapes.

    Bounds present in only one scrape are dropped (the layout changed); a reset of
    any bucket (the server restarted) takes the new counts as they are.
    """
    old = dict(before)
    if any(count < old.get(bound, 0.0) for bound, count in after):
        return [(b, c) for b, c in after]
    return [(b, c - old[b]) for b, c in after if b in old]


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile (0..1) of observations counted in cumulative buckets, or None.

    buckets: (upper bound, cumulative count), any order, including the +inf bucket.
    Follows Prometheus: linear interpolation inside the bucket holding the rank, the
    lower edge of the first bucket taken as 0 (when its bound is positive), and the
    highest finite bound returned when the rank falls in the +inf bucket.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be between 0 and 1")
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None
    # Cumulative counts must not decrease; scrapes taken mid-update can break that.
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else max(count, 0.0))
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    index = next(i for i, c in enumerate(counts) if c >= rank)
    if index == len(ordered) - 1:
        return ordered[-2][0]
    upper = ordered[index][0]
    if index == 0:
        if upper <= 0:
            return upper
        lower, below = 0.0, 0.0
    else:
        lower, below = ordered[index - 1][0], counts[index - 1]
    in_bucket = counts[index] - below
    if in_bucket <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / in_bucket


def compute_window(before: MetricSnapshot, after: MetricSnapshot) -> WindowStats | None:
    """Serving figures between two scrapes of the same endpoint; None if not comparable."""
    seconds = after.at - before.at
    if seconds <= 0 or before.flavour != after.flavour:
        return None
    ok = counter_delta(before.success, after.success)
    failed = counter_delta(before.failure, after.failure)
    requests = ok + failed
    lat_sum = counter_delta(before.latency_sum_s, after.latency_sum_s)
    lat_count = counter_delta(before.latency_count, after.latency_count)
    # Triton counts latency over every request and keeps no separate count.
    if lat_count <= 0 and lat_sum > 0:
        lat_count = requests
    quantiles: list[float | None] = [None] * len(QUANTILES)
    if before.buckets and after.buckets:
        deltas = bucket_deltas(before.buckets, after.buckets)
        quantiles = [histogram_quantile(q, deltas) for q in QUANTILES]
    return WindowStats(
        seconds=seconds,
        requests=requests,
        request_rate=requests / seconds,
        error_rate=failed / requests if requests > 0 else None,
        mean_latency_s=lat_sum / lat_count if lat_count > 0 else None,
        p50_s=quantiles[0],
        p95_s=quantiles[1],
        p99_s=quantiles[2],
    )


# ------------------------------------------------------------------------ retention


@dataclass(frozen=True)
class RetentionTier:
    """Samples older than ``older_than_s`` are merged into ``resolution_s`` buckets."""

    older_than_s: int
    resolution_s: int


# Raw samples for a day, minutes for a week, hours beyond: a year of one endpoint
# polled every 10 s stays under 20,000 rows, and nothing is dropped.
DEFAULT_RETENTION: tuple[RetentionTier, ...] = (
    RetentionTier(older_than_s=24 * 3600, resolution_s=60),
    RetentionTier(older_than_s=7 * 24 * 3600, resolution_s=3600),
)


def compaction_cutoff_ms(now_ms: int, tier: RetentionTier) -> int:
    """Rows strictly before this time fall under the tier; aligned to whole buckets so a
    bucket is merged once, never half now and half later."""
    width = tier.resolution_s * 1000
    return ((now_ms - tier.older_than_s * 1000) // width) * width


def bucket_width_ms(since_ms: int, until_ms: int, max_points: int) -> int:
    """Width of the buckets that cut [since, until) into at most max_points pieces."""
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    span = max(until_ms - since_ms, 1)
    return max(1, -(-span // max_points))
