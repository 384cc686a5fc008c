"""Lineage graph benchmark. One command: `.venv/bin/python -m bench.bench_lineage`.

A synthetic lineage of 200 nodes (datasets shared by many runs, run → logged model →
version chains, aliases and endpoints: what a busy model's "other versions trained
on this data" expansion looks like), then:

  layout: app.domain.lineage_layout (layers, barycenter crossing reduction, packed
    vertical positions), median of --runs: target <= 300 ms;
  crossings: after barycenter sweeps and transposition against the input order;
  render: the console's LineagePanel drawing it in its QGraphicsView (scene built,
    fitted, painted once), and the PNG export of the whole graph.

Runs offscreen (QT_QPA_PLATFORM=offscreen unless set). Not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.domain.lineage import (
    EdgeStyle,
    LineageEdge,
    LineageGraph,
    LineageNode,
    NodeKind,
    dataset_id,
    logged_model_id_of,
    run_id_of,
    version_id,
)
from app.domain.lineage_layout import LayoutSpec, layout_graph
from app.ui.insights.lineage_view import LineagePanel

TARGET_MS = 300.0


def synthetic_lineage(nodes: int, seed: int = 11) -> LineageGraph:
    """`nodes` nodes: ~25 % datasets, chains of run → logged model → version, the rest
    aliases and endpoints; every run reads two or three of the datasets."""
    rng = random.Random(seed)
    n_datasets = max(4, nodes // 4)
    n_versions = max(1, (nodes - n_datasets) * 3 // 10)
    out: list[LineageNode] = []
    edges: list[LineageEdge] = []
    datasets = [
        LineageNode(
            dataset_id(f"table_{i:03d}", f"{i:012x}"),
            NodeKind.DATASET,
            f"table_{i:03d}",
            f"training · {i:012x}"[:24],
            digest=f"{i:012x}",
        )
        for i in range(n_datasets)
    ]
    out += datasets
    for v in range(1, n_versions + 1):
        run = LineageNode(run_id_of(f"run{v}"), NodeKind.RUN, f"training-run-{v}", "bench")
        lm = LineageNode(logged_model_id_of(f"m-{v:08x}"), NodeKind.LOGGED_MODEL, f"m-{v:08x}")
        ver = LineageNode(
            version_id("bench", "model", v), NodeKind.VERSION, f"model v{v}", focus=v == 1
        )
        out += [run, lm, ver]
        for d in rng.sample(datasets, rng.choice((2, 3))):
            edges.append(LineageEdge(d.id, run.id, rng.choice(("training", "evaluation"))))
        edges += [LineageEdge(run.id, lm.id, "logged"), LineageEdge(lm.id, ver.id, "registered")]
    i = 0
    while len(out) < nodes:
        target = version_id("bench", "model", rng.randint(1, n_versions))
        if i % 4 == 3:
            node = LineageNode(f"endpoint:ep-{i}", NodeKind.ENDPOINT, f"ep-{i}", "serves")
            style = EdgeStyle.DRIFT if i % 8 == 7 else EdgeStyle.NORMAL
            edges.append(LineageEdge(target, node.id, "serves", style))
        else:
            node = LineageNode(f"alias:a{i}", NodeKind.ALIAS, f"alias-{i}")
            edges.append(LineageEdge(target, node.id, "alias"))
        out.append(node)
        i += 1
    return LineageGraph(version_id("bench", "model", 1), tuple(out), tuple(edges))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args(argv)
    graph = synthetic_lineage(args.nodes)

    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        layout = layout_graph(graph)
        times.append((time.perf_counter() - t0) * 1000)
    layout_ms = statistics.median(times)
    naive = layout_graph(graph, LayoutSpec(sweeps=0))

    app = QApplication.instance() or QApplication([])
    panel = LineagePanel()
    panel.resize(1400, 900)
    panel.show()
    app.processEvents()
    t0 = time.perf_counter()
    panel.show_graph(graph, layout)
    panel.view.viewport().repaint()
    render_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    panel.view.viewport().repaint()
    repaint_ms = (time.perf_counter() - t0) * 1000
    with tempfile.TemporaryDirectory(prefix="gavel-bench-lineage-") as tmp:
        t0 = time.perf_counter()
        png = panel.export_png(Path(tmp) / "lineage.png", scale=1.0)
        export_ms = (time.perf_counter() - t0) * 1000
        png_kb = png.stat().st_size / 1024
    panel.close()
    panel.deleteLater()
    app.processEvents()

    print(
        f"lineage graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges, "
        f"{len(layout.columns)} columns, {layout.width:.0f} x {layout.height:.0f} units"
    )
    print(
        f"  layout (median of {args.runs})            {layout_ms:>8.1f} ms   "
        f"target <= {TARGET_MS:.0f} ms: {'met' if layout_ms <= TARGET_MS else 'NOT met'}"
    )
    ratio = naive.crossings / layout.crossings if layout.crossings else float("inf")
    print(
        f"  edge crossings: input order {naive.crossings:,}, after barycenter sweeps and "
        f"transposition {layout.crossings:,} ({ratio:.1f} x fewer)"
    )
    print(f"  QGraphicsView: scene built, fitted, painted  {render_ms:>8.1f} ms")
    print(f"  repaint of the fitted view               {repaint_ms:>8.1f} ms")
    print(f"  layout + first paint                      {layout_ms + render_ms:>8.1f} ms")
    print(f"  PNG export of the whole graph ({png_kb:.0f} KiB) {export_ms:>8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
