"""Serving endpoints against real servers: MLServer and MLflow's scoring server.

Fakes appear only to inject faults: FaultProxy in front of the real MLServer (slow,
HTML), a dead port (down) and a tiny server answering garbage as metrics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from app.bootstrap import AppContext, build_context
from app.connectors.endpoints import EndpointClient
from app.connectors.serving_metrics import parse_serving_metrics
from app.domain.endpoints import EndpointConfig, EndpointKind, HealthState, MetricsState
from app.domain.ledger import LedgerAction
from app.domain.ledger_query import LedgerQuery
from app.domain.registry import RegistryConfig
from app.domain.serving import ServingState
from app.services.endpoint_poller import EndpointPoller, ProbeFailure
from app.services.endpoints import ProbeOutcome
from app.stores.paths import AppPaths
from tests.fixtures.fault_proxy import Fault, FaultProxy
from tests.fixtures.mlflow import MlflowRegistry
from tests.fixtures.serving import MlflowScoringEndpoint, MlserverEndpoint
from tests.ui_helpers import dead_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "test"
DRIFT_QUERY = LedgerQuery(actions=(LedgerAction.SERVING_DRIFT_OBSERVED.value,))
RESOLVED_QUERY = LedgerQuery(actions=(LedgerAction.SERVING_DRIFT_RESOLVED.value,))


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


@pytest.fixture
def ctx(gavel_home: AppPaths, seeded_registry: MlflowRegistry) -> Iterator[AppContext]:
    context = build_context(gavel_home)
    context.registries.add(RegistryConfig(name=REGISTRY, url=seeded_registry.url))
    try:
        yield context
    finally:
        context.close()


def oip(name: str, server: MlserverEndpoint, **kw: Any) -> EndpointConfig:
    fields: dict[str, Any] = {
        "kind": EndpointKind.OIP,
        "url": server.url,
        "registry": REGISTRY,
        "model": server.model,
        "alias": "production",
        "timeout_s": 10.0,
    }
    fields.update(kw)
    return EndpointConfig(name=name, **fields)


def test_mlserver_health_metadata_and_version_mismatch(
    ctx: AppContext, mlserver_endpoint: MlserverEndpoint
) -> None:
    ctx.sync.sync(REGISTRY)
    # The seeded registry's mortgage-pd has alias production -> version 2; MLServer
    # serves version 'v1'.
    ctx.endpoints.add(oip("mortgage", mlserver_endpoint))
    out = ctx.endpoints.probe("mortgage")
    obs = out.observation
    assert obs.health is HealthState.UP, obs.reason
    assert obs.server.startswith("mlserver 1.7")
    assert obs.reported_versions == ("v1",)
    assert out.serving.state is ServingState.DRIFT
    assert out.serving.served_versions == (1,)
    assert out.serving.expected_version == 2
    reason = out.serving.reason
    assert "serves version 1" in reason and "'production' points to version 2" in reason
    assert "not the approved version" in reason

    # A declared mapping says MLServer's 'v1' is registry version 2: now it matches.
    ctx.endpoints.update("mortgage", replace(ctx.endpoints.get("mortgage"), version_map={"v1": 2}))
    matched = ctx.endpoints.probe("mortgage").serving
    assert matched.state is ServingState.MATCH, matched.reason
    assert "serves version 2" in matched.reason

    listed = {s.config.name: s for s in ctx.endpoints.statuses()}
    assert listed["mortgage"].record.health is HealthState.UP
    assert listed["mortgage"].record.serving_state == "match"


def test_version_from_an_infer_answer(ctx: AppContext, mlserver_endpoint: MlserverEndpoint) -> None:
    ctx.sync.sync(REGISTRY)
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
    ctx.endpoints.add(oip("infer", mlserver_endpoint, infer_request=json.dumps(body)))
    out = ctx.endpoints.probe("infer")
    assert out.observation.reported_versions == ("v1",)
    assert out.serving.state is ServingState.DRIFT


def test_drift_is_recorded_once_per_change(
    ctx: AppContext, mlserver_endpoint: MlserverEndpoint
) -> None:
    ctx.sync.sync(REGISTRY)
    ctx.endpoints.add(oip("drifty", mlserver_endpoint))
    first = ctx.endpoints.probe("drifty")
    assert first.drift_recorded
    assert not ctx.endpoints.probe("drifty").drift_recorded
    assert not ctx.endpoints.probe("drifty").drift_recorded
    events = ctx.audit.page(DRIFT_QUERY)
    assert len(events) == 1
    event = events[0]
    assert event.subject == f"model:{REGISTRY}/{mlserver_endpoint.model}"
    assert event.before == {"alias": "production", "version": 2}
    assert isinstance(event.after, dict) and event.after["served_versions"] == [1]
    assert "not the approved version" in event.reason

    # Fixed: the end of the drift is recorded once, too.
    cfg = ctx.endpoints.get("drifty")
    ctx.endpoints.update("drifty", replace(cfg, version_map={"v1": 2}))
    assert ctx.endpoints.probe("drifty").serving.state is ServingState.MATCH
    assert ctx.endpoints.probe("drifty").serving.state is ServingState.MATCH
    resolved = ctx.audit.page(RESOLVED_QUERY)
    assert len(resolved) == 1
    assert resolved[0].subject == event.subject
    assert resolved[0].after["served_versions"] == [2]  # type: ignore[index]
    assert "serves version 2" in resolved[0].reason

    # Drifting again: a new change, a new event.
    ctx.endpoints.update("drifty", cfg)
    assert ctx.endpoints.probe("drifty").drift_recorded
    assert len(ctx.audit.page(DRIFT_QUERY)) == 2
    assert len(ctx.audit.page(RESOLVED_QUERY)) == 1
    assert ctx.audit.verify().ok


def test_mlserver_metrics_after_real_inference(
    ctx: AppContext, mlserver_endpoint: MlserverEndpoint
) -> None:
    ctx.sync.sync(REGISTRY)
    ctx.endpoints.add(oip("metered", mlserver_endpoint, metrics_url=mlserver_endpoint.metrics_url))
    first = ctx.endpoints.probe("metered")
    assert first.observation.metrics is MetricsState.OK, first.observation.metrics_reason
    assert first.stats is None  # nothing to compare with yet

    for _ in range(8):
        answer = mlserver_endpoint.infer()
        assert answer["model_version"] == "v1"
    second = ctx.endpoints.probe("metered")
    snap = second.observation.snapshot
    assert snap is not None and snap.flavour == "mlserver"
    assert snap.success >= 8 and snap.latency_count >= 8
    assert snap.buckets and snap.buckets[-1][0] == float("inf")
    stats = second.stats
    assert stats is not None
    assert stats.requests >= 8
    assert stats.request_rate > 0
    assert stats.error_rate == 0
    assert stats.mean_latency_s is not None and 0 < stats.mean_latency_s < 5
    assert stats.p50_s is not None and stats.p95_s is not None and stats.p99_s is not None
    assert 0 < stats.p50_s <= stats.p95_s <= stats.p99_s <= 10

    # The samples are in the cache, for charts offline.
    now = datetime.now(UTC)
    points = ctx.endpoints.series("metered", now - timedelta(hours=1), now + timedelta(seconds=1))
    assert sum(p.samples for p in points) == 2
    assert any(p.stats is not None and p.stats.p95_s for p in points)

    # The same text, parsed directly: MLServer's real metric names.
    text = requests.get(mlserver_endpoint.metrics_url, timeout=10).text
    assert "model_infer_request_success_total" in text
    assert "model_infer_request_duration_count" in text
    assert "rest_server_request_duration_seconds_bucket" in text
    parsed = parse_serving_metrics(text, mlserver_endpoint.model, time.time(), "test")
    assert parsed.success >= 8


def test_mlflow_scoring_server(
    ctx: AppContext, mlflow_scoring_endpoint: MlflowScoringEndpoint
) -> None:
    ctx.sync.sync(REGISTRY)
    scoring = mlflow_scoring_endpoint
    base = {
        "kind": EndpointKind.MLFLOW,
        "url": scoring.url,
        "registry": REGISTRY,
        "model": scoring.model,
        "alias": "production",
    }
    # What it was deployed from, resolved through the cache (the version's model id).
    ctx.endpoints.add(
        EndpointConfig(name="by-id", served_model=f"models:/{scoring.model_id}", **base)
    )
    # An explicit mapping from the run's model URI to the version.
    ctx.endpoints.add(
        EndpointConfig(
            name="by-map", version_map={f"runs:/{scoring.run_id}/model": scoring.version}, **base
        )
    )
    # Nothing configured: the scoring server never says what it serves.
    ctx.endpoints.add(EndpointConfig(name="silent", **base))

    by_id = ctx.endpoints.probe("by-id")
    assert by_id.observation.health is HealthState.UP, by_id.observation.reason
    assert by_id.observation.server.startswith("mlflow 3.")  # MLflow's version, not the model's
    assert by_id.serving.state is ServingState.MATCH, by_id.serving.reason
    assert by_id.serving.served_version == scoring.version

    by_map = ctx.endpoints.probe("by-map")
    assert by_map.serving.state is ServingState.MATCH, by_map.serving.reason

    silent = ctx.endpoints.probe("silent").serving
    assert silent.state is ServingState.UNKNOWN
    assert "does not say which version" in silent.reason

    # Predictions still flow, the probe did not disturb the server.
    resp = requests.post(
        f"{scoring.url}/invocations", json={"inputs": [[0.1, 0.2, 0.3]]}, timeout=30
    )
    assert resp.status_code == 200, resp.text


class _GarbageMetrics(BaseHTTPRequestHandler):
    """Answers every GET with text that is not the Prometheus format (fault injection)."""

    def do_GET(self) -> None:
        body = b"model_infer_request_success_total{model=oops 12 not-a-number\n{{{\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def garbage_metrics_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GarbageMetrics)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_faults_are_marked_and_polling_goes_on(
    ctx: AppContext, mlserver_endpoint: MlserverEndpoint, garbage_metrics_url: str
) -> None:
    ctx.sync.sync(REGISTRY)
    with FaultProxy(mlserver_endpoint.url) as slow, FaultProxy(mlserver_endpoint.url) as html:
        slow.set(Fault.DELAY, delay_ms=3000)
        html.set(Fault.HTML)
        svc = ctx.endpoints
        svc.add(oip("healthy", mlserver_endpoint, metrics_url=mlserver_endpoint.metrics_url))
        svc.add(oip("down", mlserver_endpoint, url=dead_url()))
        svc.add(oip("slow", mlserver_endpoint, url=slow.url, timeout_s=0.5))
        svc.add(oip("html", mlserver_endpoint, url=html.url))
        svc.add(oip("bad-metrics", mlserver_endpoint, metrics_url=garbage_metrics_url))

        seen: dict[str, list[ProbeOutcome]] = {}
        failures: list[ProbeFailure] = []
        lock = threading.Lock()

        def on_outcome(o: ProbeOutcome) -> None:
            with lock:
                seen.setdefault(o.config.name, []).append(o)

        def count(name: str) -> int:
            with lock:
                return len(seen.get(name, []))

        poller = EndpointPoller(svc, workers=3, interval_s=1.0)
        poller.subscribe(on_outcome, failures.append)
        poller.start()
        try:
            wait_until(
                lambda: (
                    count("healthy") >= 4
                    and all(count(n) >= 2 for n in ("down", "slow", "html", "bad-metrics"))
                ),
                what="every endpoint probed, the healthy one several times",
            )
        finally:
            poller.stop()
        assert not poller.running
        assert not [t for t in threading.enumerate() if t.name.startswith("gavel-probe")]

    assert failures == []
    last = {name: outs[-1] for name, outs in seen.items()}
    healthy = last["healthy"].observation
    assert healthy.health is HealthState.UP and healthy.metrics is MetricsState.OK

    down = last["down"].observation
    assert down.health is HealthState.DOWN
    assert "is down: nothing answers" in down.reason

    slow_obs = last["slow"].observation
    assert slow_obs.health is HealthState.TIMEOUT
    assert "too slow" in slow_obs.reason and "0.5 s" in slow_obs.reason
    assert slow_obs.probe_s < 2.5  # the probe gave up at its timeout, not at the server's pace

    html_obs = last["html"].observation
    assert html_obs.health is HealthState.BAD_RESPONSE
    assert "HTML page" in html_obs.reason

    bad = last["bad-metrics"].observation
    assert bad.health is HealthState.UP
    assert bad.metrics is MetricsState.MALFORMED
    assert "not Prometheus text" in bad.metrics_reason

    for name in ("down", "slow", "html"):
        serving = last[name].serving
        assert serving.state is ServingState.UNKNOWN
        assert serving.reason.startswith(f"Cannot tell which version endpoint '{name}' serves")

    # The history keeps each down observation with its reason.
    now = datetime.now(UTC)
    points = svc.series("down", now - timedelta(hours=1), now + timedelta(seconds=1), 1)
    assert points[0].up_ratio == 0 and "is down" in points[0].reason


def test_client_never_raises_for_the_endpoint(mlserver_endpoint: MlserverEndpoint) -> None:
    cfg = EndpointConfig(
        name="wrong-model",
        kind=EndpointKind.OIP,
        url=mlserver_endpoint.url,
        registry=REGISTRY,
        model="no-such-model",
        alias="production",
    )
    with EndpointClient(cfg) as client:
        obs = client.probe()
    assert obs.health is HealthState.NOT_READY
    assert "'no-such-model' is not loaded (HTTP 404)" in obs.reason


# --------------------------------------------------------------------------- CLI


def gavel(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, "GAVEL_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_endpoint_add_list_probe_json(
    tmp_path: Path, seeded_registry: MlflowRegistry, mlserver_endpoint: MlserverEndpoint
) -> None:
    assert (
        gavel(tmp_path, "registry", "add", REGISTRY, "--url", seeded_registry.url).returncode == 0
    )
    assert gavel(tmp_path, "sync").returncode == 0
    added = gavel(
        tmp_path,
        "endpoint", "add", "mortgage", "--kind", "oip", "--url", mlserver_endpoint.url,
        "--metrics-url", mlserver_endpoint.metrics_url,
        "--model", f"{REGISTRY}/{mlserver_endpoint.model}", "--alias", "production",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    listed = json.loads(gavel(tmp_path, "endpoint", "list", "--json").stdout)
    assert [(e["name"], e["kind"], e["model"], e["alias"], e["health"]) for e in listed] == [
        ("mortgage", "oip", f"{REGISTRY}/{mlserver_endpoint.model}", "production", None)
    ]

    probed = gavel(tmp_path, "endpoint", "probe", "--json")
    assert probed.returncode == 1, probed.stderr  # drift is a failed check
    (result,) = json.loads(probed.stdout)
    assert result["health"] == "up" and result["reported_versions"] == ["v1"]
    assert result["serving"]["state"] == "drift"
    assert result["serving"]["served_version"] == 1
    assert result["serving"]["expected_version"] == 2
    assert "'production' points to version 2" in result["serving"]["reason"]
    assert result["drift_recorded"] is True

    edited = gavel(tmp_path, "endpoint", "edit", "mortgage", "--served-version-map", "v1=2")
    assert edited.returncode == 0, edited.stderr
    probed = gavel(tmp_path, "endpoint", "probe", "mortgage", "--json")
    assert probed.returncode == 0, probed.stdout
    (result,) = json.loads(probed.stdout)
    assert result["serving"]["state"] == "match"
    assert result["stats"] is not None  # second scrape: rates, even across processes

    listed = json.loads(gavel(tmp_path, "endpoint", "list", "--json").stdout)
    assert listed[0]["health"] == "up" and listed[0]["serving"]["state"] == "match"
    samples = json.loads(gavel(tmp_path, "endpoint", "samples", "mortgage", "--json").stdout)
    assert sum(s["samples"] for s in samples) == 2

    bad = gavel(tmp_path, "endpoint", "add", "x", "--kind", "oip", "--url", "http://h",
                "--model", "no-slash", "--alias", "a")  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "REGISTRY/MODEL" in bad.stderr
    unknown = gavel(tmp_path, "endpoint", "probe", "nope")
    assert unknown.returncode == 2 and "no endpoint named 'nope'" in unknown.stderr

    assert gavel(tmp_path, "endpoint", "remove", "mortgage").returncode == 0
    assert json.loads(gavel(tmp_path, "endpoint", "list", "--json").stdout) == []
