"""An endpoint's health over a time window as bands (up, partly down, down, no data).

Samples are points (one probe, or a bucket of merged probes). Each covers the time
until the next one, unless the next one is much later than usual: then the
endpoint was not watched in between (the console was closed) and the gap is 'no
data', not 'up'.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from app.domain.endpoints import EndpointSample

# A gap longer than this many usual spacings between samples is "no data".
GAP_FACTOR = 3.0


class HealthBand(StrEnum):
    UP = "up"
    PARTLY_DOWN = "partly_down"  # a merged bucket where some probes failed
    DOWN = "down"
    NO_DATA = "no_data"


@dataclass(frozen=True)
class Band:
    start_ms: int
    end_ms: int
    state: HealthBand
    reason: str = ""  # the last reason a probe in the band found the endpoint not up

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


def _state(up_ratio: float) -> HealthBand:
    if up_ratio >= 1.0:
        return HealthBand.UP
    if up_ratio <= 0.0:
        return HealthBand.DOWN
    return HealthBand.PARTLY_DOWN


def usual_spacing_ms(samples: Sequence[EndpointSample]) -> int:
    """The median time between two samples (at least the buckets' width)."""
    gaps = [b.at_ms - a.at_ms for a, b in pairwise(samples)]
    spacing = int(statistics.median(gaps)) if gaps else 0
    widths = [s.resolution_s * 1000 for s in samples]
    return max(spacing, max(widths, default=0), 1)


def health_bands(samples: Sequence[EndpointSample], since_ms: int, until_ms: int) -> list[Band]:
    """Bands covering [since, until): consecutive samples in the same state are merged."""
    ordered = sorted((s for s in samples if since_ms <= s.at_ms < until_ms), key=lambda s: s.at_ms)
    if not ordered:
        return [Band(since_ms, until_ms, HealthBand.NO_DATA)] if until_ms > since_ms else []
    spacing = usual_spacing_ms(ordered)
    limit = spacing * GAP_FACTOR
    raw: list[Band] = []
    if ordered[0].at_ms - since_ms > limit:
        raw.append(Band(since_ms, ordered[0].at_ms, HealthBand.NO_DATA))
    for i, s in enumerate(ordered):
        nxt = ordered[i + 1].at_ms if i + 1 < len(ordered) else until_ms
        covered = min(nxt, s.at_ms + int(limit)) if nxt - s.at_ms > limit else nxt
        raw.append(Band(s.at_ms, covered, _state(s.up_ratio), s.reason))
        if covered < nxt:
            raw.append(Band(covered, nxt, HealthBand.NO_DATA))
    merged: list[Band] = []
    for band in raw:
        if band.end_ms <= band.start_ms:
            continue
        if merged and merged[-1].state is band.state and merged[-1].end_ms == band.start_ms:
            last = merged[-1]
            merged[-1] = Band(last.start_ms, band.end_ms, band.state, band.reason or last.reason)
        else:
            merged.append(band)
    return merged


def outages(bands: Sequence[Band]) -> list[Band]:
    """Periods the endpoint was down or partly down, most recent first.

    Adjacent down and partly-down bands are one outage (a downsampled outage starts and
    ends in buckets that are only partly down); it is DOWN if any part was fully down.
    """
    bad = {HealthBand.DOWN, HealthBand.PARTLY_DOWN}
    merged: list[Band] = []
    for b in sorted(bands, key=lambda b: b.start_ms):
        if b.state not in bad:
            continue
        last = merged[-1] if merged else None
        if last is not None and last.end_ms == b.start_ms:
            state = HealthBand.DOWN if HealthBand.DOWN in (last.state, b.state) else b.state
            merged[-1] = Band(last.start_ms, b.end_ms, state, b.reason or last.reason)
        else:
            merged.append(b)
    return list(reversed(merged))


def availability(samples: Sequence[EndpointSample]) -> float | None:
    """Share of probes that found the endpoint up (None without samples)."""
    total = sum(s.samples for s in samples)
    if total == 0:
        return None
    return sum(s.up_ratio * s.samples for s in samples) / total
