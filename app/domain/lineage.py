"""Lineage of a model version as a graph: what it was trained on, by which run, what
it became (logged model, version), which aliases point at it and what serves it.

Pure data and rules; the layout lives in lineage_layout, the drawing in the ui.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class NodeKind(StrEnum):
    DATASET = "dataset"
    RUN = "run"
    LOGGED_MODEL = "logged_model"
    VERSION = "version"
    ALIAS = "alias"
    ENDPOINT = "endpoint"


# Left-to-right order of the layers: where a model comes from, then where it goes.
KIND_ORDER: tuple[NodeKind, ...] = tuple(NodeKind)

KIND_TITLES: Mapping[NodeKind, str] = {
    NodeKind.DATASET: "Dataset",
    NodeKind.RUN: "Training run",
    NodeKind.LOGGED_MODEL: "Logged model",
    NodeKind.VERSION: "Model version",
    NodeKind.ALIAS: "Alias",
    NodeKind.ENDPOINT: "Serving endpoint",
}


class NodeStatus(StrEnum):
    NONE = ""
    OK = "ok"  # an endpoint up and serving the approved version
    DRIFT = "drift"  # an endpoint serving another version than its alias names
    DOWN = "down"  # an endpoint that did not answer its last probe
    UNKNOWN = "unknown"  # never probed, or what it serves cannot be told


class EdgeStyle(StrEnum):
    NORMAL = "normal"
    DRIFT = "drift"  # the serving does not match the approval
    UNVERIFIED = "unverified"  # bound by configuration, not confirmed by a probe
    RELATED = "related"  # another version trained on the same data


@dataclass(frozen=True)
class LineageNode:
    """One box of the graph.

    label: the node's name (dataset name, version 'v3', alias, endpoint name);
    caption: a short second line; details: ordered (field, value) pairs for a
    detail panel or the CLI; registry/model/version/digest: what to open or query.
    """

    id: str
    kind: NodeKind
    label: str
    caption: str = ""
    details: tuple[tuple[str, str], ...] = ()
    status: NodeStatus = NodeStatus.NONE
    focus: bool = False  # the version the graph was built for
    registry: str = ""
    model: str = ""
    version: int | None = None
    digest: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "label": self.label,
            "caption": self.caption,
            "details": dict(self.details),
            "status": self.status.value,
            "focus": self.focus,
            "registry": self.registry,
            "model": self.model,
            "version": self.version,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class LineageEdge:
    source: str
    target: str
    label: str = ""
    style: EdgeStyle = EdgeStyle.NORMAL

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "target": self.target,
            "label": self.label,
            "style": self.style.value,
        }


@dataclass(frozen=True)
class LineageGraph:
    """Nodes and directed edges (upstream -> downstream); root is the version asked for."""

    root: str
    nodes: tuple[LineageNode, ...]
    edges: tuple[LineageEdge, ...] = ()
    # Sentences about what could not be included (e.g. the run is not cached).
    notes: tuple[str, ...] = ()
    _index: dict[str, LineageNode] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        index = {n.id: n for n in self.nodes}
        if len(index) != len(self.nodes):
            raise ValueError("lineage node ids must be unique")
        for e in self.edges:
            if e.source not in index or e.target not in index:
                raise ValueError(f"edge {e.source} -> {e.target} names an unknown node")
        object.__setattr__(self, "_index", index)

    def node(self, node_id: str) -> LineageNode | None:
        return self._index.get(node_id)

    def of_kind(self, kind: NodeKind) -> list[LineageNode]:
        return [n for n in self.nodes if n.kind is kind]

    def parents(self, node_id: str) -> list[LineageNode]:
        return [self._index[e.source] for e in self.edges if e.target == node_id]

    def children(self, node_id: str) -> list[LineageNode]:
        return [self._index[e.target] for e in self.edges if e.source == node_id]

    def merged(self, nodes: Iterable[LineageNode], edges: Iterable[LineageEdge]) -> LineageGraph:
        """This graph plus nodes and edges it does not hold yet (same id: kept as is)."""
        all_nodes = {n.id: n for n in self.nodes}
        for n in nodes:
            all_nodes.setdefault(n.id, n)
        all_edges = {(e.source, e.target): e for e in self.edges}
        for e in edges:
            all_edges.setdefault((e.source, e.target), e)
        return LineageGraph(
            self.root, tuple(all_nodes.values()), tuple(all_edges.values()), self.notes
        )

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "nodes": [n.to_json() for n in self.nodes],
            "edges": [e.to_json() for e in self.edges],
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------- node ids


def dataset_id(name: str, digest: str) -> str:
    return f"dataset:{name}@{digest}"


def run_id_of(run_id: str) -> str:
    return f"run:{run_id}"


def logged_model_id_of(model_id: str) -> str:
    return f"logged_model:{model_id}"


def version_id(registry: str, model: str, version: int) -> str:
    return f"version:{registry}/{model}/{version}"


def alias_id(registry: str, model: str, alias: str) -> str:
    return f"alias:{registry}/{model}@{alias}"


def endpoint_id(name: str) -> str:
    return f"endpoint:{name}"


# ---------------------------------------------------------------- cached facts


@dataclass(frozen=True)
class VersionFacts:
    """What the cache holds about one model version, for building its lineage."""

    registry: str
    model: str
    model_key: int
    version: int
    status: str = ""
    source: str = ""
    run_id: str = ""
    logged_model_id: str = ""
    user_id: str = ""
    description: str = ""
    creation_timestamp: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # Every alias of the model (alias -> version), not only those on this version.
    model_aliases: Mapping[str, int] = field(default_factory=dict)

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(sorted(a for a, v in self.model_aliases.items() if v == self.version))

    @property
    def logged_model(self) -> str:
        """The MLflow 3 logged-model id: recorded on the version, or named by its source."""
        if self.logged_model_id:
            return self.logged_model_id
        tail = self.source.removeprefix("models:/").rstrip("/")
        return tail if self.source.startswith("models:/m-") and "/" not in tail else ""


# ------------------------------------------------------------------ related data


@dataclass(frozen=True)
class DatasetUse:
    """A cached model version whose run logged a dataset with a given digest."""

    registry: str
    model: str
    version: int
    run_id: str
    dataset: str
    digest: str
    context: str
    aliases: tuple[str, ...] = ()

    @property
    def node_id(self) -> str:
        return version_id(self.registry, self.model, self.version)

    def to_json(self) -> dict[str, object]:
        return {
            "registry": self.registry,
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "dataset": self.dataset,
            "digest": self.digest,
            "context": self.context,
            "aliases": list(self.aliases),
        }


def with_related_versions(
    graph: LineageGraph, dataset_node: str, uses: Sequence[DatasetUse]
) -> LineageGraph:
    """The graph plus the other versions trained or evaluated on a dataset node's data."""
    source = graph.node(dataset_node)
    if source is None or source.kind is not NodeKind.DATASET:
        raise ValueError(f"{dataset_node} is not a dataset node of this graph")
    nodes: list[LineageNode] = []
    edges: list[LineageEdge] = []
    for use in uses:
        if use.node_id == graph.root:
            continue
        existing = graph.node(use.node_id)
        if existing is None:
            aliases = ", ".join(use.aliases)
            nodes.append(
                LineageNode(
                    id=use.node_id,
                    kind=NodeKind.VERSION,
                    label=f"{use.model} v{use.version}",
                    caption=f"aliases: {aliases}" if aliases else "no alias",
                    details=(
                        ("Model", use.model),
                        ("Registry", use.registry),
                        ("Version", str(use.version)),
                        ("Aliases", aliases or "none"),
                        ("Run", use.run_id),
                        ("Dataset used as", use.context or "unspecified"),
                    ),
                    registry=use.registry,
                    model=use.model,
                    version=use.version,
                )
            )
        edges.append(
            LineageEdge(dataset_node, use.node_id, use.context or "used by", EdgeStyle.RELATED)
        )
    return graph.merged(nodes, edges)


