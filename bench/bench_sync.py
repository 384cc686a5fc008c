"""Sync benchmark (issue: foundation). One command: `make bench-sync`.

Seeds a local MLflow with MODELS x VERSIONS (each version with its own run of
5 params and 5 metrics), then measures side by side in one run:

Seeding writes into the MLflow server's SQLite store directly (bench/mlflow_seed.py;
the REST way, --rest-seed, takes about a second per version here); every sync and
baseline below talks to the real server over REST.


  (a) `gavel sync` full sync              vs (b) a naive requests script
                                          vs (c) MlflowClient (in MLflow's venv)
  re-sync with nothing changed            vs (a)
  console cold start to its first painted page (the Overview's first screen, with the
    cache's figures) vs a bare PySide6 window
    (median over --rounds pairs, each start a fresh process, alternating)
  longest GUI event-loop stall while a full sync runs (QTimer heartbeat)
  peak RSS of the console with that cache

Ratios hold on a shared, noisy machine; absolute times do not. Not a timed test.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.bootstrap import AppContext, build_context, repo_root
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.registry import RegistryConfig
from app.services.demo_portfolio import seed_bulk
from app.services.mlflow_process import MlflowServerProcess
from app.stores.paths import resolve_paths
from bench.mlflow_seed import seed_store

# The seeded MLflow is kept between runs; GAVEL_BENCH_DIR=/dev/shm/... seeds faster.
OUT = Path(os.environ.get("GAVEL_BENCH_DIR", str(repo_root() / "bench" / "out")))
BENCH_DIR = Path(__file__).resolve().parent


@dataclass
class Figures:
    full_sync: float = 0.0
    naive: float = 0.0
    mlflowclient: float = 0.0
    resync: float = 0.0


def _seeded_server(
    models: int, versions: int, reseed: bool, rest_seed: bool = False
) -> MlflowServerProcess:
    data = OUT / f"mlflow-{models}x{versions}"
    marker = data / "seeded"
    if reseed and data.exists():
        import shutil

        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    server = MlflowServerProcess(data)
    server.start()
    if not marker.exists():
        print(f"seeding {models} models x {versions} versions (once; kept in {data}) ...")
        started = time.perf_counter()
        if rest_seed:
            cfg = RegistryConfig(name="bench", url=server.url)
            with MlflowRegistryClient(cfg, None) as client:
                seed_bulk(client, models=models, versions_per_model=versions)
        else:
            seed_store(data / "mlflow.db", models, versions)
        marker.write_text("ok\n")
        print(f"  seeded in {time.perf_counter() - started:.0f}s")
    return server


def _context(home: Path, url: str) -> AppContext:
    ctx = build_context(resolve_paths({"GAVEL_HOME": str(home)}))
    if not ctx.registries.configs():
        ctx.registries.add(RegistryConfig(name="bench", url=url))
    return ctx


def _run_json(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_network(url: str, home: Path, repeats: int) -> Figures:
    f = Figures()
    mlflow_python = repo_root() / ".venv-mlflow" / "bin" / "python"
    full, naive, client, resync = [], [], [], []
    for i in range(repeats):
        run_home = home / f"run{i}"
        ctx = _context(run_home, url)
        try:
            t = time.perf_counter()
            res = ctx.sync.sync("bench")
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            res2 = ctx.sync.sync("bench")
            resync.append(time.perf_counter() - t)
            assert res2.runs_fetched == 0, "a re-sync with nothing changed fetched runs"
            print(
                f"  gavel: {res.models} models, {res.versions} versions, {res.runs_fetched} runs"
                f" in {full[-1]:.2f}s; re-sync {resync[-1]:.2f}s"
            )
        finally:
            ctx.close()
        nv = _run_json([sys.executable, str(BENCH_DIR / "baseline_naive.py"), url])
        naive.append(nv["seconds"])
        mc = _run_json([str(mlflow_python), str(BENCH_DIR / "baseline_mlflowclient.py"), url])
        client.append(mc["seconds"])
        print(f"  naive requests: {naive[-1]:.2f}s; MlflowClient: {client[-1]:.2f}s")
    f.full_sync, f.naive, f.mlflowclient, f.resync = (
        min(full),
        min(naive),
        min(client),
        min(resync),
    )
    return f


def _probe(*args: str, env: dict[str, str]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.gui_probe", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, cwd=repo_root())
    return json.loads(out.stdout.strip().splitlines()[-1])


def compile_bytecode() -> None:
    """Write the .pyc files an installed app has (PYTHONDONTWRITEBYTECODE may be set
    here): otherwise every Gavel start compiles its modules and the bare window doesn't."""
    for folder in ("app", "bench"):
        compileall.compile_dir(str(repo_root() / folder), quiet=1)


