"""Endpoint metrics math, metrics text parsing, serving rules, sample retention and config.

No servers here: pure functions, and the stores on the `db` fixture (SQLite, and
PostgreSQL under the integration mark).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.connectors.serving_metrics import UnrecognisedMetrics, parse_serving_metrics
from app.domain.endpoint_metrics import (
    DEFAULT_RETENTION,
    MetricSnapshot,
    RetentionTier,
    WindowStats,
    bucket_deltas,
    bucket_width_ms,
    compaction_cutoff_ms,
    compute_window,
    counter_delta,
    histogram_quantile,
)
from app.domain.endpoints import (
    EndpointConfig,
    EndpointKind,
    EndpointSample,
    MetricsMalformed,
    parse_model_ref,
    parse_version_map,
)
from app.domain.errors import ConfigError, UsageError
from app.domain.registry import RegistryConfig
from app.domain.serving import (
    ServingCatalog,
    ServingState,
    VersionIdentity,
    assess_serving,
    resolve_identifier,
)
from app.stores.config_file import ConfigFile
from app.stores.endpoint_config import EndpointConfigFile
from app.stores.endpoint_history import EndpointHistory
from app.stores.endpoint_store import EndpointStore
from app.stores.engine import Database

INF = math.inf

# ------------------------------------------------------------------ histogram_quantile


def test_quantile_interpolates_inside_the_bucket() -> None:
    # 100 observations: 50 under 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1].
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (INF, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # first bucket from 0
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.1 + 0.4 * 20 / 40)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.5 + 0.5 * 5 / 10)
    assert histogram_quantile(1.0, buckets) == pytest.approx(1.0)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    buckets = [(0.1, 1.0), (0.5, 2.0), (INF, 10.0)]
    assert histogram_quantile(0.99, buckets) == 0.5


def test_quantile_edge_cases() -> None:
    assert histogram_quantile(0.5, []) is None
    assert histogram_quantile(0.5, [(INF, 3.0)]) is None  # one bucket: no shape
    assert histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None  # no observations
    assert histogram_quantile(0.5, [(0.1, 1.0), (0.2, 2.0)]) is None  # no +Inf bucket
    # Order does not matter; a non-monotonic scrape is repaired as Prometheus does.
    shuffled = [(INF, 4.0), (0.2, 3.0), (0.1, 4.0)]
    assert histogram_quantile(0.5, shuffled) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        histogram_quantile(1.5, shuffled)


def test_bucket_deltas_and_counter_resets() -> None:
    before = [(0.1, 5.0), (1.0, 8.0), (INF, 10.0)]
    after = [(0.1, 7.0), (1.0, 12.0), (INF, 15.0)]
    assert bucket_deltas(before, after) == [(0.1, 2.0), (1.0, 4.0), (INF, 5.0)]
    restarted = [(0.1, 1.0), (1.0, 1.0), (INF, 2.0)]
    assert bucket_deltas(before, restarted) == restarted
    assert counter_delta(10, 15) == 5
    assert counter_delta(10, 3) == 3  # the server restarted from zero


# ---------------------------------------------------------------------- compute_window


def _snap(
    at: float, ok: float, bad: float, lat: float, count: float, **kw: object
) -> MetricSnapshot:
    return MetricSnapshot(at, str(kw.get("flavour", "mlserver")), ok, bad, lat, count,
                          kw.get("buckets", ()))  # type: ignore[arg-type]  # fmt: skip


def test_window_rates_latency_and_percentiles() -> None:
    b0 = ((0.01, 0.0), (0.1, 0.0), (1.0, 0.0), (INF, 0.0))
    b1 = ((0.01, 20.0), (0.1, 90.0), (1.0, 100.0), (INF, 100.0))
    stats = compute_window(
        _snap(100, 0, 0, 0, 0, buckets=b0), _snap(110, 95, 5, 4.0, 100, buckets=b1)
    )
    assert stats is not None
    assert stats.requests == 100
    assert stats.request_rate == pytest.approx(10.0)
    assert stats.error_rate == pytest.approx(0.05)
    assert stats.mean_latency_s == pytest.approx(0.04)
    assert stats.p50_s == pytest.approx(0.01 + 0.09 * 30 / 70)
    assert stats.p95_s == pytest.approx(0.1 + 0.9 * 5 / 10)
    assert stats.p99_s == pytest.approx(0.1 + 0.9 * 9 / 10)


def test_window_without_traffic_or_histogram() -> None:
    idle = compute_window(_snap(0, 5, 0, 1, 5), _snap(10, 5, 0, 1, 5))
    assert idle == WindowStats(10, 0, 0.0, None, None)
    # Triton: latency counted in total only, divided by the requests.
    triton = compute_window(
        _snap(0, 0, 0, 0, 0, flavour="triton"), _snap(5, 8, 2, 0.5, 0, flavour="triton")
    )
    assert triton is not None and triton.mean_latency_s == pytest.approx(0.05)
    assert compute_window(_snap(10, 0, 0, 0, 0), _snap(10, 1, 0, 0, 1)) is None  # same instant
    assert compute_window(_snap(0, 0, 0, 0, 0), _snap(5, 1, 0, 0, 1, flavour="triton")) is None


def test_snapshot_json_roundtrip() -> None:
    snap = MetricSnapshot(1.5, "mlserver", 3, 1, 0.2, 4, ((0.1, 2.0), (INF, 4.0)), ("v1",))
    assert MetricSnapshot.from_json(snap.to_json()) == snap
    assert MetricSnapshot.from_json({"at": "x"}) is None
    assert MetricSnapshot.from_json([1, 2]) is None


# ---------------------------------------------------------------- metrics text parsing

_INFER = 'app_name="mlserver",method="POST",path="/v2/models/{model_name}/infer"'
_LIVE = 'app_name="mlserver",method="GET",path="/v2/health/live"'
_HIST = "rest_server_request_duration_seconds"
# Captured from MLServer 1.7.1 (trimmed): the infer route's histogram by status code.
MLSERVER_TEXT = f"""\
# HELP model_infer_request_success_total Model infer request success count
# TYPE model_infer_request_success_total counter
model_infer_request_success_total{{model="mortgage-pd",version="None"}} 3.0
model_infer_request_success_total{{model="other",version="v9"}} 50.0
# TYPE model_infer_request_failure_total counter
model_infer_request_failure_total{{model="mortgage-pd",version="None"}} 1.0
# TYPE model_infer_request_duration summary
model_infer_request_duration_count{{model="mortgage-pd",version="None"}} 4.0
model_infer_request_duration_sum{{model="mortgage-pd",version="None"}} 0.0259
# TYPE {_HIST} histogram
{_HIST}_bucket{{{_INFER},status_code="200",le="0.005"}} 1.0
{_HIST}_bucket{{{_INFER},status_code="200",le="0.01"}} 3.0
{_HIST}_bucket{{{_INFER},status_code="200",le="+Inf"}} 3.0
{_HIST}_count{{{_INFER},status_code="200"}} 3.0
{_HIST}_sum{{{_INFER},status_code="200"}} 0.02
{_HIST}_bucket{{{_INFER},status_code="400",le="0.005"}} 1.0
{_HIST}_bucket{{{_INFER},status_code="400",le="0.01"}} 1.0
{_HIST}_bucket{{{_INFER},status_code="400",le="+Inf"}} 1.0
{_HIST}_bucket{{{_LIVE},status_code="200",le="0.005"}} 99.0
{_HIST}_bucket{{{_LIVE},status_code="200",le="+Inf"}} 99.0
"""

TRITON_TEXT = """\
# HELP nv_inference_request_success Number of successful inference requests
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="fraud",version="3"} 120
nv_inference_request_success{model="other",version="1"} 7
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="fraud",reason="BACKEND",version="3"} 2
# TYPE nv_inference_request_duration_us counter
nv_inference_request_duration_us{model="fraud",version="3"} 2440000
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5
"""


def test_parse_mlserver_metrics() -> None:
    snap = parse_serving_metrics(MLSERVER_TEXT, "mortgage-pd", 42.0, "http://x/metrics")
    assert (snap.flavour, snap.at) == ("mlserver", 42.0)
    assert (snap.success, snap.failure) == (3.0, 1.0)
    assert (snap.latency_count, snap.latency_sum_s) == (4.0, pytest.approx(0.0259))
    # Infer routes only, summed over status codes; health checks excluded.
    assert snap.buckets == ((0.005, 2.0), (0.01, 4.0), (INF, 4.0))
    assert snap.version_labels == ()  # 'None': the request named no version


def test_parse_triton_metrics() -> None:
    snap = parse_serving_metrics(TRITON_TEXT, "fraud", 1.0, "http://x/metrics")
    assert snap.flavour == "triton"
    assert (snap.success, snap.failure) == (120.0, 2.0)
    assert snap.latency_sum_s == pytest.approx(2.44)
    assert snap.version_labels == ("3",)


@pytest.mark.parametrize(
    "text",
    [
        "model_infer_request_success_total{model=oops 12\n",
        "<html><body>Sign in</body></html>\n",
        "rest_server_requests_total one\n",
    ],
)
def test_malformed_metrics_are_one_sentence(text: str) -> None:
    with pytest.raises(MetricsMalformed, match=r"are not Prometheus text .*check that"):
        parse_serving_metrics(text, "m", 0.0, "http://x/metrics")


def test_unrecognised_metrics() -> None:
    with pytest.raises(UnrecognisedMetrics, match="no serving metrics Gavel knows"):
        parse_serving_metrics("process_cpu_seconds_total 12.5\n", "m", 0.0, "http://x/metrics")


# ------------------------------------------------------------------------ serving rules

RUN = "0123456789abcdef0123456789abcdef"
MODEL_ID = "m-" + "a" * 32
VERSIONS = (
    VersionIdentity(3, "f" * 32, "models:/m-" + "c" * 32),
    VersionIdentity(2, RUN, f"models:/{MODEL_ID}"),
    VersionIdentity(1, RUN, f"runs:/{RUN}/model"),
)


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("v2", (2,)),
        ("2", (2,)),
        ("version-7", (7,)),
        ("blue", (3,)),  # mapped
        ("models:/fraud/4", (4,)),
        ("models:/other/4", ()),
        ("models:/fraud@production", ()),
        (MODEL_ID, (2,)),
        (f"models:/{MODEL_ID}", (2,)),
        (f"runs:/{RUN}/model", (1,)),  # the source names exactly one version
        (RUN, ()),  # shared by versions 1 and 2
        ("f" * 32, (3,)),
        ("something else", ()),
    ],
)
def test_resolve_identifier(identifier: str, expected: tuple[int, ...]) -> None:
    res = resolve_identifier(identifier, "fraud", {"blue": 3}, VERSIONS)
    assert res.versions == expected, res.how
    assert res.how


def _assess(identifiers: list[str], **kw: object) -> object:
    args: dict[str, object] = {
        "endpoint": "ep",
        "registry": "prod",
        "model": "fraud",
        "alias": "production",
        "catalog": ServingCatalog(True, {"production": 2}, VERSIONS),
        "identifiers": identifiers,
        "version_map": {},
    }
    args.update(kw)
    return assess_serving(**args)  # type: ignore[arg-type]


def test_assess_serving() -> None:
    match = _assess(["v2"])
    assert match.state is ServingState.MATCH and match.drift_key == ""  # type: ignore[attr-defined]
    drift = _assess(["v1"])
    assert drift.state is ServingState.DRIFT  # type: ignore[attr-defined]
    assert drift.reason == (  # type: ignore[attr-defined]
        "Endpoint 'ep' serves version 1 of 'fraud' (it reports 'v1'), but alias 'production' "
        "points to version 2: the deployment is not the approved version."
    )
    assert drift.drift_key == "served=1;expected=2"  # type: ignore[attr-defined]
    both = _assess(["1", "2"])
    assert both.state is ServingState.DRIFT  # type: ignore[attr-defined]
    assert "versions 1 and 2 of 'fraud' besides the approved one" in both.reason  # type: ignore[attr-defined]
    for unknown, phrase in (
        (_assess([]), "does not say which version"),
        (_assess(["v2"], unreachable_reason="it is down."), "Cannot tell which version"),
        (_assess(["v2"], alias="staging"), "Alias 'staging' of 'fraud'"),
        (_assess(["v2"], catalog=ServingCatalog(False, {})), "gavel sync prod"),
        (_assess(["models:/fraud@production"]), "names an alias"),
    ):
        assert unknown.state is ServingState.UNKNOWN  # type: ignore[attr-defined]
        assert phrase in unknown.reason  # type: ignore[attr-defined]


# ----------------------------------------------------------------------- config values


def test_endpoint_config_validation() -> None:
    assert parse_model_ref("prod/fraud/detector") == ("prod", "fraud/detector")
    assert parse_version_map(["v1=3", "blue=2,runs:/abc/model=1"]) == {
        "v1": 3,
        "blue": 2,
        "runs:/abc/model": 1,
    }
    for bad in (["v1"], ["v1=zero"], ["=3"], ["v1=0"]):
        with pytest.raises(UsageError):
            parse_version_map(bad)
    with pytest.raises(UsageError, match="REGISTRY/MODEL"):
        parse_model_ref("fraud")
    base = {"kind": EndpointKind.OIP, "registry": "prod", "model": "m", "alias": "a"}
    with pytest.raises(UsageError, match="http://"):
        EndpointConfig(name="e", url="ftp://x", **base)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="not a valid endpoint name"):
        EndpointConfig(name="bad name", url="http://x", **base)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="interval"):
        EndpointConfig(name="e", url="http://x", interval_s=0.1, **base)  # type: ignore[arg-type]


def test_endpoint_config_file_roundtrip_keeps_registries(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    registries = ConfigFile(path)
    registries.add_registry(RegistryConfig(name="prod", url="http://mlflow"))
    endpoints = EndpointConfigFile(path)
    cfg = EndpointConfig(
        name="fraud-kserve",
        kind=EndpointKind.OIP,
        url="http://kserve/",
        registry="prod",
        model="fraud",
        alias="production",
        metrics_url="http://kserve:8082/metrics",
        version_map={"blue": 3},
        interval_s=15.0,
    )
    endpoints.add_endpoint(cfg)
    endpoints.set_poll_interval_s(20)
    registries.add_registry(RegistryConfig(name="dev", url="http://dev"))  # rewrites the file
    again = EndpointConfigFile(path)
    assert again.endpoints() == [cfg]
    assert again.poll_interval_s() == 20.0
    assert [r.name for r in ConfigFile(path).registries()] == ["prod", "dev"]
    with pytest.raises(UsageError, match="already exists"):
        again.add_endpoint(cfg)
    again.update_endpoint("fraud-kserve", EndpointConfig(**{**cfg.__dict__, "name": "fraud"}))
    assert [e.name for e in again.endpoints()] == ["fraud"]
    again.remove_endpoint("fraud")
    assert again.endpoints() == []

    path.write_text('[[endpoint]]\nname = "x"\nkind = "grpc"\nurl = "http://x"\n')
    with pytest.raises(ConfigError, match="endpoint #1: 'registry' is required"):
        EndpointConfigFile(path).endpoints()
    path.write_text('[[endpoint]]\nname = "x"\ncolour = "red"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        EndpointConfigFile(path).endpoints()


# ------------------------------------------------------------------ samples and charts

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _history(step: timedelta, span: timedelta) -> list[EndpointSample]:
    """One probe per step over span up to NOW: down every 10th probe, 2 req/s, p95 = 0.1 s."""
    out = []
    t, i = NOW - span, 0
    while t < NOW:
        up = i % 10 != 9
        stats = WindowStats(10, 20, 2.0, 0.0, 0.05, 0.04, 0.1, 0.2) if up else None
        out.append(
            EndpointSample(
                _ms(t), 0, 1, 1.0 if up else 0.0, "" if up else f"down #{i}", 0.01, stats
            )
        )
        t += step
        i += 1
    return out


def test_compact_merges_by_age_and_keeps_every_probe(db: Database) -> None:
    store, history = EndpointStore(db), EndpointHistory(db)
    samples = _history(timedelta(minutes=1), timedelta(days=10))
    store.add_samples("ep", samples)
    store.add_samples("other", samples[-100:])
    result = history.compact(NOW)
    assert result.probes == len(samples) + 100
    assert result.rows_before == len(samples) + 100 and result.rows_after < result.rows_before

    points = history.series("ep", NOW - timedelta(days=11), NOW, max_points=100_000)
    assert sum(p.samples for p in points) == len(samples)  # nothing dropped
    hour_cut = compaction_cutoff_ms(_ms(NOW), DEFAULT_RETENTION[1])
    minute_cut = compaction_cutoff_ms(_ms(NOW), DEFAULT_RETENTION[0])
    old = [p for p in points if p.at_ms < hour_cut]
    mid = [p for p in points if hour_cut <= p.at_ms < minute_cut]
    recent = [p for p in points if p.at_ms >= minute_cut]
    assert old and all(p.at_ms % 3_600_000 == 0 and p.samples == 60 for p in old)
    assert mid and all(p.samples == 1 for p in mid)  # one probe a minute: 1 per bucket
    assert len(recent) == sum(1 for s in samples if s.at_ms >= minute_cut)
    # Up share and reasons survive merging.
    up = sum(p.up_ratio * p.samples for p in points)
    assert up == pytest.approx(sum(s.up_ratio for s in samples))
    assert all(p.reason.startswith("down #") for p in old)
    assert all(p.stats is not None and p.stats.p95_s == pytest.approx(0.1) for p in old)

    # Compacting again changes nothing; a day later the next slice is merged.
    assert history.compact(NOW).rows_after == result.rows_after
    later = history.compact(NOW + timedelta(days=1))
    assert later.rows_after < result.rows_after and later.probes == result.probes
    assert history.count("other") == 100  # its samples are recent: untouched


def test_compact_merges_late_rows_into_existing_buckets(db: Database) -> None:
    store, history = EndpointStore(db), EndpointHistory(db)
    tier = RetentionTier(older_than_s=3600, resolution_s=600)
    base = NOW - timedelta(hours=3)
    store.add_samples("ep", [EndpointSample(_ms(base) + i * 60_000, 0, 1, 1.0) for i in range(5)])
    history.compact(NOW, [tier])
    # A row imported later into an already merged bucket is merged with it.
    store.add_samples("ep", [EndpointSample(_ms(base) + 30_000, 0, 1, 0.0, "late")])
    history.compact(NOW, [tier])
    (point,) = history.series("ep", base - timedelta(hours=1), NOW, 10_000)
    assert point.samples == 6 and point.up_ratio == pytest.approx(5 / 6)
    assert point.reason == "late"


def test_series_downsamples_in_sql(db: Database) -> None:
    store, history = EndpointStore(db), EndpointHistory(db)
    samples = _history(timedelta(seconds=10), timedelta(hours=6))  # 2,160 probes
    store.add_samples("ep", samples)
    since = NOW - timedelta(hours=6)
    points = history.series("ep", since, NOW, max_points=100)
    assert 0 < len(points) <= 100
    assert sum(p.samples for p in points) == len(samples)
    assert all(p.resolution_s == bucket_width_ms(_ms(since), _ms(NOW), 100) // 1000 for p in points)
    assert all(p.up_ratio == pytest.approx(0.9, abs=0.05) for p in points)
    assert all(p.stats is not None and p.stats.request_rate == pytest.approx(2.0) for p in points)
    assert history.series("ep", NOW, NOW + timedelta(hours=1), 10) == []
    assert history.series("missing", since, NOW, 10) == []
    store.drop("ep")
    assert history.count() == 0
