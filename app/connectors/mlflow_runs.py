"""Reading MLflow runs in bulk: few requests, a small thread pool, histories included."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

from app.connectors import mlflow_parse as p
from app.connectors.http import JsonObject, RegistryHttp
from app.connectors.mlflow_api import (
    API,
    EXPERIMENTS_PAGE_MAX,
    HISTORY_BULK_PATH,
    HISTORY_POINTS_MAX,
    HISTORY_RUNS_MAX,
    RUNS_PAGE_MAX,
)
from app.connectors.mlflow_filters import in_filter
from app.domain.cancel import CancelToken
from app.domain.entities import MetricPoint, Run
from app.domain.errors import NotFound
from app.domain.progress import Progress, ProgressCallback, no_progress

T = TypeVar("T")

# Run ids per runs/search filter. MLflow 3.17 accepted 2,000 in one filter; at 100-1,000
# it answered in ~0.6-0.8 ms per run either way (SQLite, 1 worker), so 500 keeps requests
# few while each answer stays around 1 MB and a 4-thread pool still has work to share.
RUN_ID_BATCH = 500
DEFAULT_WORKERS = 4


class RunFetcher:
    """Runs of one MLflow server by id; thread-safe, blocking."""

    def __init__(self, http: RegistryHttp, *, workers: int = DEFAULT_WORKERS) -> None:
        self._http = http
        self._workers = max(1, workers)
        self._bulk_history = True
        self._lock = threading.Lock()

    def list_experiment_ids(
        self, cancel: CancelToken | None = None, *, page_size: int = EXPERIMENTS_PAGE_MAX
    ) -> list[str]:
        """Ids of all experiments, deleted ones included (their runs still back versions)."""
        path = f"{API}/experiments/search"
        ids: list[str] = []
        token: str | None = None
        while True:
            _check(cancel)
            body: dict[str, Any] = {"max_results": page_size, "view_type": "ALL"}
            if token:
                body["page_token"] = token
            payload = self._http.post_json(path, body, idempotent=True)
            try:
                for i, exp in enumerate(p.objects(payload, "experiments", "response")):
                    ids.append(p.req_str(exp, "experiment_id", f"experiments[{i}]"))
                token = p.page_token(payload, "response")
            except p.MalformedPayload as exc:
                raise self._http.bad_payload(path, exc.detail) from None
            if not token:
                return ids

    def fetch_runs(
        self,
        run_ids: Sequence[str],
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
        *,
        batch_size: int = RUN_ID_BATCH,
        page_size: int | None = None,
    ) -> dict[str, Run]:
        """Runs by id with params, latest metrics, tags, datasets and metric histories.

        Ids the server does not know are absent from the result.
        page_size: max_results per runs/search page (default: the whole batch in one).
        """
        report = progress or no_progress
        wanted = list(dict.fromkeys(r for r in run_ids if r))
        if not wanted:
            return {}
        report(Progress("Listing experiments"))
        experiment_ids = self.list_experiment_ids(cancel)
        if not experiment_ids:
            return {}
        batches = [wanted[i : i + batch_size] for i in range(0, len(wanted), batch_size)]
        runs: dict[str, Run] = {}
        wanted_set = set(wanted)

        def collect(found: list[Run]) -> None:
            runs.update((r.run_id, r) for r in found if r.run_id in wanted_set)
            report(Progress("Reading runs", min(len(runs), len(wanted)), len(wanted)))

        report(Progress("Reading runs", 0, len(wanted)))
        self._parallel(
            [
                _bind(self._search_runs_batch, experiment_ids, batch, page_size, cancel)
                for batch in batches
            ],
            cancel,
            collect,
        )
        histories = self._fetch_histories(runs, cancel, report)
        return {
            run_id: dataclasses.replace(run, metric_history=histories.get(run_id, {}))
            for run_id, run in runs.items()
        }

    def _search_runs_batch(
        self,
        experiment_ids: list[str],
        batch: list[str],
        page_size: int | None,
        cancel: CancelToken | None,
    ) -> list[Run]:
        path = f"{API}/runs/search"
        found: list[Run] = []
        token: str | None = None
        while True:
            _check(cancel)
            body: dict[str, Any] = {
                "experiment_ids": experiment_ids,
                "filter": in_filter("attributes.run_id", batch),
                "max_results": min(page_size or len(batch), RUNS_PAGE_MAX),
                # Deleted runs still back registered versions; governance must see them.
                "run_view_type": "ALL",
            }
            if token:
                body["page_token"] = token
            payload = self._http.post_json(path, body, idempotent=True)
            try:
                found.extend(p.parse_list(payload, "runs", "response", p.parse_run))
                token = p.page_token(payload, "response")
            except p.MalformedPayload as exc:
                raise self._http.bad_payload(path, exc.detail) from None
            if not token:
                return found

    def _fetch_histories(
        self, runs: Mapping[str, Run], cancel: CancelToken | None, report: ProgressCallback
    ) -> dict[str, dict[str, tuple[MetricPoint, ...]]]:
        # A metric whose latest point is at step 0 was logged once (or only ever without a
        # step), so its latest value is its whole story: asking for its history would cost
        # a request per key for nothing. Only metrics that reached step > 0 have a curve.
        by_key: dict[str, list[str]] = {}
        for run in runs.values():
            for key, point in run.metrics.items():
                if point.step > 0:
                    by_key.setdefault(key, []).append(run.run_id)
        tasks: list[Callable[[], dict[str, list[MetricPoint]]]] = []
        keys: list[str] = []
        for key, ids in sorted(by_key.items()):
            for i in range(0, len(ids), HISTORY_RUNS_MAX):
                tasks.append(_bind(self._history_chunk, key, ids[i : i + HISTORY_RUNS_MAX], cancel))
                keys.append(key)
        out: dict[str, dict[str, tuple[MetricPoint, ...]]] = {}
        done = 0
        if tasks:
            report(Progress("Reading metric history", 0, len(tasks)))

        def collect(chunk: dict[str, list[MetricPoint]]) -> None:
            nonlocal done
            for run_id, points in chunk.items():
                if points:
                    points.sort(key=lambda m: (m.step, m.timestamp))
                    out.setdefault(run_id, {})[points[0].key] = tuple(points)
            done += 1
            report(Progress("Reading metric history", done, len(tasks)))

        self._parallel(tasks, cancel, collect)
        return out

    def _history_chunk(
        self, key: str, run_ids: list[str], cancel: CancelToken | None
    ) -> dict[str, list[MetricPoint]]:
        _check(cancel)
        with self._lock:
            bulk = self._bulk_history
        if bulk:
            try:
                payload = self._http.get_json(
                    HISTORY_BULK_PATH,
                    {"run_id": run_ids, "metric_key": key, "max_results": HISTORY_POINTS_MAX},
                )
            except NotFound:
                # A server without the UI endpoint (older, or a proxy exposing only /api).
                with self._lock:
                    self._bulk_history = False
            else:
                chunk = self._parse_history(HISTORY_BULK_PATH, payload, run_ids)
                if sum(len(v) for v in chunk.values()) < HISTORY_POINTS_MAX:
                    return chunk
                # Hit the cap: the tail is cut off somewhere, so read these runs one by one.
        return {run_id: self._history_one(run_id, key, cancel) for run_id in run_ids}

    def _history_one(self, run_id: str, key: str, cancel: CancelToken | None) -> list[MetricPoint]:
        path = f"{API}/metrics/get-history"
        points: list[MetricPoint] = []
        token: str | None = None
        while True:
            _check(cancel)
            params: dict[str, str | int | list[str]] = {
                "run_id": run_id,
                "metric_key": key,
                "max_results": HISTORY_POINTS_MAX,
            }
            if token:
                params["page_token"] = token
            payload = self._http.get_json(path, params)
            try:
                points.extend(p.parse_list(payload, "metrics", "response", p.parse_metric))
                token = p.page_token(payload, "response")
            except p.MalformedPayload as exc:
                raise self._http.bad_payload(path, exc.detail) from None
            if not token:
                return points

    def _parse_history(
        self, path: str, payload: JsonObject, run_ids: list[str]
    ) -> dict[str, list[MetricPoint]]:
        chunk: dict[str, list[MetricPoint]] = {r: [] for r in run_ids}
        try:
            for i, item in enumerate(p.objects(payload, "metrics", "response")):
                where = f"metrics[{i}]"
                run_id = p.req_str(item, "run_id", where)
                if run_id in chunk:
                    chunk[run_id].append(p.parse_metric(item, where))
        except p.MalformedPayload as exc:
            raise self._http.bad_payload(path, exc.detail) from None
        return chunk

    def _parallel(
        self,
        tasks: Sequence[Callable[[], T]],
        cancel: CancelToken | None,
        collect: Callable[[T], None],
    ) -> None:
        """Run tasks on a small pool; results are collected on the calling thread."""
        if len(tasks) <= 1 or self._workers == 1:
            for task in tasks:
                collect(task())
                _check(cancel)
            return
        with ThreadPoolExecutor(
            max_workers=min(self._workers, len(tasks)), thread_name_prefix="gavel-mlflow"
        ) as pool:
            futures: list[Future[T]] = [pool.submit(task) for task in tasks]
            try:
                for future in as_completed(futures):
                    collect(future.result())
                    _check(cancel)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


def _bind(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    return lambda: fn(*args)
