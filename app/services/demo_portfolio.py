"""A realistic sample model portfolio, written into an MLflow registry through REST.

Used by the demo registry, the test fixtures and the benchmarks. Everything is
derived from a fixed seed, so two seeded registries hold the same names, params,
metrics, datasets, tags and aliases (MLflow still assigns its own ids and times).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from app.connectors.mlflow_registry import MlflowRegistryClient
from app.domain.cancel import CancelToken
from app.domain.entities import DatasetInput, MetricPoint
from app.domain.errors import AlreadyExists
from app.domain.progress import Progress, ProgressCallback, no_progress

SEED = 20240601
# 2025-01-06 09:00 UTC: runs are dated from here so the demo reads like a real history.
BASE_TIME_MS = 1_736_154_000_000
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class DemoModel:
    name: str
    team: str
    owner: str
    risk_tier: str
    description: str
    versions: int
    # alias -> version number
    aliases: tuple[tuple[str, int], ...]
    algorithm: str
    task: str  # "classification" or "regression": decides which metrics it logs
    datasets: tuple[str, ...]  # training dataset first, then evaluation


DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel(
        "credit-default-scorer",
        "credit-risk",
        "amelia.hart@example.com",
        "high",
        "Probability of default for unsecured consumer loans; feeds the credit decision engine.",
        5,
        (("production", 4), ("champion", 4), ("challenger", 5)),
        "xgboost",
        "classification",
        ("consumer_loan_applications", "consumer_loan_outcomes_holdout"),
    ),
    DemoModel(
        "mortgage-pd",
        "credit-risk",
        "rahul.mehta@example.com",
        "high",
        "Twelve-month probability of default for the mortgage book (IFRS 9 stage 1).",
        3,
        (("production", 2), ("champion", 2)),
        "logistic_regression",
        "classification",
        ("mortgage_performance_monthly", "mortgage_backtest_2024"),
    ),
    DemoModel(
        "affordability-check",
        "credit-risk",
        "amelia.hart@example.com",
        "medium",
        "Estimates disposable income from open-banking transactions.",
        2,
        (("production", 1),),
        "lightgbm",
        "regression",
        ("open_banking_transactions",),
    ),
    DemoModel(
        "card-fraud-detector",
        "fraud",
        "li.wei@example.com",
        "high",
        "Real-time card-not-present fraud scoring at authorisation time.",
        4,
        (("production", 3), ("champion", 3), ("challenger", 4)),
        "xgboost",
        "classification",
        ("card_authorisations_labelled", "card_chargebacks_holdout"),
    ),
    DemoModel(
        "aml-transaction-monitor",
        "fraud",
        "sofia.rossi@example.com",
        "high",
        "Ranks transfers for anti-money-laundering review by the investigations team.",
        3,
        (("production", 2),),
        "isolation_forest",
        "classification",
        ("wire_transfers_2024", "sar_filings_labelled"),
    ),
    DemoModel(
        "churn-propensity",
        "marketing",
        "jonas.berg@example.com",
        "medium",
        "Likelihood that a retail customer closes their current account within 90 days.",
        4,
        (("champion", 3), ("challenger", 4)),
        "random_forest",
        "classification",
        ("customer_activity_snapshot", "churn_labels_q4"),
    ),
    DemoModel(
        "next-best-offer",
        "marketing",
        "priya.nair@example.com",
        "low",
        "Chooses which product offer to show in the mobile app.",
        2,
        (),
        "lightgbm",
        "classification",
        ("offer_impressions",),
    ),
    DemoModel(
        # A space, an apostrophe and parentheses: names like this must survive filters.
        "Customer LTV (Marketing's)",
        "marketing",
        "jonas.berg@example.com",
        "low",
        "Customer lifetime value over five years, used to size acquisition budgets.",
        3,
        (("production", 2),),
        "gradient_boosting",
        "regression",
        ("customer_revenue_history", "ltv_holdout_cohort"),
    ),
    DemoModel(
        "call-volume-forecast",
        "ops",
        "marta.silva@example.com",
        "low",
        "Forecasts daily contact-centre call volume for staffing.",
        3,
        (("production", 3),),
        "prophet",
        "regression",
        ("contact_centre_calls_daily",),
    ),
    DemoModel(
        "invoice-ocr-router",
        "ops",
        "tom.okafor@example.com",
        "medium",
        "Routes scanned supplier invoices to the right accounts-payable queue.",
        2,
        (("production", 2), ("champion", 2)),
        "cnn",
        "classification",
        ("supplier_invoices_scanned", "invoice_routing_audit_sample"),
    ),
)

_SOURCE_TYPES = ("s3", "delta_table", "http")


def seed_demo_portfolio(
    client: MlflowRegistryClient,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """Write the demo portfolio (DEMO_MODELS) into the registry behind client.

    A model that already exists is left alone, so seeding again is harmless.
    """
    report = progress or no_progress
    rng = random.Random(SEED)
    total = sum(m.versions for m in DEMO_MODELS)
    done = 0
    report(Progress("Seeding demo portfolio", 0, total))
    for index, model in enumerate(DEMO_MODELS):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            client.create_registered_model(
                model.name,
                model.description,
                {"team": model.team, "owner": model.owner, "risk_tier": model.risk_tier},
            )
        except AlreadyExists:
            done += model.versions
            continue
        experiment_id = client.create_experiment(f"{model.team}/{model.name}")
        for version in range(1, model.versions + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            _seed_version(client, rng, model, index, version, experiment_id)
            done += 1
            report(Progress("Seeding demo portfolio", done, total))
        for alias, version in model.aliases:
            client.set_registered_model_alias(model.name, alias, version)


def _seed_version(
    client: MlflowRegistryClient,
    rng: random.Random,
    model: DemoModel,
    model_index: int,
    version: int,
    experiment_id: str,
) -> None:
    start = BASE_TIME_MS + model_index * 3 * _DAY_MS + (version - 1) * 21 * _DAY_MS
    user = model.owner.split("@")[0]
    commit = hashlib.sha1(f"{model.name}:{version}".encode()).hexdigest()
    script = f"train_{model.name.split()[0].lower().replace('-', '_')}.py"
    run_id = client.create_run(
        experiment_id,
        run_name=f"{model.name.split()[0].lower()}-v{version}-training",
        user_id=user,
        start_time=start,
        tags={
            "mlflow.user": user,
            "mlflow.source.name": f"pipelines/{model.team}/{script}",
            "mlflow.source.type": "JOB",
            "mlflow.source.git.commit": commit,
            "team": model.team,
        },
    )
    params = _params(rng, model, version)
    metrics = _metrics(rng, model, version, start)
    client.log_batch(run_id, params=params, metrics=metrics)
    client.log_inputs(run_id, _datasets(model, version))
    steps = max(m.step for m in metrics)
    client.update_run(run_id, "FINISHED", end_time=start + (steps + 2) * 60_000)
    client.create_model_version(
        model.name,
        source=f"runs:/{run_id}/model",
        run_id=run_id,
        description=f"{model.algorithm} retrained on data up to week {version * 3}.",
        tags={
            "validation_status": "passed" if version < model.versions else "pending",
            "framework": model.algorithm,
        },
    )


def _params(rng: random.Random, model: DemoModel, version: int) -> dict[str, str]:
    return {
        "algorithm": model.algorithm,
        "learning_rate": f"{rng.choice((0.01, 0.03, 0.05, 0.1)):g}",
        "max_depth": str(rng.randint(3, 10)),
        "n_estimators": str(rng.choice((100, 200, 400, 800))),
        "feature_set": f"{model.team}-features-v{version}",
        "random_seed": str(SEED + version),
        "training_window_days": str(rng.choice((90, 180, 365))),
    }


def _metrics(rng: random.Random, model: DemoModel, version: int, start: int) -> list[MetricPoint]:
    steps = rng.randint(10, 20)
    points: list[MetricPoint] = []
    quality = 0.70 + 0.03 * version + rng.uniform(-0.02, 0.02)
    for step in range(steps):
        t = start + (step + 1) * 60_000
        progress = 1 - math.exp(-3 * (step + 1) / steps)
        loss = 0.9 * (1 - progress) + 0.15 + rng.uniform(0, 0.02)
        points.append(MetricPoint("train_loss", round(loss, 5), step, t))
        points.append(MetricPoint("val_loss", round(loss * 1.08 + 0.01, 5), step, t))
        if model.task == "classification":
            auc = min(0.99, 0.5 + (quality - 0.5) * progress + rng.uniform(-0.005, 0.005))
            points.append(MetricPoint("val_auc", round(auc, 5), step, t))
        else:
            rmse = 100 * (1.2 - quality) * (2 - progress) + rng.uniform(0, 1)
            points.append(MetricPoint("val_rmse", round(rmse, 4), step, t))
    end = start + (steps + 1) * 60_000
    # Logged once at step 0: final figures that have no curve.
    if model.task == "classification":
        points.append(MetricPoint("test_auc", round(quality - rng.uniform(0, 0.01), 5), 0, end))
        points.append(MetricPoint("precision_at_5pct", round(quality - 0.1, 5), 0, end))
        points.append(MetricPoint("fairness_gap", round(rng.uniform(0.005, 0.04), 5), 0, end))
    else:
        points.append(MetricPoint("test_rmse", round(100 * (1.2 - quality), 4), 0, end))
        points.append(MetricPoint("test_mape", round(rng.uniform(0.04, 0.15), 5), 0, end))
    return points


def _datasets(model: DemoModel, version: int) -> list[DatasetInput]:
    out = []
    for i, name in enumerate(model.datasets):
        context = "training" if i == 0 else "evaluation"
        source_type = _SOURCE_TYPES[(len(name) + i) % len(_SOURCE_TYPES)]
        uri = f"s3://gavel-demo/{model.team}/{name}/v{version}.parquet"
        if source_type == "delta_table":
            uri = f"{model.team.replace('-', '_')}.{name}@v{version}"
        elif source_type == "http":
            uri = f"https://data.example.com/{model.team}/{name}/v{version}.csv"
        digest = hashlib.sha256(f"{name}@{version}".encode()).hexdigest()[:12]
        out.append(
            DatasetInput(
                name=name,
                digest=digest,
                source_type=source_type,
                source=json.dumps({"uri": uri}),
                context=context,
            )
        )
    return out


def seed_bulk(
    client: MlflowRegistryClient,
    models: int,
    versions_per_model: int,
    params: int = 5,
    metrics: int = 5,
    workers: int = 8,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """A large synthetic registry for benchmarks: models × versions, one run per version.

    Models are seeded concurrently (each by one thread, so its versions are numbered
    in order); every version costs 4 requests: create run, log batch, finish run,
    create version. The last version of each model gets the `champion` alias.
    """
    report = progress or no_progress
    experiment_id = client.create_experiment("bulk-benchmark")
    total = models * versions_per_model

    def seed_model(m: int) -> None:
        name = f"bulk-model-{m:05d}"
        client.create_registered_model(
            name, f"Synthetic model {m}.", {"team": f"team-{m % 7}", "risk_tier": "low"}
        )
        for v in range(1, versions_per_model + 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            start = BASE_TIME_MS + (m * versions_per_model + v) * 1000
            run_id = client.create_run(
                experiment_id, run_name=f"{name}-v{v}", user_id="bench", start_time=start
            )
            client.log_batch(
                run_id,
                params={f"param_{i}": str((m * 31 + v * 7 + i) % 97) for i in range(params)},
                metrics=[
                    MetricPoint(f"metric_{i}", ((m + v + i) % 100) / 100, 0, start)
                    for i in range(metrics)
                ],
            )
            client.update_run(run_id, "FINISHED", end_time=start + 500)
            client.create_model_version(name, f"runs:/{run_id}/model", run_id)
        client.set_registered_model_alias(name, "champion", versions_per_model)

    report(Progress("Seeding bulk registry", 0, total))
    finished = 0
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="gavel-seed") as pool:
        futures = [pool.submit(seed_model, m) for m in range(models)]
        try:
            # Progress is reported here, on the caller's thread, one model at a time.
            for future in as_completed(futures):
                future.result()
                finished += 1
                report(Progress("Seeding bulk registry", finished * versions_per_model, total))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
