"""Scale benchmark (issue 8). One command: `make bench-scale`.

100,000 versions across 1,000 models, one model (bulk-model-00000) holding 20,000 of
them, against the same shape at a tenth (10,000 versions, the big model 2,000), side
by side in one run: full sync, re-sync with nothing changed, cold start to the first
painted page (the Overview's first screen; against a bare PySide6 window), scrolling
the portfolio and the big model's versions (seconds per page scrolled and painted),
opening the big model's detail (to its versions' first paint), and the console's peak
RSS.

What is real and what is seeded: the registry is a real MLflow server
(.venv-mlflow, started like tests/fixtures/mlflow.py starts it) and Gavel syncs it
over REST as it syncs any registry. Only the writing of the 100,000 versions with
their runs, params and metrics was shortcut: bench/mlflow_seed.py inserts them into
the server's SQLite store (the REST way takes about a second per version here). The
GUI figures come from the real console (bench/gui_probe.py), each in a fresh process.

--scale S runs S x 100,000 versions (default 1.0) against the reference 0.1; a full
run takes long on a shared machine (the sync is most of it), so smaller scales are
there to get an answer in minutes. Ratios hold on a noisy machine; absolute times
do not. Not a timed test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.bootstrap import build_context
from app.domain.registry import RegistryConfig
from app.services.mlflow_process import MlflowServerProcess
from app.stores.paths import resolve_paths
from bench.bench_sync import OUT, _probe, compile_bytecode
from bench.mlflow_seed import model_name, seed_store

FULL_VERSIONS = 100_000
FULL_BIG_MODEL = 20_000
MODELS = 1_000
REFERENCE_SCALE = 0.1

# How each figure should grow with the registry if nothing is worse than linear.
LINEAR, CONSTANT, BIG_MODEL = "linear", "constant", "big model"


@dataclass(frozen=True)
class Shape:
    models: int
    per_model: int
    big_model: int

    @property
    def versions(self) -> int:
        return self.per_model * (self.models - 1) + self.big_model

    @classmethod
    def at(cls, scale: float) -> Shape:
        big = round(FULL_BIG_MODEL * scale)
        per_model = max(1, round((FULL_VERSIONS * scale - big) / (MODELS - 1)))
        return cls(MODELS, per_model, big)


@dataclass
class Case:
    shape: Shape
    figures: dict[str, float] = field(default_factory=dict)


def seeded_server(shape: Shape) -> MlflowServerProcess:
    data = OUT / f"mlflow-scale-{shape.models}x{shape.per_model}+{shape.big_model}"
    marker = data / "seeded"
    data.mkdir(parents=True, exist_ok=True)
    server = MlflowServerProcess(data)
    server.start()
    if not marker.exists():
        print(f"  seeding {shape.versions} versions into the MLflow store (once; kept in {data})")
        started = time.perf_counter()
        seed_store(data / "mlflow.db", shape.models, shape.per_model, shape.big_model)
        marker.write_text("ok\n")
        print(f"  seeded in {time.perf_counter() - started:.0f}s")
    return server


# MLflow's model-versions search pages slowly at 100,000 versions on a busy machine:
# the default 15 s per request timed out there.
SYNC_TIMEOUT_S = 120.0


def run_case(shape: Shape, home: Path, rounds: int) -> Case:
    case = Case(shape)
    f = case.figures
    print(f"{shape.versions} versions ({shape.models} models, big model {shape.big_model}):")
    server = seeded_server(shape)
    try:
        ctx = build_context(resolve_paths({"GAVEL_HOME": str(home)}))
        ctx.registries.add(RegistryConfig(name="bench", url=server.url, timeout_s=SYNC_TIMEOUT_S))
        try:
            started = time.perf_counter()
            result = ctx.sync.sync("bench")
            f["full sync (s)"] = time.perf_counter() - started
            started = time.perf_counter()
            ctx.sync.sync("bench")
            f["re-sync unchanged (s)"] = time.perf_counter() - started
            print(
                f"  synced {result.models} models, {result.versions} versions in"
                f" {f['full sync (s)']:.1f}s; re-sync {f['re-sync unchanged (s)']:.1f}s"
            )
        finally:
            ctx.close()
    finally:
        server.stop()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GAVEL_HOME": str(home)}
    ratios = []
    for _ in range(rounds):
        bare = _probe("bare", str(time.time()), env=env)["first_paint_s"]
        console = _probe("console", str(time.time()), env=env)["first_paint_s"]
        ratios.append(console / bare)
    f["cold start / bare window"] = statistics.median(ratios)
    gui = _probe("scale", model_name(0), env=env)
    f["portfolio page scroll (ms)"] = gui["portfolio_page_s"] * 1000
    f["versions page scroll (ms)"] = gui["versions_page_s"] * 1000
    f["versions page scroll, worst (ms)"] = gui["versions_page_max_s"] * 1000
    f["open big model detail (ms)"] = gui["open_detail_s"] * 1000
    f["all its versions listed (ms)"] = gui["all_versions_listed_s"] * 1000
    f["peak RSS (MB)"] = gui["peak_rss_mb"]
    print(f"  {gui}")
    return case


GROWTH = {
    "full sync (s)": LINEAR,
    "re-sync unchanged (s)": LINEAR,
    "cold start / bare window": CONSTANT,
    "portfolio page scroll (ms)": CONSTANT,
    "versions page scroll (ms)": CONSTANT,
    "versions page scroll, worst (ms)": CONSTANT,
    "open big model detail (ms)": BIG_MODEL,
    "all its versions listed (ms)": BIG_MODEL,
    "peak RSS (MB)": LINEAR,
}
TARGETS = {
    "open big model detail (ms)": ("<= 300 ms", 300.0),
    "peak RSS (MB)": ("<= 300 MB", 300.0),
    "cold start / bare window": ("<= 1.5", 1.5),
}


def report(ref: Case, big: Case) -> None:
    n = big.shape.versions / ref.shape.versions
    nb = big.shape.big_model / ref.shape.big_model
    print()
    head = f"{ref.shape.versions:,} v"
    tail = f"{big.shape.versions:,} v"
    print(f"{'measure':<34} {head:>11} {tail:>11} {'ratio':>7} {'linear':>7}  verdict")
    for name, growth in GROWTH.items():
        a, b = ref.figures[name], big.figures[name]
        ratio = b / a if a else float("inf")
        expected = {LINEAR: n, CONSTANT: 1.0, BIG_MODEL: nb}[growth]
        verdict = "faster than linear" if ratio > 1.5 * expected else "ok"
        if growth == CONSTANT:
            verdict = "grows with size" if ratio > 1.5 else "ok (flat)"
        target = TARGETS.get(name)
        if target is not None:
            verdict += f"; target {target[0]}: {'met' if b <= target[1] else 'MISSED'}"
        print(f"{name:<34} {a:>11.2f} {b:>11.2f} {ratio:>7.2f} {expected:>7.1f}  {verdict}")
    print(
        f"\n'linear' is the ratio if cost grew like the registry ({n:.0f}x versions;"
        f" the big model {nb:.0f}x); constant figures should stay at 1."
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of 100,000 versions")
    ap.add_argument("--rounds", type=int, default=5, help="cold-start pairs per case")
    args = ap.parse_args(argv)
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="gavel-scale-") as tmp:
        ref = run_case(Shape.at(REFERENCE_SCALE), Path(tmp) / "ref", args.rounds)
        big = run_case(Shape.at(args.scale), Path(tmp) / "big", args.rounds)
    report(ref, big)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
