"""Layered left-to-right layout of a lineage graph (Sugiyama style), in pure Python.

1. Layers: one column per node kind present (data → run → logged model → version →
   alias → endpoint), so a reader always finds datasets on the left and endpoints
   on the right. An edge that skips columns gets one dummy node per column crossed.
2. Order within a column: barycenter sweeps, down then up, keeping the order with
   the fewest edge crossings seen (counted exactly, by inversions), then adjacent
   swaps ('transpose') while they remove crossings.
3. Vertical positions: each node is pulled towards the mean height of its
   neighbours, then columns are packed without overlap by isotonic regression
   (pool-adjacent-violators), which finds the closest non-overlapping positions
   that keep the order: long edges come out straight instead of zig-zagging.

Coordinates are in abstract units (the ui draws one unit as one pixel at 100 %).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from app.domain.lineage import KIND_ORDER, LineageGraph, NodeKind

# Boxes as wide as what they usually hold: dataset and run names are long, aliases short.
DEFAULT_KIND_WIDTHS: Mapping[NodeKind, float] = {
    NodeKind.DATASET: 236.0,
    NodeKind.RUN: 214.0,
    NodeKind.LOGGED_MODEL: 190.0,
    NodeKind.VERSION: 184.0,
    NodeKind.ALIAS: 150.0,
    NodeKind.ENDPOINT: 184.0,
}


@dataclass(frozen=True)
class LayoutSpec:
    node_width: float = 200.0  # for kinds kind_widths does not name
    kind_widths: Mapping[NodeKind, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WIDTHS))
    node_height: float = 64.0
    layer_gap: float = 84.0  # horizontal space between columns, where edges bend
    node_gap: float = 20.0  # vertical space between two boxes of a column
    dummy_height: float = 6.0  # an edge passing through a column
    margin: float = 24.0
    sweeps: int = 24
    smoothing_passes: int = 6


@dataclass(frozen=True)
class NodeBox:
    id: str
    layer: int
    x: float  # top-left
    y: float
    width: float
    height: float

    @property
    def center_y(self) -> float:
        return self.y + self.height / 2


@dataclass(frozen=True)
class EdgeRoute:
    """Where an edge runs: from the source's right side, through the columns it
    crosses (two points per column, so it runs straight across), to the target's left."""

    source: str
    target: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class LineageLayout:
    boxes: Mapping[str, NodeBox]
    routes: tuple[EdgeRoute, ...]
    width: float
    height: float
    crossings: int
    # Real node ids per column, top to bottom.
    columns: tuple[tuple[str, ...], ...]


@dataclass
class _Item:
    id: str
    layer: int
    height: float
    dummy: bool
    y: float = 0.0  # centre


def layout_graph(graph: LineageGraph, spec: LayoutSpec | None = None) -> LineageLayout:
    """Positions for every node and a route for every edge of the graph."""
    spec = spec or LayoutSpec()
    kinds_present = [k for k in KIND_ORDER if any(n.kind is k for n in graph.nodes)]
    column_of_kind = {k: i for i, k in enumerate(kinds_present)}
    items: dict[str, _Item] = {
        n.id: _Item(n.id, column_of_kind[n.kind], spec.node_height, False) for n in graph.nodes
    }
    layers: list[list[str]] = [[] for _ in kinds_present]
    for n in graph.nodes:
        layers[items[n.id].layer].append(n.id)

    # Split edges into unit segments between adjacent columns, through dummies.
    succ: dict[str, list[str]] = {i: [] for i in items}
    pred: dict[str, list[str]] = {i: [] for i in items}
    chains: list[tuple[str, str, list[str]]] = []
    for k, e in enumerate(graph.edges):
        a, b = items[e.source], items[e.target]
        if a.layer == b.layer:
            chains.append((e.source, e.target, []))
            continue
        lo, hi = (a, b) if a.layer < b.layer else (b, a)
        chain = [lo.id]
        for layer in range(lo.layer + 1, hi.layer):
            dummy = _Item(f"\0{k}:{layer}", layer, spec.dummy_height, True)
            items[dummy.id] = dummy
            succ[dummy.id], pred[dummy.id] = [], []
            layers[layer].append(dummy.id)
            chain.append(dummy.id)
        chain.append(hi.id)
        for u, v in pairwise(chain):
            succ[u].append(v)
            pred[v].append(u)
        inner = chain[1:-1] if lo.id == e.source else list(reversed(chain[1:-1]))
        chains.append((e.source, e.target, inner))

    order = _reduce_crossings(layers, succ, pred, spec.sweeps)
    if spec.sweeps:
        _transpose(order, succ, pred)
    crossings = _total_crossings(order, succ)
    _assign_heights(order, items, succ, pred, spec)
    return _finish(graph, order, items, chains, crossings, spec)