# -------------------------------------------------------------------- text tree


def tree_lines(graph: LineageGraph, details: bool = True) -> list[str]:
    """The graph as an indented tree from its root: upstream first (←), then downstream (→).

    A node reached twice is printed once in full, then by name with '(see above)'.
    """
    root = graph.node(graph.root)
    if root is None:
        return []
    lines: list[str] = []
    seen: set[str] = set()

    def head(node: LineageNode) -> str:
        caption = f"  ({node.caption})" if node.caption else ""
        status = f"  [{node.status.value.upper()}]" if node.status else ""
        return f"{KIND_TITLES[node.kind]}: {node.label}{caption}{status}"

    def emit(node: LineageNode, depth: int, arrow: str, edge_label: str, via: str = "") -> bool:
        pad = "  " * depth
        label = f"[{edge_label}] " if edge_label else ""
        if node.id in seen:
            lines.append(f"{pad}{arrow}{label}{KIND_TITLES[node.kind]}: {node.label} (see above)")
            return False
        seen.add(node.id)
        lines.append(f"{pad}{arrow}{label}{head(node)}{via}")
        if details:
            lines.extend(
                f"{pad}{' ' * len(arrow)}    {key}: {value}" for key, value in node.details if value
            )
        return True

    def walk(node_id: str, depth: int, upstream: bool) -> None:
        for e in graph.edges:
            if (e.target if upstream else e.source) != node_id:
                continue
            other = graph.node(e.source if upstream else e.target)
            if other is not None and emit(other, depth, "← " if upstream else "→ ", e.label):
                walk(other.id, depth + 1, upstream)

    emit(root, 0, "", "")
    walk(root.id, 1, upstream=True)
    walk(root.id, 1, upstream=False)
    # Nodes hanging downstream off upstream nodes (other versions trained on the same
    # dataset) are reached by neither walk: list them last, with where they hang.
    rest = [n for n in graph.nodes if n.id not in seen]
    if rest:
        lines.append("Also in the graph:")
    for node in rest:
        parents = []
        for e in graph.edges:
            parent = graph.node(e.source) if e.target == node.id else None
            if parent is not None:
                parents.append(f"{parent.label} [{e.label}]" if e.label else parent.label)
        emit(node, 1, "", "", f"  ← {', '.join(parents)}" if parents else "")
    lines.extend(f"Note: {note}" for note in graph.notes)
    return lines
