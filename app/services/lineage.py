"""Lineage of a model version, from the cache only (so it works offline).

data → run → logged model → version → aliases → endpoints: the dataset inputs of
the version's run, the run itself (who, when, which commit, which parameters), the
MLflow 3 logged model where there is one, the aliases pointing at the version and
the endpoints serving it, as the last probe saw them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from app.domain.entities import DatasetInput
from app.domain.errors import GavelError, UsageError
from app.domain.lineage import (
    DatasetUse,
    EdgeStyle,
    LineageEdge,
    LineageGraph,
    LineageNode,
    NodeKind,
    NodeStatus,
    VersionFacts,
    alias_id,
    dataset_id,
    endpoint_id,
    logged_model_id_of,
    run_id_of,
    version_id,
    with_related_versions,
)
from app.domain.portfolio import RunDetail
from app.domain.serving import ServingState
from app.services.endpoints import EndpointStatus
from app.stores.lineage_queries import LineageQueries
from app.stores.portfolio_queries import PortfolioQueries

log = logging.getLogger("gavel.lineage")

# Run tags that say where the training code came from.
SOURCE_TAGS: tuple[tuple[str, str], ...] = (
    ("mlflow.source.git.commit", "Git commit"),
    ("mlflow.source.git.repoURL", "Git repository"),
    ("mlflow.source.git.branch", "Git branch"),
    ("mlflow.source.name", "Source"),
    ("mlflow.source.type", "Source type"),
)

EndpointStatuses = Callable[[], Sequence[EndpointStatus]]


class LineageService:
    """Builds lineage graphs from the cache.

    endpoints: the configured endpoints with their last observed state
    (EndpointService.statuses); None leaves endpoints out.
    """

    def __init__(
        self,
        queries: LineageQueries,
        portfolio: PortfolioQueries,
        endpoints: EndpointStatuses | None = None,
    ) -> None:
        self._q = queries
        self._portfolio = portfolio
        self._endpoints = endpoints

    def resolve_registry(self, model: str, registry: str | None = None) -> str:
        """The registry holding a cached model of that name (ambiguity is a usage error)."""
        keys = self._portfolio.find_model(model, registry)
        if not keys:
            where = f" in registry '{registry}'" if registry else ""
            raise UsageError(
                f"No cached model named '{model}'{where}. Run 'gavel sync' or check the name."
            )
        if len(keys) > 1:
            raise UsageError(
                f"Several registries have a model named '{model}'; name one with --registry."
            )
        detail = self._portfolio.model_detail(keys[0])
        assert detail is not None
        return detail.registry

    def lineage(self, registry: str, model: str, version: int) -> LineageGraph:
        """The lineage graph of one cached version; UsageError when it is not cached."""
        facts = self._q.version_facts(registry, model, version)
        if facts is None:
            raise UsageError(
                f"The cache holds no version {version} of '{model}' in registry '{registry}'. "
                f"Run 'gavel sync {registry}' or check the version."
            )
        notes: list[str] = []
        nodes: list[LineageNode] = []
        edges: list[LineageEdge] = []
        root = _version_node(facts)
        upstream_of_version = root.id

        run = self._portfolio.run_detail(registry, facts.run_id) if facts.run_id else None
        if facts.run_id:
            run_node = _run_node(facts.run_id, run)
            nodes.append(run_node)
            if run is None:
                notes.append(
                    f"Run {facts.run_id} is not in the cache: sync the registry to see its "
                    "datasets and parameters."
                )
            else:
                for ds_node, contexts in self._dataset_nodes(facts, run.datasets):
                    nodes.append(ds_node)
                    edges.append(LineageEdge(ds_node.id, run_node.id, contexts))
            upstream_of_version = run_node.id
        else:
            notes.append(
                f"Version {version} was registered without a tracked run (source: "
                f"{facts.source or 'unknown'}), so its training data is not known."
            )
        if facts.logged_model:
            lm = _logged_model_node(facts)
            nodes.append(lm)
            if upstream_of_version != root.id:
                edges.append(LineageEdge(upstream_of_version, lm.id, "logged"))
            upstream_of_version = lm.id
        nodes.append(root)
        if upstream_of_version != root.id:
            edges.append(LineageEdge(upstream_of_version, root.id, "registered"))

        alias_nodes = {a: _alias_node(facts, a) for a in facts.aliases}
        for node in alias_nodes.values():
            nodes.append(node)
            edges.append(LineageEdge(root.id, node.id, "alias"))
        for status in self._endpoint_statuses(facts):
            node, edge = _endpoint_link(facts, status, alias_nodes, root.id)
            nodes.append(node)
            edges.append(edge)
        return LineageGraph(root.id, tuple(nodes), tuple(edges), tuple(notes))

    def dataset_uses(self, digest: str) -> list[DatasetUse]:
        """Every cached version trained or evaluated on data with this digest."""
        return self._q.dataset_uses(digest)

    def expand_dataset(self, graph: LineageGraph, node_id: str) -> LineageGraph:
        """The graph plus the other versions that used a dataset node's data."""
        node = graph.node(node_id)
        if node is None or node.kind is not NodeKind.DATASET:
            raise UsageError("Only a dataset can list the versions trained on it.")
        return with_related_versions(graph, node_id, self._q.dataset_uses(node.digest))

    # -- pieces --------------------------------------------------------------------------

    def _dataset_nodes(
        self, facts: VersionFacts, datasets: Sequence[DatasetInput]
    ) -> list[tuple[LineageNode, str]]:
        # One node per distinct data (name and digest); a run may log it in two contexts.
        grouped: dict[str, tuple[DatasetInput, list[str]]] = {}
        for d in datasets:
            entry = grouped.setdefault(dataset_id(d.name, d.digest), (d, []))
            if d.context and d.context not in entry[1]:
                entry[1].append(d.context)
        me = (facts.registry, facts.model, facts.version)
        out = []
        for node_id, (d, contexts) in grouped.items():
            uses = self._q.dataset_uses(d.digest) if d.digest else []
            others = [u for u in uses if (u.registry, u.model, u.version) != me]
            context_text = ", ".join(contexts)
            caption = f"{context_text or 'input'} · {d.digest[:10]}" if d.digest else context_text
            also = (
                f"{len(others)} other version{'s' if len(others) != 1 else ''}"
                if others
                else "no other cached version"
            )
            node = LineageNode(
                id=node_id,
                kind=NodeKind.DATASET,
                label=d.name,
                caption=caption,
                details=(
                    ("Dataset", d.name),
                    ("Digest", d.digest),
                    ("Used as", context_text or "unspecified"),
                    ("Source type", d.source_type),
                    ("Source", _source_text(d.source)),
                    ("Also used by", also),
                ),
                digest=d.digest,
            )
            out.append((node, context_text or "input"))
        return out

    def _endpoint_statuses(self, facts: VersionFacts) -> list[EndpointStatus]:
        if self._endpoints is None:
            return []
        try:
            statuses = self._endpoints()
        except GavelError as exc:
            log.warning("endpoints left out of the lineage: %s", exc.message)
            return []
        out = []
        for st in statuses:
            cfg, rec = st.config, st.record
            if (cfg.registry, cfg.model) != (facts.registry, facts.model):
                continue
            if facts.version in rec.served_versions or cfg.alias in facts.aliases:
                out.append(st)
        return out


