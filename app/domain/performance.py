"""How a model performs across its versions, and how two versions differ. Pure rules.

Metric values are whatever the training runs logged; Gavel does not know their
units, so it says what it can infer from the conventional names (an AUC is a score
between 0 and 1, a loss is better lower) and 'as logged' otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from app.domain.entities import DatasetInput, MetricPoint
from app.domain.portfolio import RunDetail

# The version a reader compares everything with: what serves, else the best known.
HIGHLIGHT_ALIASES = ("production", "champion")

_SCORE = re.compile(r"(^|_)(auc|accuracy|acc|precision|recall|f1|r2|ap|map|ndcg|roc)(_|$)")
_LOWER_BETTER = re.compile(r"(loss|rmse|mse|mae|mape|error|err|gap|brier|logloss|latency)")
_PREFERRED = ("test_auc", "val_auc", "auc", "test_rmse", "val_rmse", "rmse", "accuracy")


@dataclass(frozen=True)
class VersionMetrics:
    """The latest value of each metric of the run behind one version."""

    version: int
    run_id: str
    aliases: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    creation_timestamp: int | None = None


@dataclass(frozen=True)
class ModelMetrics:
    model_key: int
    registry: str
    model: str
    aliases: Mapping[str, int]
    versions: tuple[VersionMetrics, ...]  # oldest first

    @property
    def metric_keys(self) -> list[str]:
        return ordered_metric_keys(k for v in self.versions for k in v.metrics)

    @property
    def highlight(self) -> tuple[str, int] | None:
        return highlighted_version(self.aliases)


@dataclass(frozen=True)
class MetricAcrossVersions:
    model: str
    key: str
    # (version, value) oldest first; None where the version's run did not log the metric.
    points: tuple[tuple[int, float | None], ...]
    highlight: tuple[str, int] | None
    aliases: Mapping[int, tuple[str, ...]]

    @property
    def unit(self) -> str:
        return metric_unit(self.key)

    @property
    def best_version(self) -> int | None:
        known = [(v, x) for v, x in self.points if x is not None]
        if not known:
            return None
        pick = min if lower_is_better(self.key) else max
        return pick(known, key=lambda p: p[1])[0]


def highlighted_version(aliases: Mapping[str, int]) -> tuple[str, int] | None:
    """(alias, version) of 'production', else 'champion', else None."""
    for alias in HIGHLIGHT_ALIASES:
        if alias in aliases:
            return alias, aliases[alias]
    return None


def metric_across_versions(metrics: ModelMetrics, key: str) -> MetricAcrossVersions:
    by_version: dict[int, list[str]] = {}
    for alias, version in metrics.aliases.items():
        by_version.setdefault(version, []).append(alias)
    return MetricAcrossVersions(
        model=metrics.model,
        key=key,
        points=tuple((v.version, v.metrics.get(key)) for v in metrics.versions),
        highlight=metrics.highlight,
        aliases={v: tuple(sorted(a)) for v, a in by_version.items()},
    )


def ordered_metric_keys(keys: Iterable[str]) -> list[str]:
    """Distinct keys, the conventional headline metrics first, then alphabetical."""
    distinct = set(keys)
    first = [k for k in _PREFERRED if k in distinct]
    return first + sorted(distinct - set(first))


def lower_is_better(key: str) -> bool:
    k = key.lower()
    return bool(_LOWER_BETTER.search(k)) and not _SCORE.search(k)


def metric_unit(key: str) -> str:
    """What a metric's number means, inferred from its conventional name."""
    k = key.lower()
    if _SCORE.search(k):
        return "score, 0–1, higher is better"
    if "mape" in k:
        return "fraction of the target, lower is better"
    if re.search(r"rmse|mae|mse", k):
        return "target units, lower is better"
    if "loss" in k:
        return "loss, lower is better"
    if "gap" in k:
        return "difference between groups, lower is better"
    if "latency" in k:
        return "seconds, lower is better"
    return "as logged"


def axis_label(key: str) -> str:
    unit = metric_unit(key)
    return f"{key} ({unit.split(',')[0]})"


# ------------------------------------------------------------------------ history