# ---------------------------------------------------------------- crossing reduction


def _reduce_crossings(
    layers: list[list[str]],
    succ: Mapping[str, Sequence[str]],
    pred: Mapping[str, Sequence[str]],
    sweeps: int,
) -> list[list[str]]:
    order = [list(layer) for layer in layers]
    best = [list(layer) for layer in order]
    best_count = _total_crossings(order, succ)
    for sweep in range(sweeps):
        if best_count == 0:
            break
        down = sweep % 2 == 0
        indices = range(1, len(order)) if down else range(len(order) - 2, -1, -1)
        for i in indices:
            fixed = order[i - 1] if down else order[i + 1]
            neighbours = pred if down else succ
            pos = {node: p for p, node in enumerate(fixed)}
            current = {node: p for p, node in enumerate(order[i])}
            keys = {}
            for node in order[i]:
                linked = [pos[m] for m in neighbours[node] if m in pos]
                # Nodes without neighbours on that side keep their place.
                keys[node] = (
                    sum(linked) / len(linked) if linked else float(current[node]),
                    current[node],
                )
            order[i].sort(key=keys.__getitem__)
        count = _total_crossings(order, succ)
        if count < best_count:
            best_count = count
            best = [list(layer) for layer in order]
    return best


def _pair_crossings(
    u: str, v: str, pos: Mapping[str, int], links: Mapping[str, Sequence[str]]
) -> int:
    """Crossings between u's and v's edges to one neighbouring column, u placed above v."""
    a = [pos[m] for m in links[u] if m in pos]
    b = [pos[m] for m in links[v] if m in pos]
    return sum(1 for x in a for y in b if x > y)


def _transpose(
    order: list[list[str]],
    succ: Mapping[str, Sequence[str]],
    pred: Mapping[str, Sequence[str]],
    passes: int = 4,
) -> None:
    """Swap neighbours in a column while that removes crossings (the 'transpose' step
    of Gansner et al.): barycenters leave ties and local knots it untangles."""
    for _ in range(passes):
        improved = False
        for i, column in enumerate(order):
            above = {n: p for p, n in enumerate(order[i - 1])} if i > 0 else {}
            below = {n: p for p, n in enumerate(order[i + 1])} if i + 1 < len(order) else {}
            for j in range(len(column) - 1):
                u, v = column[j], column[j + 1]
                now = _pair_crossings(u, v, above, pred) + _pair_crossings(u, v, below, succ)
                swapped = _pair_crossings(v, u, above, pred) + _pair_crossings(v, u, below, succ)
                if swapped < now:
                    column[j], column[j + 1] = v, u
                    improved = True
        if not improved:
            return


def _total_crossings(order: Sequence[Sequence[str]], succ: Mapping[str, Sequence[str]]) -> int:
    return sum(_crossings(order[i], order[i + 1], succ) for i in range(len(order) - 1))


def _crossings(
    upper: Sequence[str], lower: Sequence[str], succ: Mapping[str, Sequence[str]]
) -> int:
    """Edge crossings between two adjacent columns: inversions of the targets' positions
    when edges are sorted by source position (Fenwick tree, O(E log V))."""
    pos = {node: p for p, node in enumerate(lower)}
    targets = [t for node in upper for t in sorted(pos[m] for m in succ[node] if m in pos)]
    size = len(lower)
    tree = [0] * (size + 1)
    count = 0
    for seen, t in enumerate(targets):
        # Edges seen so far that end strictly below t cross this one.
        i, below_or_equal = t + 1, 0
        while i > 0:
            below_or_equal += tree[i]
            i -= i & -i
        count += seen - below_or_equal
        i = t + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return count


# ---------------------------------------------------------------- vertical placement


def _assign_heights(
    order: list[list[str]],
    items: Mapping[str, _Item],
    succ: Mapping[str, Sequence[str]],
    pred: Mapping[str, Sequence[str]],
    spec: LayoutSpec,
) -> None:
    for column in order:
        y = 0.0
        for node in column:
            item = items[node]
            item.y = y + item.height / 2
            y += item.height + spec.node_gap
    # Centre every column on the tallest before smoothing.
    tallest = max((_column_extent(c, items, spec) for c in order), default=0.0)
    for column in order:
        shift = (tallest - _column_extent(column, items, spec)) / 2
        for node in column:
            items[node].y += shift
    for p in range(spec.smoothing_passes):
        down = p % 2 == 0
        sequence = order if down else list(reversed(order))
        for column in sequence:
            wanted = []
            for node in column:
                linked = list(pred[node] if down else succ[node])
                # The last passes look both ways, so a node sits between its neighbours.
                if p >= spec.smoothing_passes - 2:
                    linked = [*pred[node], *succ[node]]
                ys = [items[m].y for m in linked]
                wanted.append(sum(ys) / len(ys) if ys else items[node].y)
            _pack(column, wanted, items, spec)