# ------------------------------------------------------------------------ nodes


def _utc(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(start: int | None, end: int | None) -> str:
    if start is None or end is None or end < start:
        return ""
    minutes, seconds = divmod((end - start) // 1000, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds} s"


def _source_text(source: str) -> str:
    """MLflow stores a dataset source as JSON ({"uri": ...}); show the location itself."""
    try:
        parsed = json.loads(source)
    except ValueError:
        return source
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path", "table_name"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return source


def _version_node(f: VersionFacts) -> LineageNode:
    status = {"READY": "ready"}.get(f.status, f.status.replace("_", " ").lower())
    tags = ", ".join(f"{k}={v}" for k, v in sorted(f.tags.items()))
    return LineageNode(
        id=version_id(f.registry, f.model, f.version),
        kind=NodeKind.VERSION,
        label=f"{f.model} v{f.version}",
        caption=", ".join(f.aliases) if f.aliases else (status or "no alias"),
        details=(
            ("Model", f.model),
            ("Registry", f.registry),
            ("Version", str(f.version)),
            ("Status", status),
            ("Aliases", ", ".join(f.aliases) or "none"),
            ("Created", _utc(f.creation_timestamp)),
            ("Registered by", f.user_id),
            ("Source", f.source),
            ("Run", f.run_id or "none (not from a tracked run)"),
            ("Logged model", f.logged_model),
            ("Description", f.description),
            ("Tags", tags),
        ),
        focus=True,
        registry=f.registry,
        model=f.model,
        version=f.version,
    )


def _run_node(run_id: str, run: RunDetail | None) -> LineageNode:
    if run is None:
        return LineageNode(
            id=run_id_of(run_id),
            kind=NodeKind.RUN,
            label=run_id[:12],
            caption="not in the cache",
            details=(("Run id", run_id), ("Cached", "no: sync the registry")),
            status=NodeStatus.UNKNOWN,
        )
    started = _utc(run.start_time)
    details: list[tuple[str, str]] = [
        ("Run id", run.run_id),
        ("Name", run.run_name),
        ("Experiment", run.experiment_id),
        ("Started by", run.user_id or run.tags.get("mlflow.user", "")),
        ("Status", run.status.lower()),
        ("Started", started),
        ("Ended", _utc(run.end_time)),
        ("Duration", _duration(run.start_time, run.end_time)),
    ]
    details += [(title, run.tags[tag]) for tag, title in SOURCE_TAGS if run.tags.get(tag)]
    details += [(f"Parameter {k}", v) for k, v in sorted(run.params.items())]
    who = run.user_id or run.tags.get("mlflow.user", "")
    commit = run.tags.get("mlflow.source.git.commit", "")
    bits = [b for b in (who, started[:10], f"git {commit[:7]}" if commit else "") if b]
    return LineageNode(
        id=run_id_of(run.run_id),
        kind=NodeKind.RUN,
        label=run.run_name or run.run_id[:12],
        caption=" · ".join(bits),
        details=tuple(details),
    )


def _logged_model_node(f: VersionFacts) -> LineageNode:
    model_id = f.logged_model
    return LineageNode(
        id=logged_model_id_of(model_id),
        kind=NodeKind.LOGGED_MODEL,
        label=model_id,
        caption="MLflow logged model",
        details=(("Model id", model_id), ("Version source", f.source)),
    )


def _alias_node(f: VersionFacts, alias: str) -> LineageNode:
    return LineageNode(
        id=alias_id(f.registry, f.model, alias),
        kind=NodeKind.ALIAS,
        label=alias,
        caption=f"{f.model} → v{f.version}",
        details=(("Alias", alias), ("Model", f.model), ("Points to", f"version {f.version}")),
        registry=f.registry,
        model=f.model,
        version=f.version,
    )


def _endpoint_link(
    f: VersionFacts,
    st: EndpointStatus,
    alias_nodes: dict[str, LineageNode],
    version_node: str,
) -> tuple[LineageNode, LineageEdge]:
    cfg, rec = st.config, st.record
    state = rec.serving_state
    serves_me = f.version in rec.served_versions
    served = ", ".join(f"v{v}" for v in rec.served_versions)
    if rec.health is not None and rec.health.value != "up":
        status = NodeStatus.DOWN
    elif state == ServingState.DRIFT.value:
        status = NodeStatus.DRIFT
    elif state == ServingState.MATCH.value:
        status = NodeStatus.OK
    else:
        status = NodeStatus.UNKNOWN
    if rec.last_probe_at is None:
        caption = "never probed"
    elif status is NodeStatus.DOWN:
        caption = f"down · {rec.health.value if rec.health else ''}".rstrip(" ·")
    elif served:
        caption = f"serves {served}" + (" · DRIFT" if status is NodeStatus.DRIFT else "")
    else:
        caption = "served version unknown"
    node = LineageNode(
        id=endpoint_id(cfg.name),
        kind=NodeKind.ENDPOINT,
        label=cfg.name,
        caption=caption,
        details=(
            ("Endpoint", cfg.name),
            ("Kind", cfg.kind.value),
            ("URL", cfg.url),
            ("Bound to", f"{cfg.registry}/{cfg.model}@{cfg.alias}"),
            ("Health", rec.health.value if rec.health else "never probed"),
            ("Health detail", rec.health_reason),
            ("Serving", state or "unknown"),
            ("Serving detail", rec.serving_reason),
            ("Served", served or "unknown"),
            ("Reported as", rec.served_label),
            (
                "Last probe",
                rec.last_probe_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                if rec.last_probe_at
                else "never",
            ),
        ),
        status=status,
        registry=cfg.registry,
        model=cfg.model,
    )
    alias = alias_nodes.get(cfg.alias)
    if serves_me and status is not NodeStatus.DRIFT:
        source = alias.id if alias is not None else version_node
        return node, LineageEdge(source, node.id, "serves")
    if serves_me:
        # Serving this version although its alias names another: drawn straight from the
        # version, in red, because no approval links them.
        return node, LineageEdge(version_node, node.id, "serves (drift)", EdgeStyle.DRIFT)
    source = alias.id if alias is not None else version_node
    if status is NodeStatus.DRIFT:
        # Red, from the alias it should follow, saying what it serves instead.
        return node, LineageEdge(source, node.id, f"serves {served}", EdgeStyle.DRIFT)
    return node, LineageEdge(source, node.id, "bound (not verified)", EdgeStyle.UNVERIFIED)