def measure_cold_start(env: dict[str, str], rounds: int) -> tuple[float, float, float]:
    """Median over rounds of console / bare first paint, each pair started back to back
    in fresh processes, alternating; also the median absolute times."""
    compile_bytecode()
    bare, console, ratios = [], [], []
    for _ in range(rounds):
        b = _probe("bare", str(time.time()), env=env)["first_paint_s"]
        c = _probe("console", str(time.time()), env=env)
        assert not c.get("heavy_modules"), f"imported before the first paint: {c}"
        bare.append(b)
        console.append(c["first_paint_s"])
        ratios.append(console[-1] / b)
    return statistics.median(ratios), statistics.median(bare), statistics.median(console)


def measure_gui(home: Path, url: str, rounds: int) -> dict[str, float]:
    """Cold start, peak RSS and event-loop stall, each in a fresh process."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GAVEL_HOME": str(home / "run0")}
    ratio, bare, console = measure_cold_start(env, rounds)
    rss = _probe("rss", env=env)["peak_rss_mb"]
    # One sample of a stall is noise on a shared machine: the median of several full
    # syncs, each into an empty cache in a fresh process, and the worst of them.
    stalls = [
        _probe("stall", url, env={**env, "GAVEL_HOME": str(home / f"stall{i}")})["max_stall_ms"]
        for i in range(max(3, rounds // 3))
    ]
    return {
        "first_paint_ratio": ratio,
        "bare_first_paint_s": bare,
        "console_first_paint_s": console,
        "peak_rss_mb": rss,
        "max_stall_ms": statistics.median(stalls),
        "worst_stall_ms": max(stalls),
        "stall_rounds": float(len(stalls)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--reseed", action="store_true")
    ap.add_argument("--skip-gui", action="store_true")
    ap.add_argument("--rounds", type=int, default=7, help="cold-start rounds (median)")
    ap.add_argument("--rest-seed", action="store_true", help="seed through MLflow's REST API")
    args = ap.parse_args(argv)

    server = _seeded_server(args.models, args.versions, args.reseed, args.rest_seed)
    try:
        with tempfile.TemporaryDirectory(prefix="gavel-bench-") as tmp:
            home = Path(tmp)
            print(f"MLflow at {server.url}; {args.models} x {args.versions}")
            f = measure_network(server.url, home, args.repeats)
            gui = {} if args.skip_gui else measure_gui(home, server.url, args.rounds)
    finally:
        server.stop()

    rows = [
        ("full sync / naive requests (a/b)", f.full_sync / f.naive, "<= 0.5"),
        ("full sync / MlflowClient (a/c)", f.full_sync / f.mlflowclient, "<= 0.5"),
        ("re-sync unchanged / full sync", f.resync / f.full_sync, "<= 0.2"),
    ]
    if gui:
        rows.append(
            (
                "console first paint / bare window",
                gui["first_paint_ratio"],
                "<= 1.5",
            )
        )
    print()
    print(f"{'measure':<40} {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<40} {value:>10.3f}  {target}")
    if gui:
        print(
            f"{'longest event-loop stall during sync':<40} {gui['max_stall_ms']:>8.1f}ms  <= 50 ms"
            f"  (median of {gui['stall_rounds']:.0f} syncs; worst {gui['worst_stall_ms']:.1f} ms)"
        )
        print(f"{'peak RSS of the console':<40} {gui['peak_rss_mb']:>8.0f}MB  <= 300 MB")
    print(
        f"\nabsolute (min of {args.repeats}): full {f.full_sync:.2f}s, naive {f.naive:.2f}s,"
        f" MlflowClient {f.mlflowclient:.2f}s, re-sync {f.resync:.2f}s"
    )
    if gui:
        print(
            f"first paint (median of {args.rounds}): bare {gui['bare_first_paint_s'] * 1000:.0f}ms,"
            f" console {gui['console_first_paint_s'] * 1000:.0f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
