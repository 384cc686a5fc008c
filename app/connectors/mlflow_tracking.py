"""Writing to MLflow tracking over REST: experiments, runs, batches and dataset inputs."""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from app.connectors import mlflow_parse as p
from app.connectors.http import JsonObject, RegistryHttp
from app.connectors.mlflow_api import (
    API,
    DATASET_CONTEXT_TAG,
    MAX_BATCH_BYTES,
    MAX_DATASETS_PER_CALL,
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)
from app.domain.entities import DatasetInput, MetricPoint
from app.domain.errors import AlreadyExists


class TrackingWriter:
    """Creates experiments and runs and logs to them; writes are never retried blindly."""

    def __init__(self, http: RegistryHttp) -> None:
        self._http = http

    def create_experiment(self, name: str) -> str:
        """Id of the experiment called name, created if it does not exist."""
        try:
            payload = self._http.post_json(f"{API}/experiments/create", {"name": name})
            return self._field(f"{API}/experiments/create", payload, "experiment_id")
        except AlreadyExists:
            path = f"{API}/experiments/get-by-name"
            payload = self._http.get_json(path, {"experiment_name": name})
            try:
                return p.req_str(p.obj(payload, "experiment", "response"), "experiment_id", name)
            except p.MalformedPayload as exc:
                raise self._http.bad_payload(path, exc.detail) from None

    def create_run(
        self,
        experiment_id: str,
        run_name: str = "",
        user_id: str = "",
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a run and return its id.

        MLflow 3.17 stores user_id, but its UI and older servers read the `mlflow.user`
        tag, so the tag is set too unless the caller set it.
        """
        all_tags = dict(tags or {})
        if user_id:
            all_tags.setdefault("mlflow.user", user_id)
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "tags": [{"key": k, "value": v} for k, v in all_tags.items()],
        }
        if run_name:
            body["run_name"] = run_name
        if user_id:
            body["user_id"] = user_id
        if start_time is not None:
            body["start_time"] = start_time
        path = f"{API}/runs/create"
        payload = self._http.post_json(path, body)
        try:
            info = p.obj(p.obj(payload, "run", "response"), "info", "run")
            return p.opt_str(info, "run_id", "run.info") or p.req_str(info, "run_uuid", "run.info")
        except p.MalformedPayload as exc:
            raise self._http.bad_payload(path, exc.detail) from None

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Sequence[MetricPoint] = (),
        tags: Mapping[str, str] | None = None,
    ) -> int:
        """Log params, metrics and tags in as few calls as MLflow's limits allow.

        Returns the number of log-batch calls made.
        """
        calls = 0
        for body in batch_bodies(run_id, params or {}, metrics, tags or {}):
            self._http.post_json(f"{API}/runs/log-batch", body)
            calls += 1
        return calls

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Record dataset inputs; the context goes into the `mlflow.data.context` input tag."""
        items = [_dataset_json(d) for d in datasets]
        for i in range(0, len(items), MAX_DATASETS_PER_CALL):
            self._http.post_json(
                f"{API}/runs/log-inputs",
                {"run_id": run_id, "datasets": items[i : i + MAX_DATASETS_PER_CALL]},
            )

    def update_run(self, run_id: str, status: str, end_time: int | None = None) -> None:
        """Set a run's status (RUNNING, FINISHED, FAILED, KILLED) and end time."""
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        self._http.post_json(f"{API}/runs/update", body)

    def _field(self, path: str, payload: JsonObject, key: str) -> str:
        try:
            return p.req_str(payload, key, "response")
        except p.MalformedPayload as exc:
            raise self._http.bad_payload(path, exc.detail) from None


def batch_bodies(
    run_id: str,
    params: Mapping[str, str],
    metrics: Sequence[MetricPoint],
    tags: Mapping[str, str],
) -> Iterator[dict[str, Any]]:
    """log-batch bodies within MLflow's per-call limits (counts and request size)."""
    queues = (
        ("params", deque({"key": k, "value": v} for k, v in params.items())),
        ("tags", deque({"key": k, "value": v} for k, v in tags.items())),
        ("metrics", deque(_metric_json(m) for m in metrics)),
    )
    caps = {"params": MAX_PARAMS_TAGS_PER_BATCH, "tags": MAX_PARAMS_TAGS_PER_BATCH}
    while any(queue for _, queue in queues):
        body: dict[str, Any] = {"run_id": run_id, "params": [], "metrics": [], "tags": []}
        size = 200
        entities = 0
        for field, queue in queues:
            cap = caps.get(field, MAX_METRICS_PER_BATCH)
            while queue and len(body[field]) < cap and entities < MAX_ENTITIES_PER_BATCH:
                item_size = len(json.dumps(queue[0])) + 2
                if size + item_size > MAX_BATCH_BYTES and entities:
                    break
                body[field].append(queue.popleft())
                size += item_size
                entities += 1
        yield body


def _metric_json(m: MetricPoint) -> dict[str, Any]:
    # JSON has no NaN or infinity; MLflow's proto JSON spells them as strings.
    value: float | str = m.value
    if math.isnan(m.value):
        value = "NaN"
    elif math.isinf(m.value):
        value = "Infinity" if m.value > 0 else "-Infinity"
    return {"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step}


def _dataset_json(d: DatasetInput) -> dict[str, Any]:
    item: dict[str, Any] = {
        "dataset": {
            "name": d.name,
            "digest": d.digest,
            "source_type": d.source_type,
            "source": d.source,
        }
    }
    if d.context:
        item["tags"] = [{"key": DATASET_CONTEXT_TAG, "value": d.context}]
    return item