class HistoryAxis(StrEnum):
    STEP = "step"
    TIME = "time"


def history_xy(
    points: Sequence[MetricPoint], axis: HistoryAxis, start_ms: int | None = None
) -> tuple[list[float], list[float]]:
    """x and y of a metric's history: steps, or minutes since the run (or first point) started."""
    if axis is HistoryAxis.STEP:
        return [float(p.step) for p in points], [p.value for p in points]
    origin = start_ms if start_ms is not None else min((p.timestamp for p in points), default=0)
    return [(p.timestamp - origin) / 60_000 for p in points], [p.value for p in points]


# ---------------------------------------------------------------------- comparison


class DatasetChange(StrEnum):
    SAME = "same"
    CHANGED = "changed"  # same name and use, other content (digest)
    ONLY_A = "only_a"
    ONLY_B = "only_b"


@dataclass(frozen=True)
class ParamDiff:
    key: str
    a: str | None
    b: str | None


@dataclass(frozen=True)
class MetricDelta:
    key: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def improved(self) -> bool | None:
        """Whether b is better than a (None: missing, or equal)."""
        d = self.delta
        if d is None or d == 0:
            return None
        return d < 0 if lower_is_better(self.key) else d > 0


@dataclass(frozen=True)
class DatasetDiff:
    name: str
    context: str
    digest_a: str
    digest_b: str
    change: DatasetChange


@dataclass(frozen=True)
class VersionComparison:
    model: str
    version_a: int
    version_b: int
    run_a: str
    run_b: str
    params: tuple[ParamDiff, ...]  # only those that differ
    same_params: int
    metrics: tuple[MetricDelta, ...]  # every metric either run logged
    datasets: tuple[DatasetDiff, ...]
    notes: tuple[str, ...] = ()

    @property
    def datasets_differ(self) -> list[DatasetDiff]:
        return [d for d in self.datasets if d.change is not DatasetChange.SAME]


def compare_runs(
    model: str,
    version_a: int,
    run_a: RunDetail | None,
    version_b: int,
    run_b: RunDetail | None,
) -> VersionComparison:
    """What differs between the runs behind two versions: params, metrics, datasets."""
    notes = [
        f"v{v} has no cached run: its side is empty."
        for v, r in ((version_a, run_a), (version_b, run_b))
        if r is None
    ]
    pa = dict(run_a.params) if run_a else {}
    pb = dict(run_b.params) if run_b else {}
    params = tuple(
        ParamDiff(k, pa.get(k), pb.get(k))
        for k in sorted(pa.keys() | pb.keys())
        if pa.get(k) != pb.get(k)
    )
    same = sum(1 for k in pa.keys() & pb.keys() if pa[k] == pb[k])
    ma = {k: m.value for k, m in run_a.metrics.items()} if run_a else {}
    mb = {k: m.value for k, m in run_b.metrics.items()} if run_b else {}
    metrics = tuple(MetricDelta(k, ma.get(k), mb.get(k)) for k in ordered_metric_keys([*ma, *mb]))
    datasets = _dataset_diffs(run_a.datasets if run_a else (), run_b.datasets if run_b else ())
    return VersionComparison(
        model=model,
        version_a=version_a,
        version_b=version_b,
        run_a=run_a.run_id if run_a else "",
        run_b=run_b.run_id if run_b else "",
        params=params,
        same_params=same,
        metrics=metrics,
        datasets=datasets,
        notes=tuple(notes),
    )


def _dataset_diffs(a: Sequence[DatasetInput], b: Sequence[DatasetInput]) -> tuple[DatasetDiff, ...]:
    da = {(d.name, d.context): d.digest for d in a}
    db = {(d.name, d.context): d.digest for d in b}
    out = []
    for key in sorted(da.keys() | db.keys()):
        x, y = da.get(key, ""), db.get(key, "")
        if key not in db:
            change = DatasetChange.ONLY_A
        elif key not in da:
            change = DatasetChange.ONLY_B
        else:
            change = DatasetChange.SAME if x == y else DatasetChange.CHANGED
        out.append(DatasetDiff(key[0], key[1], x, y, change))
    return tuple(out)