def _column_extent(column: Sequence[str], items: Mapping[str, _Item], spec: LayoutSpec) -> float:
    if not column:
        return 0.0
    return sum(items[n].height for n in column) + spec.node_gap * (len(column) - 1)


def _gap(a: _Item, b: _Item, spec: LayoutSpec) -> float:
    # Edges passing through a column may run closer to each other than boxes do.
    gap = spec.node_gap / 3 if a.dummy and b.dummy else spec.node_gap
    return (a.height + b.height) / 2 + gap


def _pack(
    column: Sequence[str], wanted: Sequence[float], items: Mapping[str, _Item], spec: LayoutSpec
) -> None:
    """Centres closest (least squares) to `wanted` that keep order and minimum gaps."""
    if not column:
        return
    offsets = [0.0]
    for a, b in pairwise(column):
        offsets.append(offsets[-1] + _gap(items[a], items[b], spec))
    # Boxes weigh more than edges passing through: they are what a reader looks at.
    weights = [0.3 if items[n].dummy else 1.0 for n in column]
    targets = [w - o for w, o in zip(wanted, offsets, strict=True)]
    fitted = _isotonic(targets, weights)
    for node, z, o in zip(column, fitted, offsets, strict=True):
        items[node].y = z + o


def _isotonic(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Non-decreasing sequence closest to values in weighted least squares (PAVA)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            total = w1 + w2
            blocks.append([(m1 * w1 + m2 * w2) / total, total, c1 + c2])
    out: list[float] = []
    for mean, _, count in blocks:
        out.extend([mean] * int(count))
    return out


# ---------------------------------------------------------------------- result


def _finish(
    graph: LineageGraph,
    order: list[list[str]],
    items: Mapping[str, _Item],
    chains: Sequence[tuple[str, str, list[str]]],
    crossings: int,
    spec: LayoutSpec,
) -> LineageLayout:
    top = min((it.y - it.height / 2 for it in items.values()), default=0.0)
    bottom = max((it.y + it.height / 2 for it in items.values()), default=0.0)
    shift = spec.margin - top

    def width_of(kind: NodeKind) -> float:
        return spec.kind_widths.get(kind, spec.node_width)

    col_width = [0.0] * len(order)
    for n in graph.nodes:
        col_width[items[n.id].layer] = max(col_width[items[n.id].layer], width_of(n.kind))
    col_x = []
    x = spec.margin
    for w in col_width:
        col_x.append(x)
        x += w + spec.layer_gap

    def x_of(layer: int) -> float:
        return col_x[layer]

    boxes: dict[str, NodeBox] = {}
    for n in graph.nodes:
        it = items[n.id]
        w = width_of(n.kind)
        # Centred in its column, so arrows into a column all end at the same distance.
        left = x_of(it.layer) + (col_width[it.layer] - w) / 2
        boxes[n.id] = NodeBox(n.id, it.layer, left, it.y - it.height / 2 + shift, w, it.height)
    routes = []
    for source, target, inner in chains:
        a, b = boxes[source], boxes[target]
        forward = a.layer <= b.layer
        points = [(a.x + a.width, a.center_y) if forward else (a.x, a.center_y)]
        for dummy in inner:
            d = items[dummy]
            left, right = x_of(d.layer), x_of(d.layer) + col_width[d.layer]
            y = d.y + shift
            points.extend([(left, y), (right, y)] if forward else [(right, y), (left, y)])
        points.append((b.x, b.center_y) if forward else (b.x + b.width, b.center_y))
        routes.append(EdgeRoute(source, target, tuple(points)))
    columns = tuple(tuple(n for n in column if not items[n].dummy) for column in order)
    width = spec.margin * 2 + sum(col_width) + spec.layer_gap * max(len(order) - 1, 0)
    return LineageLayout(
        boxes=boxes,
        routes=tuple(routes),
        width=width,
        height=(bottom - top) + spec.margin * 2,
        crossings=crossings,
        columns=columns,
    )
