"""A small, realistic cached model for lineage, charts and comparison tests.

'mortgage-pd' (registry 'risk') has four versions. Every run logs two datasets: a
training set that changes with each retrain (v3 and v4 were trained on the same
extract) and the 2024 back-test holdout, the same data for every version and also
used by 'mortgage-lgd'. v3 and v4 come from MLflow 3 logged models. production → v3,
champion → v4. Metric histories are cached for every run.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime

from app.bootstrap import AppContext
from app.domain.endpoints import EndpointConfig, EndpointKind, EndpointRecord, HealthState
from app.domain.entities import DatasetInput, MetricPoint, ModelVersion, RegisteredModel, Run
from app.domain.registry import RegistryConfig
from app.services.endpoints import EndpointStatus
from app.stores.snapshot_writer import SnapshotWriter

REGISTRY = "risk"
MODEL = "mortgage-pd"
OTHER_MODEL = "mortgage-lgd"
BASE_MS = 1_736_154_000_000
DAY_MS = 86_400_000
HOLDOUT = "mortgage_backtest_2024"
HOLDOUT_DIGEST = hashlib.sha256(b"holdout-2024").hexdigest()[:12]


def training_digest(version: int) -> str:
    # v3 and v4 were trained on the same extract.
    return hashlib.sha256(f"perf-monthly@{min(version, 3)}".encode()).hexdigest()[:12]


def run_id(model: str, version: int) -> str:
    return hashlib.md5(f"{model}:{version}".encode()).hexdigest()


def logged_model(version: int) -> str:
    return "m-" + hashlib.md5(f"lm:{version}".encode()).hexdigest() if version >= 3 else ""


def _history(version: int, start: int) -> dict[str, tuple[MetricPoint, ...]]:
    steps = 12 + version
    quality = 0.72 + 0.035 * version
    loss, auc = [], []
    for step in range(steps):
        t = start + (step + 1) * 45_000
        progress = 1 - math.exp(-3 * (step + 1) / steps)
        loss.append(MetricPoint("train_loss", round(0.9 * (1 - progress) + 0.15, 5), step, t))
        auc.append(MetricPoint("val_auc", round(0.5 + (quality - 0.5) * progress, 5), step, t))
    return {"train_loss": tuple(loss), "val_auc": tuple(auc)}


def _run(model: str, version: int, holdout_context: str = "evaluation") -> Run:
    start = BASE_MS + (version - 1) * 21 * DAY_MS
    history = _history(version, start)
    end = max(p.timestamp for points in history.values() for p in points)
    quality = 0.72 + 0.035 * version
    metrics = {k: v[-1] for k, v in history.items()}
    metrics["test_auc"] = MetricPoint("test_auc", round(quality - 0.004, 5), 0, end)
    metrics["fairness_gap"] = MetricPoint("fairness_gap", round(0.04 - 0.006 * version, 4), 0, end)
    return Run(
        run_id=run_id(model, version),
        experiment_id="7",
        run_name=f"{model}-v{version}-training",
        user_id="rahul.mehta",
        status="FINISHED",
        start_time=start,
        end_time=end + 30_000,
        params={
            "algorithm": "logistic_regression" if version < 3 else "xgboost",
            "learning_rate": "0.05" if version < 4 else "0.03",
            "max_depth": str(3 + version),
            "training_window_days": "365",
        },
        metrics=metrics,
        tags={
            "mlflow.user": "rahul.mehta",
            "mlflow.source.name": "pipelines/credit-risk/train_mortgage_pd.py",
            "mlflow.source.type": "JOB",
            "mlflow.source.git.commit": hashlib.sha1(f"{model}{version}".encode()).hexdigest(),
        },
        datasets=(
            DatasetInput(
                "mortgage_performance_monthly",
                training_digest(version),
                "s3",
                json.dumps({"uri": f"s3://risk-data/mortgage/perf/v{min(version, 3)}.parquet"}),
                "training",
            ),
            DatasetInput(
                HOLDOUT,
                HOLDOUT_DIGEST,
                "delta_table",
                json.dumps({"uri": "credit_risk.mortgage_backtest_2024@v1"}),
                holdout_context,
            ),
        ),
        metric_history=history,
    )


def seed_lineage_model(ctx: AppContext) -> None:
    """Configure registry 'risk' (never contacted) and write the two models into the cache."""
    ctx.registries.add(RegistryConfig(name=REGISTRY, url=f"http://{REGISTRY}.invalid"))
    models = [
        RegisteredModel(
            MODEL,
            "Twelve-month probability of default for the mortgage book.",
            BASE_MS,
            BASE_MS + 90 * DAY_MS,
            {"owner": "rahul.mehta@example.com", "team": "credit-risk", "risk_tier": "high"},
            {"production": 3, "champion": 4},
        ),
        RegisteredModel(
            OTHER_MODEL,
            "Loss given default for the mortgage book.",
            BASE_MS,
            BASE_MS,
            {"owner": "amelia.hart@example.com", "team": "credit-risk", "risk_tier": "medium"},
            {"production": 1},
        ),
    ]
    versions = [
        ModelVersion(
            MODEL,
            v,
            BASE_MS + (v - 1) * 21 * DAY_MS + 3_600_000,
            user_id="rahul.mehta",
            source=f"models:/{logged_model(v)}"
            if logged_model(v)
            else f"runs:/{run_id(MODEL, v)}/model",
            run_id=run_id(MODEL, v),
            status="READY",
            logged_model_id=logged_model(v),
            tags={"validation_status": "passed"},
        )
        for v in range(1, 5)
    ]
    versions.append(
        ModelVersion(
            OTHER_MODEL,
            1,
            BASE_MS,
            source=f"runs:/{run_id(OTHER_MODEL, 1)}/model",
            run_id=run_id(OTHER_MODEL, 1),
            status="READY",
        )
    )
    runs = {run_id(MODEL, v): _run(MODEL, v) for v in range(1, 5)}
    runs[run_id(OTHER_MODEL, 1)] = _run(OTHER_MODEL, 1, holdout_context="evaluation")
    SnapshotWriter(ctx.db).write(
        REGISTRY, f"http://{REGISTRY}.invalid", models, versions, runs, datetime.now(UTC)
    )


def endpoint_statuses() -> list[EndpointStatus]:
    """Two endpoints of mortgage-pd as a probe left them: one serving production (v3),
    one serving v4 although it is bound to production (drift)."""
    at = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)

    def cfg(name: str) -> EndpointConfig:
        return EndpointConfig(
            name=name,
            kind=EndpointKind.OIP,
            url=f"http://{name}.invalid:8080",
            registry=REGISTRY,
            model=MODEL,
            alias="production",
        )

    return [
        EndpointStatus(
            cfg("mortgage-blue"),
            EndpointRecord(
                "mortgage-blue",
                last_probe_at=at,
                health=HealthState.UP,
                serving_state="match",
                serving_reason="Endpoint 'mortgage-blue' serves version 3.",
                served_versions=(3,),
                served_label="v3",
                expected_version=3,
            ),
        ),
        EndpointStatus(
            cfg("mortgage-green"),
            EndpointRecord(
                "mortgage-green",
                last_probe_at=at,
                health=HealthState.UP,
                serving_state="drift",
                serving_reason="Endpoint 'mortgage-green' serves version 4 ... not approved.",
                served_versions=(4,),
                served_label="v4",
                expected_version=3,
            ),
        ),
    ]
