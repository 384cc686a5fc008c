"""Endpoint polling benchmark. One command: `.venv/bin/python -m bench.bench_endpoints`.

Prints:

  polling cost: the EndpointPoller probing N endpoints (default 50) every 10 s for
    60 s, each a real loopback HTTP server speaking the Open Inference Protocol's
    health/metadata routes and serving MLServer-style Prometheus text whose counters
    grow between scrapes. The servers run in a separate process (50 threads of
    http.server), so the figure is the poller's own: process CPU time / wall time,
    target <= 5 % of one core;
  chart query: EndpointService.series over 100,000 stored samples of one endpoint,
    downsampled in SQL to 500 points (what a chart asks for), median of 5 runs.

Absolute times depend on the machine; the CPU share is what the target is about.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.connectors.endpoints import EndpointClient
from app.domain.endpoint_metrics import WindowStats
from app.domain.endpoints import EndpointConfig, EndpointKind, EndpointSample
from app.domain.entities import ModelVersion, RegisteredModel
from app.domain.registry import RegistryConfig
from app.services.endpoint_poller import EndpointPoller
from app.services.endpoints import EndpointService, ProbeOutcome
from app.stores.config_file import ConfigFile
from app.stores.endpoint_config import EndpointConfigFile
from app.stores.endpoint_history import EndpointHistory
from app.stores.endpoint_store import EndpointStore
from app.stores.engine import Database, sqlite_url
from app.stores.migrate import open_database
from app.stores.snapshot_writer import SnapshotWriter

MODEL = "bench-model"
REGISTRY = "bench"
_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


# ------------------------------------------------------------------ server process


class _ServingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the
    # client's delayed ACK add 40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    started = time.monotonic()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready"):
            self._reply(200, b"", "application/json")
        elif path == "/v2":
            self._reply(200, b'{"name":"benchserver","version":"1.0","extensions":[]}')
        elif path == f"/v2/models/{MODEL}":
            body = {"name": MODEL, "versions": ["v1"], "platform": "sklearn"}
            self._reply(200, json.dumps(body).encode())
        elif path == "/metrics":
            self._reply(200, _metrics_text(time.monotonic() - self.started), "text/plain")
        else:
            self._reply(404, b'{"error":"not found"}')

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _metrics_text(elapsed: float) -> bytes:
    """MLServer's metric names, 20 requests a second, 1 % failing, latencies ~20 ms."""
    n = int(elapsed * 20)
    lines = [
        "# TYPE model_infer_request_success_total counter",
        f'model_infer_request_success_total{{model="{MODEL}",version="v1"}} {n * 0.99}',
        "# TYPE model_infer_request_failure_total counter",
        f'model_infer_request_failure_total{{model="{MODEL}",version="v1"}} {n * 0.01}',
        "# TYPE model_infer_request_duration summary",
        f'model_infer_request_duration_count{{model="{MODEL}",version="v1"}} {n}',
        f'model_infer_request_duration_sum{{model="{MODEL}",version="v1"}} {n * 0.021}',
        "# TYPE rest_server_request_duration_seconds histogram",
    ]
    labels = 'app_name="mlserver",method="POST",path="/v2/models/{model_name}/infer"'
    for bound in (*_BOUNDS, math.inf):
        share = 1.0 if math.isinf(bound) else min(1.0, (bound / 0.05) ** 2)
        le = "+Inf" if math.isinf(bound) else str(bound)
        lines.append(
            f'rest_server_request_duration_seconds_bucket{{{labels},le="{le}"}} {n * share}'
        )
    lines.append(f"rest_server_request_duration_seconds_count{{{labels}}} {n}")
    lines.append(f"rest_server_request_duration_seconds_sum{{{labels}}} {n * 0.021}")
    return ("\n".join(lines) + "\n").encode()


