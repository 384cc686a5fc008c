"""Lineage against a real MLflow server: runs logging two datasets, synced, then read
offline (service, CLI) — including versions of different models sharing a digest."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.bootstrap import AppContext
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.entities import DatasetInput, MetricPoint
from app.domain.lineage import NodeKind, dataset_id, run_id_of
from tests.fixtures.mlflow import MlflowRegistry
from tests.test_cli import gavel
from tests.ui_helpers import make_context

pytestmark = pytest.mark.integration

REGISTRY = "seeded"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def ctx(home: Path, seeded_registry: MlflowRegistry) -> Iterator[AppContext]:
    context = make_context(home)
    context.registries.add(seeded_registry.config(REGISTRY))
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def shared_data_models(seeded_registry: MlflowRegistry) -> Iterator[tuple[str, str, str]]:
    """Two new models whose runs logged the same evaluation data (same digest):
    (model a, model b, digest). Deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"lineage-a-{suffix}", f"lineage-b-{suffix}")
    digest = hashlib.sha256(suffix.encode()).hexdigest()[:16]
    with MlflowRegistryClient(seeded_registry.config(), None) as client:
        experiment = client.create_experiment(f"lineage-tests-{suffix}")
        try:
            for name in names:
                client.create_registered_model(name, "lineage test model")
                run = client.create_run(experiment, run_name=f"{name}-training", user_id="ana")
                client.log_batch(
                    run,
                    params={"max_depth": "4"},
                    metrics=[
                        MetricPoint("val_auc", 0.7 + i / 100, i, 1_700_000_000_000 + i)
                        for i in range(5)
                    ],
                )
                client.log_inputs(
                    run,
                    [
                        DatasetInput(f"{name}-train", digest[::-1], "local", "{}", "training"),
                        DatasetInput("shared_holdout", digest, "local", "{}", "evaluation"),
                    ],
                )
                client.update_run(run, "FINISHED")
                client.create_model_version(name, f"runs:/{run}/model", run)
            yield names[0], names[1], digest
        finally:
            for name in names:
                client.delete_registered_model(name)


def test_demo_version_lineage_from_the_synced_cache(ctx: AppContext, home: Path) -> None:
    ctx.sync.sync(REGISTRY)
    # The demo seeder logs two datasets per mortgage-pd run and tags the git commit.
    g = ctx.lineage.lineage(REGISTRY, "mortgage-pd", 2)
    datasets = {n.label: n for n in g.of_kind(NodeKind.DATASET)}
    assert set(datasets) == {"mortgage_performance_monthly", "mortgage_backtest_2024"}
    runs = g.of_kind(NodeKind.RUN)
    assert len(runs) == 1
    run = runs[0]
    contexts = {e.label for e in g.edges if e.target == run.id}
    assert contexts == {"training", "evaluation"}
    commit = hashlib.sha1(b"mortgage-pd:2").hexdigest()
    assert dict(run.details)["Git commit"] == commit
    assert dict(run.details)["Parameter algorithm"] == "logistic_regression"
    aliases = {n.label for n in g.of_kind(NodeKind.ALIAS)}
    assert aliases == {"production", "champion"}
    assert run.id == run_id_of(dict(run.details)["Run id"])

    # The same answer from the command line, offline, as JSON.
    ctx.close()
    proc = gavel(home, "lineage", "mortgage-pd", "2", "--registry", REGISTRY, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    labels = {n["label"] for n in out["nodes"] if n["kind"] == "dataset"}
    assert labels == set(datasets)
    assert len(out["edges"]) == len(g.edges)


def test_versions_of_other_models_trained_on_the_same_data(
    ctx: AppContext, shared_data_models: tuple[str, str, str]
) -> None:
    model_a, model_b, digest = shared_data_models
    ctx.sync.sync(REGISTRY)
    uses = ctx.lineage.dataset_uses(digest)
    assert {(u.model, u.version, u.context) for u in uses} == {
        (model_a, 1, "evaluation"),
        (model_b, 1, "evaluation"),
    }
    g = ctx.lineage.lineage(REGISTRY, model_a, 1)
    holdout = dataset_id("shared_holdout", digest)
    expanded = ctx.lineage.expand_dataset(g, holdout)
    added = [n for n in expanded.nodes if g.node(n.id) is None]
    assert [(n.model, n.version) for n in added] == [(model_b, 1)]
    # Metric history came with the sync: the chart's data is in the cache.
    run_id = next(v.run_id for v in ctx.portfolio.find_model(model_a, REGISTRY).versions)
    assert len(ctx.performance.history(REGISTRY, run_id, "val_auc")) == 5
