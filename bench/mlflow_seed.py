"""Seed a real MLflow server's SQLite backend directly, for benchmarks at scale.

`seed_bulk` (app/services/demo_portfolio.py) seeds through MLflow's REST API, four
requests per version: about one version a second on the shared bench machine, hours
for 100,000 versions. This writes the same shape straight into the tables of the
server's store (MLflow created them at its first start): registered models with
their `team` and `risk_tier` tags, versions each with a finished run of `params`
params and `metrics` metrics (history and latest), and the `champion` alias on every
model's last version. The server then answers from that store like from any other:
what Gavel syncs is real MLflow REST, only the writing was shortcut.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

BASE_TIME_MS = 1_736_150_000_000
EXPERIMENT = "bulk-benchmark"


def model_name(m: int) -> str:
    return f"bulk-model-{m:05d}"


def seed_store(
    db: Path,
    models: int,
    versions_per_model: int,
    big_model_versions: int = 0,
    params: int = 5,
    metrics: int = 5,
) -> int:
    """Write models x versions (model 0 gets `big_model_versions` when larger) into an
    MLflow SQLite store; returns the number of versions written."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        cur = con.execute("SELECT max(experiment_id) FROM experiments")
        exp_id = (cur.fetchone()[0] or 0) + 1
        con.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,"
            " creation_time, last_update_time, workspace) VALUES (?,?,?,?,?,?,'default')",
            (
                exp_id,
                EXPERIMENT,
                f"mlflow-artifacts:/{exp_id}",
                "active",
                BASE_TIME_MS,
                BASE_TIME_MS,
            ),
        )
        total = 0
        for m in range(models):
            count = big_model_versions if m == 0 and big_model_versions else versions_per_model
            total += _seed_model(con, exp_id, m, count, params, metrics)
        con.commit()
        return total
    finally:
        con.close()


def _seed_model(
    con: sqlite3.Connection, exp_id: int, m: int, versions: int, params: int, metrics: int
) -> int:
    name = model_name(m)
    created = BASE_TIME_MS + m * 1000
    updated = created + versions * 1000
    con.execute(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description,"
        " workspace) VALUES (?,?,?,?,'default')",
        (name, created, updated, f"Synthetic model {m}."),
    )
    con.executemany(
        "INSERT INTO registered_model_tags (key, value, name, workspace) VALUES (?,?,?,'default')",
        [("team", f"team-{m % 7}", name), ("risk_tier", "low", name)],
    )
    runs, tags, prm, mets, latest, mvs = [], [], [], [], [], []
    for v, run_id, start in _versions(m, versions):
        runs.append(
            (
                run_id,
                f"{name}-v{v}",
                "UNKNOWN",
                "",
                "",
                "bench",
                "FINISHED",
                start,
                start + 500,
                "",
                "active",
                f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts",
                exp_id,
            )
        )
        tags += [("mlflow.user", "bench", run_id), ("mlflow.runName", f"{name}-v{v}", run_id)]
        prm += [(f"param_{i}", str((m * 31 + v * 7 + i) % 97), run_id) for i in range(params)]
        for i in range(metrics):
            value = ((m + v + i) % 100) / 100
            mets.append((f"metric_{i}", value, start, run_id, 0, 0))
            latest.append((f"metric_{i}", value, start, 0, 0, run_id))
        mvs.append(
            (
                name,
                v,
                start + 600,
                start + 600,
                "",
                None,
                "None",
                f"runs:/{run_id}/model",
                run_id,
                "READY",
                "",
                "",
                f"runs:/{run_id}/model",
            )
        )
    con.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
        " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
        " experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        runs,
    )
    con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
    con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", prm)
    con.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)",
        mets,
    )
    con.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
        " VALUES (?,?,?,?,?,?)",
        latest,
    )
    con.executemany(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time,"
        " description, user_id, current_stage, source, run_id, status, status_message,"
        " run_link, storage_location, workspace) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'default')",
        mvs,
    )
    con.execute(
        "INSERT INTO registered_model_aliases (alias, version, name, workspace)"
        " VALUES ('champion', ?, ?, 'default')",
        (versions, name),
    )
    return versions


def _versions(m: int, versions: int) -> Iterator[tuple[int, str, int]]:
    for v in range(1, versions + 1):
        run_id = uuid.UUID(int=(m << 40) | v).hex
        yield v, run_id, BASE_TIME_MS + (m * 100_000 + v) * 1000
