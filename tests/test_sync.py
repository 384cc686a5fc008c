"""Sync against a real MLflow: full, re-sync, alias moves, failures mid-way, cancel."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.bootstrap import AppContext, build_context
from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.cancel import CancelToken
from app.domain.entities import MetricPoint
from app.domain.errors import Cancelled, RegistryError, RegistryUnavailable
from app.domain.progress import Progress
from app.domain.registry import RegistryConfig
from app.services.mlflow_process import MlflowServerProcess
from app.stores.paths import resolve_paths
from tests.fixtures.fault_proxy import Fault, FaultProxy
from tests.fixtures.mlflow import MlflowRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    context = build_context(resolve_paths({"GAVEL_HOME": str(tmp_path / "home")}))
    try:
        yield context
    finally:
        context.close()


def _names(ctx: AppContext, registry: str | None = None) -> list[str]:
    return [r.name for r in ctx.portfolio.all_rows(registry)]


def _seed_small(url: str, prefix: str, models: int = 3, versions: int = 2) -> None:
    with MlflowRegistryClient(RegistryConfig(name="seed", url=url), None) as c:
        exp = c.create_experiment(f"{prefix}-exp")
        for m in range(models):
            name = f"{prefix}-model-{m}"
            c.create_registered_model(name, tags={"owner": "ana", "risk_tier": "low"})
            for _ in range(versions):
                run = c.create_run(
                    exp, run_name=f"{name}-run", user_id="ana", start_time=1, tags={}
                )
                c.log_batch(run, {"lr": "0.1"}, [MetricPoint("auc", 0.9, 0, 1)], {})
                c.update_run(run, "FINISHED", 2)
                c.create_model_version(name, source=f"runs:/{run}/model", run_id=run)


def test_full_sync_mirrors_the_portfolio(ctx: AppContext, seeded_registry: MlflowRegistry) -> None:
    ctx.registries.add(seeded_registry.config("demo"))
    seen: list[Progress] = []
    result = ctx.sync.sync("demo", progress=seen.append)

    assert result.models >= 8
    assert result.versions >= 16
    assert result.runs_fetched == result.versions
    assert any(p.total for p in seen), "progress reports counts"
    rows = ctx.portfolio.all_rows()
    assert len(rows) == result.models
    assert {r.risk_tier for r in rows} >= {"high", "low"}
    assert any(r.aliases for r in rows)

    detail = ctx.portfolio.model_detail(rows[0].model_key)
    assert detail is not None and detail.versions
    run = ctx.portfolio.run_detail("demo", detail.versions[0].run_id)
    assert run is not None
    assert run.params and run.metrics and run.datasets
    assert all(d.digest for d in run.datasets)
    stepped = [m for m in run.metrics.values() if m.step > 0]
    assert stepped, "the demo logs metrics with a history"
    history = ctx.portfolio.metric_history("demo", run.run_id, stepped[0].key)
    assert len(history) == stepped[0].step + 1
    assert history[-1].value == pytest.approx(stepped[0].value)

    status = ctx.registries.statuses()[0]
    assert status.last_synced_at == result.synced_at
    assert status.model_count == result.models


def test_resync_reuses_finished_runs_and_sees_alias_moves(
    ctx: AppContext, seeded_registry: MlflowRegistry
) -> None:
    prefix = f"resync-{uuid.uuid4().hex[:6]}"
    _seed_small(seeded_registry.url, prefix, models=1, versions=2)
    name = f"{prefix}-model-0"
    ctx.registries.add(seeded_registry.config("r"))
    ctx.sync.sync("r")

    with MlflowRegistryClient(seeded_registry.config(), None) as c:
        c.set_registered_model_alias(name, "champion", 2)
        c.set_model_version_tag(name, 1, "reviewed", "yes")
    again = ctx.sync.sync("r")

    assert again.runs_fetched == 0
    assert again.runs_reused == again.versions
    moves = [(c.model_name, c.alias, c.before, c.after) for c in again.alias_changes]
    assert moves == [(name, "champion", None, 2)]
    detail = ctx.portfolio.find_model(name, "r")
    assert dict(detail.aliases) == {"champion": 2}
    v1 = next(v for v in detail.versions if v.version == 1)
    assert v1.tags.get("reviewed") == "yes"  # tag edits are picked up without timestamps


def test_two_registries_show_side_by_side(
    ctx: AppContext, seeded_registry: MlflowRegistry, mlflow_server: MlflowServerProcess
) -> None:
    with FaultProxy(seeded_registry.url) as proxy:
        ctx.registries.add(seeded_registry.config("first"))
        ctx.registries.add(RegistryConfig(name="second", url=proxy.url))
        outcomes = ctx.sync.sync_all()
    assert [o.message for o in outcomes] == ["", ""]
    first, second = _names(ctx, "first"), _names(ctx, "second")
    assert first == second and first
    assert len(_names(ctx)) == 2 * len(first)
    assert {r.registry for r in ctx.portfolio.all_rows()} == {"first", "second"}


def test_connection_dropped_mid_sync_keeps_previous_snapshot(
    ctx: AppContext, seeded_registry: MlflowRegistry
) -> None:
    with FaultProxy(seeded_registry.url) as proxy:
        ctx.registries.add(RegistryConfig(name="flaky", url=proxy.url, timeout_s=5))
        first = ctx.sync.sync("flaky")
        before = _names(ctx)

        # Make the runs look unfinished in the cache so the next sync has runs to fetch,
        # then cut the connection exactly when it starts fetching them.
        def drop_on_runs(p: Progress) -> None:
            if "reading runs" in p.phase:
                proxy.set(Fault.DROP)

        with ctx.db.session() as s:
            s.execute(text("UPDATE runs SET status = 'RUNNING'"))
        with pytest.raises(RegistryError) as err:
            ctx.sync.sync("flaky", progress=drop_on_runs)
    assert "flaky" in err.value.message or proxy.url in err.value.message
    assert _names(ctx) == before
    status = ctx.registries.statuses()[0]
    assert status.last_synced_at == first.synced_at
    assert status.last_error == err.value.message


def test_server_killed_mid_sync_keeps_previous_snapshot(ctx: AppContext, tmp_path: Path) -> None:
    server = MlflowServerProcess(tmp_path / "doomed").start()
    try:
        _seed_small(server.url, "doomed", models=2, versions=2)
        ctx.registries.add(RegistryConfig(name="doomed", url=server.url, timeout_s=5))
        ctx.sync.sync("doomed")
        before = _names(ctx)
        assert len(before) == 2

        def kill_after_models(p: Progress) -> None:
            if "reading versions" in p.phase:
                server.stop()

        with pytest.raises(RegistryUnavailable) as err:
            ctx.sync.sync("doomed", progress=kill_after_models)
        assert "doomed" in err.value.message or server.url in err.value.message
    finally:
        server.stop()
    # Offline: everything cached is still readable.
    assert _names(ctx) == before
    detail = ctx.portfolio.find_model(before[0])
    assert len(detail.versions) == 2
    assert ctx.portfolio.run_detail("doomed", detail.versions[0].run_id) is not None


def test_cancel_mid_sync_keeps_previous_snapshot(
    ctx: AppContext, seeded_registry: MlflowRegistry
) -> None:
    ctx.registries.add(seeded_registry.config("c"))
    ctx.sync.sync("c")
    before = [(r.name, r.latest_version) for r in ctx.portfolio.all_rows()]
    with ctx.db.session() as s:
        s.execute(text("UPDATE runs SET status = 'RUNNING'"))
    token = CancelToken()

    def cancel_when_saving(p: Progress) -> None:
        if "saving" in p.phase:
            token.cancel()

    with pytest.raises(Cancelled):
        ctx.sync.sync("c", progress=cancel_when_saving, cancel=token)
    assert [(r.name, r.latest_version) for r in ctx.portfolio.all_rows()] == before
    # The cancelled sync did not rewrite the runs either.
    with ctx.db.session() as s:
        statuses = {r[0] for r in s.execute(text("SELECT DISTINCT status FROM runs"))}
    assert statuses == {"RUNNING"}
