"""Cache store: migrations, snapshot writes (diff, rollback), portfolio queries.

Runs on SQLite and on the real PostgreSQL (the `db` fixture is parametrized).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.domain.cancel import CancelToken
from app.domain.entities import DatasetInput, MetricPoint, ModelVersion, RegisteredModel, Run
from app.domain.errors import CacheCorrupt, Cancelled
from app.domain.portfolio import PortfolioSort
from app.stores.engine import Database, sqlite_url
from app.stores.migrate import HEAD_REVISION, heads, open_database
from app.stores.portfolio_queries import PortfolioQueries
from app.stores.schema import Base
from app.stores.snapshot_writer import SnapshotWriter

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def _model(name: str, aliases: dict[str, int] | None = None, **tags: str) -> RegisteredModel:
    return RegisteredModel(
        name=name,
        description=f"{name} description",
        creation_timestamp=1_700_000_000_000,
        last_updated_timestamp=1_700_000_000_000 + len(name),
        tags=tags,
        aliases=aliases or {},
    )


def _version(model: str, n: int, run_id: str = "", **tags: str) -> ModelVersion:
    return ModelVersion(
        model_name=model,
        version=n,
        creation_timestamp=1_700_000_000_000 + n,
        user_id="alice",
        source=f"runs:/{run_id}/model",
        run_id=run_id,
        status="READY",
        tags=tags,
    )


def _run(run_id: str, status: str = "FINISHED") -> Run:
    return Run(
        run_id=run_id,
        experiment_id="1",
        run_name=f"run-{run_id}",
        user_id="alice",
        status=status,
        params={"lr": "0.1", "depth": "6"},
        metrics={"auc": MetricPoint("auc", 0.91, 9, 1000)},
        tags={"mlflow.source.git.commit": "abc123"},
        datasets=(DatasetInput("train", "d1g35t", "local", "/data/train.csv", "training"),),
        metric_history={"auc": tuple(MetricPoint("auc", 0.8 + i / 100, i, i) for i in range(10))},
    )


def _portfolio() -> tuple[list[RegisteredModel], list[ModelVersion], dict[str, Run]]:
    models = [
        _model("fraud", {"champion": 2}, owner="bob", risk_tier="high", team="fraud"),
        _model("churn", {"production": 1}, owner="carol", risk_tier="low", team="marketing"),
        _model("credit 'scorer'", owner="dave", risk_tier="medium", team="credit"),
    ]
    versions = [
        _version("fraud", 1, "r1"),
        _version("fraud", 2, "r2", validated="yes"),
        _version("churn", 1, "r3"),
        _version("credit 'scorer'", 1, "r4"),
    ]
    runs = {r: _run(r) for r in ("r1", "r2", "r3", "r4")}
    return models, versions, runs


def test_migrations_have_a_single_head_named_in_the_code() -> None:
    # HEAD_REVISION lets a start-up with a current schema skip importing Alembic.
    assert heads() == [HEAD_REVISION]


def test_migrated_schema_equals_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_snapshot_roundtrip_and_portfolio(db: Database) -> None:
    writer, queries = SnapshotWriter(db), PortfolioQueries(db)
    models, versions, runs = _portfolio()
    writer.write("reg", "http://x", models, versions, runs, T0)

    keys = queries.model_keys(sort=PortfolioSort.NAME)
    rows = queries.rows(keys)
    assert [rows[k].name for k in keys] == ["churn", "credit 'scorer'", "fraud"]
    fraud = next(r for r in rows.values() if r.name == "fraud")
    assert fraud.latest_version == 2
    assert fraud.version_count == 2
    assert dict(fraud.aliases) == {"champion": 2}
    assert (fraud.owner, fraud.risk_tier, fraud.team) == ("bob", "high", "fraud")

    detail = queries.model_detail(fraud.model_key)
    assert detail is not None
    assert [v.version for v in detail.versions] == [2, 1]
    assert detail.versions[0].aliases == ("champion",)
    assert dict(detail.versions[0].tags) == {"validated": "yes"}

    run = queries.run_detail("reg", "r2")
    assert run is not None
    assert dict(run.params) == {"lr": "0.1", "depth": "6"}
    assert run.metrics["auc"].value == pytest.approx(0.91)
    assert run.datasets[0].digest == "d1g35t"
    assert len(queries.metric_history("reg", "r2", "auc")) == 10


def test_filter_and_sort_run_in_sql(db: Database) -> None:
    writer, queries = SnapshotWriter(db), PortfolioQueries(db)
    writer.write("reg", "http://x", *_portfolio(), T0)

    def names(**kw: object) -> list[str]:
        keys = queries.model_keys(**kw)  # type: ignore[arg-type]
        rows = queries.rows(keys)
        return [rows[k].name for k in keys]

    assert names(text="'scor") == ["credit 'scorer'"]
    assert names(text="MARKET") == ["churn"]  # team, case-insensitive
    assert names(text="%") == []  # LIKE wildcards are literal
    assert names(text="high") == ["fraud"]  # risk tier
    assert names(sort=PortfolioSort.VERSION_COUNT, descending=True)[0] == "fraud"
    assert names(sort=PortfolioSort.OWNER) == ["fraud", "churn", "credit 'scorer'"]


def test_resync_with_nothing_changed_writes_nothing(db: Database) -> None:
    writer = SnapshotWriter(db)
    models, versions, runs = _portfolio()
    writer.write("reg", "http://x", models, versions, runs, T0)
    stats, changes = writer.write("reg", "http://x", models, versions, {}, T1)
    assert (stats.models_written, stats.versions_written, stats.runs_written) == (0, 0, 0)
    assert (stats.models_deleted, stats.versions_deleted) == (0, 0)
    assert changes == []
    # Runs not re-fetched were kept, and reported reusable.
    assert writer.cached_terminal_runs("reg") == {"r1", "r2", "r3", "r4"}
    assert PortfolioQueries(db).run_detail("reg", "r1") is not None


def test_alias_moves_and_deletions_are_reported(db: Database) -> None:
    writer, queries = SnapshotWriter(db), PortfolioQueries(db)
    models, versions, runs = _portfolio()
    writer.write("reg", "http://x", models, versions, runs, T0)
    moved = [
        _model("fraud", {"champion": 1, "challenger": 2}, owner="bob"),
        _model("churn", {}, owner="carol"),
    ]
    kept_versions = [v for v in versions if v.model_name != "credit 'scorer'"]
    stats, changes = writer.write("reg", "http://x", moved, kept_versions, {}, T1)
    assert stats.models_deleted == 1
    assert {(c.model_name, c.alias, c.before, c.after) for c in changes} == {
        ("fraud", "champion", 2, 1),
        ("fraud", "challenger", None, 2),
        ("churn", "production", 1, None),
    }
    assert [queries.rows([k])[k].name for k in queries.model_keys()] == ["churn", "fraud"]
    # The deleted model's run went with it.
    assert queries.run_detail("reg", "r4") is None


def test_cancelled_write_keeps_previous_snapshot(db: Database) -> None:
    writer, queries = SnapshotWriter(db), PortfolioQueries(db)
    models, versions, runs = _portfolio()
    writer.write("reg", "http://x", models, versions, runs, T0)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        writer.write("reg", "http://x", models[:1], versions[:1], {}, T1, cancel=token)
    assert len(queries.model_keys()) == 3
    status = queries.registry_statuses()[0]
    assert status.last_synced_at == T0


def test_failed_write_rolls_back(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    writer, queries = SnapshotWriter(db), PortfolioQueries(db)
    models, versions, runs = _portfolio()
    writer.write("reg", "http://x", models, versions, runs, T0)

    def boom(*_: object) -> None:
        raise RuntimeError("disk went away")

    # Fail after every table was written, just before commit.
    monkeypatch.setattr("app.stores.snapshot_writer._drop_orphan_runs", boom)
    with pytest.raises(RuntimeError):
        writer.write("reg", "http://x", models[:1], versions[:1], {}, T1)
    assert len(queries.model_keys()) == 3
    assert queries.registry_statuses()[0].last_synced_at == T0
    assert queries.run_detail("reg", "r4") is not None


def test_two_registries_side_by_side(db: Database) -> None:
    writer, queries = SnapshotWriter(db), PortfolioQueries(db)
    models, versions, runs = _portfolio()
    writer.write("one", "http://one", models, versions, runs, T0)
    writer.write("two", "http://two", models[:1], versions[:2], {}, T0)
    assert len(queries.model_keys()) == 4
    assert len(queries.model_keys(registry="two")) == 1
    assert {s.name: s.model_count for s in queries.registry_statuses()} == {"one": 3, "two": 1}
    # The pickers' list: names only, by name then registry, or one registry's.
    names = queries.model_names()
    assert len(names) == 4 and names == sorted(names, key=lambda rn: (rn[1].lower(), rn[1], rn[0]))
    first = models[0].name
    assert [r for r, n in names if n == first] == ["one", "two"]
    assert queries.model_names("two") == [("two", first)]
    writer.drop_registry("two")
    assert len(queries.model_keys()) == 3


def test_corrupt_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CacheCorrupt, match="damaged"):
        open_database(sqlite_url(path))


def test_sqlite_pragmas_are_set(tmp_path: Path) -> None:
    db = open_database(sqlite_url(tmp_path / "c.sqlite3"))
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    db.dispose()