def serve(count: int) -> None:
    """Run `count` HTTP servers on loopback, print their ports, serve until stdin closes."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _ServingHandler) for _ in range(count)]
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(json.dumps([s.server_address[1] for s in servers]), flush=True)
    sys.stdin.read()
    for s in servers:
        s.shutdown()


# ------------------------------------------------------------------------- bench


def _service(root: Path) -> tuple[EndpointService, EndpointStore, Database]:
    db = open_database(sqlite_url(root / "cache.sqlite3"))
    config = ConfigFile(root / "config.toml")
    config.add_registry(RegistryConfig(name=REGISTRY, url="http://127.0.0.1:1"))
    SnapshotWriter(db).write(
        REGISTRY,
        "http://127.0.0.1:1",
        [RegisteredModel(MODEL, aliases={"production": 1})],
        [ModelVersion(MODEL, 1, status="READY"), ModelVersion(MODEL, 2, status="READY")],
        {},
        datetime.now(UTC),
    )

    def client(cfg: EndpointConfig, token: str | None) -> EndpointClient:
        return EndpointClient(cfg, token)

    store = EndpointStore(db)
    svc = EndpointService(
        EndpointConfigFile(root / "config.toml"), config, store, EndpointHistory(db), client
    )
    return svc, store, db


def bench_polling(svc: EndpointService, count: int, interval: float, seconds: float) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_endpoints", "--serve", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        for i, port in enumerate(ports):
            svc.add(
                EndpointConfig(
                    name=f"ep-{i:03d}",
                    kind=EndpointKind.OIP,
                    url=f"http://127.0.0.1:{port}",
                    metrics_url=f"http://127.0.0.1:{port}/metrics",
                    registry=REGISTRY,
                    model=MODEL,
                    alias="production",
                )
            )
        outcomes: list[ProbeOutcome] = []
        poller = EndpointPoller(svc, interval_s=interval)
        poller.subscribe(outcomes.append)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        poller.start()
        time.sleep(seconds)  # the measurement window itself, not a wait for a condition
        poller.stop()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    up = sum(o.observation.up for o in outcomes)
    matched = sum(o.serving.state.value == "match" for o in outcomes)
    with_rates = sum(o.stats is not None and o.stats.p95_s is not None for o in outcomes)
    probe_ms = statistics.median(o.observation.probe_s for o in outcomes) * 1000
    share = cpu / wall
    print(f"polling {count} endpoints every {interval:g} s for {wall:.1f} s:")
    print(f"  probes             {len(outcomes):>8,}  ({up:,} up, {matched:,} serving the")
    print(f"                               approved version, {with_rates:,} with p95)")
    print(f"  median probe       {probe_ms:>8.1f} ms (4 HTTP requests + metrics parse)")
    print(f"  CPU time           {cpu:>8.2f} s")
    print(f"  CPU share          {share:>8.2%} of one core   target <= 5 %: "
          f"{'met' if share <= 0.05 else 'NOT met'}")  # fmt: skip
    print(f"  CPU per probe      {cpu / max(len(outcomes), 1) * 1000:>8.2f} ms")


def bench_chart_query(svc: EndpointService, store: EndpointStore, total: int, points: int) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    step = timedelta(seconds=10)
    start = end - step * total
    stats = WindowStats(10, 200, 20.0, 0.01, 0.021, 0.018, 0.045, 0.08)
    samples = [
        EndpointSample(int((start + step * i).timestamp() * 1000), 0, 1, 1.0, "", 0.004, stats)
        for i in range(total)
    ]
    t0 = time.perf_counter()
    store.add_samples("chart", samples)
    load = time.perf_counter() - t0
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        series = svc.series("chart", start, end + step, points)
        runs.append(time.perf_counter() - t0)
    assert sum(p.samples for p in series) == total
    print(f"chart query over {total:,} stored samples ({total * 10 / 86400:.1f} days at 10 s):")
    print(f"  bulk insert        {load:>8.2f} s")
    print(
        f"  series -> {len(series)} points {statistics.median(runs) * 1000:>8.1f} ms (median of 5)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--endpoints", type=int, default=50)
    p.add_argument("--interval", type=float, default=10.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--samples", type=int, default=100_000)
    p.add_argument("--points", type=int, default=500)
    p.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    with tempfile.TemporaryDirectory(prefix="gavel-bench-endpoints-") as tmp:
        svc, store, db = _service(Path(tmp))
        try:
            bench_polling(svc, args.endpoints, args.interval, args.seconds)
            bench_chart_query(svc, store, args.samples, args.points)
        finally:
            svc.close()
            db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
