"""Client for an MLflow model registry over its REST API (MLflow itself is never imported)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from app.connectors import mlflow_parse as p
from app.connectors.http import (
    DEFAULT_BACKOFF_S,
    DEFAULT_RETRIES,
    JsonObject,
    RegistryHttp,
)
from app.connectors.http_errors import display_url
from app.connectors.mlflow_api import API, MODEL_VERSIONS_PAGE_MAX, REGISTERED_MODELS_PAGE_MAX
from app.connectors.mlflow_filters import in_filter
from app.connectors.mlflow_runs import DEFAULT_WORKERS, RUN_ID_BATCH, RunFetcher
from app.connectors.mlflow_tracking import TrackingWriter
from app.domain.cancel import CancelToken
from app.domain.entities import DatasetInput, MetricPoint, ModelVersion, RegisteredModel, Run
from app.domain.errors import AuthFailed, GavelError, PermissionDenied, RegistryError
from app.domain.progress import Progress, ProgressCallback, no_progress
from app.domain.registry import ConnectionReport, LinkState, RegistryConfig

T = TypeVar("T")

_VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?\S*$")


class MlflowRegistryClient:
    """Reads and writes one MLflow registry; blocking, thread-safe, a context manager.

    secret: password (basic auth) or token (bearer), None when cfg.auth is NONE.
    retries, backoff_s: retry policy of idempotent calls (see connectors.http).
    workers: threads used to fetch runs and histories concurrently.
    """

    def __init__(
        self,
        cfg: RegistryConfig,
        secret: str | None,
        *,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.cfg = cfg
        self._http = RegistryHttp(
            cfg, secret, retries=retries, backoff_s=backoff_s, pool_size=max(10, workers * 2)
        )
        self._runs = RunFetcher(self._http, workers=workers)
        self._tracking = TrackingWriter(self._http)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MlflowRegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- probing ------------------------------------------------------------------------

    def probe(self) -> ConnectionReport:
        """Check reachability, that it is MLflow, that auth works; count registered models.

        Expected failures are reported in the message, never raised.
        """
        version = ""
        try:
            health = self._http.send("GET", "/health", idempotent=True, check=False)
        except GavelError as exc:
            return ConnectionReport(False, False, False, "", None, exc.message)
        looks_mlflow = health.status_code == 200 and health.text.strip() == "OK"
        try:
            resp = self._http.send("GET", "/version", idempotent=True, check=False)
            text = resp.text.strip()
            if resp.status_code == 200 and _VERSION_RE.match(text):
                version = text
        except GavelError:
            pass  # The model count below says what is wrong.
        try:
            count = self.count_registered_models()
        except RegistryError as exc:
            return ConnectionReport(
                reachable=True,
                is_mlflow=looks_mlflow or bool(version),
                # Credentials count as accepted only once the API has answered.
                auth_ok=False,
                server_version=version,
                model_count=None,
                message=exc.message,
            )
        shown = f"MLflow {version}" if version else "MLflow"
        return ConnectionReport(
            reachable=True,
            is_mlflow=True,
            auth_ok=True,
            server_version=version,
            model_count=count,
            message=(
                f"Connected to {shown} at {display_url(self.cfg.base_url)}: "
                f"{count:,} registered models."
            ),
        )

    def check_link(self) -> tuple[LinkState, str]:
        """One cheap authenticated request: does the registry answer, and accept us?

        Used every minute while the console runs, so it is sent once (no read retries)
        and says what it saw instead of raising.
        """
        try:
            self._http.send("GET", f"{API}/registered-models/search", params={"max_results": 1})
        except (AuthFailed, PermissionDenied) as exc:
            return LinkState.AUTH_FAILED, exc.message
        except GavelError as exc:
            return LinkState.OFFLINE, exc.message
        return LinkState.ONLINE, f"{display_url(self.cfg.base_url)} answers."

    def count_registered_models(self, cancel: CancelToken | None = None) -> int:
        """Number of registered models the credentials can see (pages of 1,000)."""
        return len(self.list_registered_models(cancel))

    # -- registry reads -------------------------------------------------------------------

    def list_registered_models(
        self,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
        *,
        names: Sequence[str] | None = None,
        page_size: int = REGISTERED_MODELS_PAGE_MAX,
    ) -> list[RegisteredModel]:
        """All registered models (with tags and aliases), ordered by name.

        names: only these models (any characters; escaped for MLflow's filter parser).
        """
        params: dict[str, str | int | list[str]] = {"order_by": ["name ASC"]}
        if names is not None:
            if not names:
                return []
            params["filter"] = in_filter("name", names)
        models = self._paged(
            f"{API}/registered-models/search",
            "registered_models",
            p.parse_registered_model,
            params,
            page_size,
            cancel,
            progress or no_progress,
            "Reading registered models",
        )
        return list({m.name: m for m in models}.values())

    def list_model_versions(
        self,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
        *,
        model_names: Sequence[str] | None = None,
        page_size: int = MODEL_VERSIONS_PAGE_MAX,
    ) -> list[ModelVersion]:
        """All model versions ordered by model name, then version number.

        Aliases are not part of version searches; read them from list_registered_models.
        model_names: only versions of these models.
        """
        params: dict[str, str | int | list[str]] = {"order_by": ["name ASC", "version_number ASC"]}
        if model_names is not None:
            if not model_names:
                return []
            params["filter"] = in_filter("name", model_names)
        versions = self._paged(
            f"{API}/model-versions/search",
            "model_versions",
            p.parse_model_version,
            params,
            page_size,
            cancel,
            progress or no_progress,
            "Reading model versions",
        )
        # Pages are offsets: a version registered while we page can shift one row twice.
        return list({(v.model_name, v.version): v for v in versions}.values())

    def get_registered_model(self, name: str) -> RegisteredModel:
        path = f"{API}/registered-models/get"
        payload = self._http.get_json(path, {"name": name})
        return self._parse(path, payload, "registered_model", p.parse_registered_model)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version, including the aliases that point at it."""
        path = f"{API}/model-versions/get"
        payload = self._http.get_json(path, {"name": name, "version": str(version)})
        return self._parse(path, payload, "model_version", p.parse_model_version)

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

        Ids the server does not know are absent. batch_size: run ids per runs/search;
        page_size: max_results per page (default: a whole batch per page).
        """
        return self._runs.fetch_runs(
            run_ids, cancel, progress, batch_size=batch_size, page_size=page_size
        )

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (retries not counted); for benchmarks and tests."""
        return self._http.requests_sent

    # -- tracking writes -------------------------------------------------------------------

    def create_experiment(self, name: str) -> str:
        """Id of the experiment called name, created if it does not exist yet."""
        return self._tracking.create_experiment(name)

    def create_run(
        self,
        experiment_id: str,
        run_name: str = "",
        user_id: str = "",
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a run and return its id; user_id is also written as tag `mlflow.user`."""
        return self._tracking.create_run(experiment_id, run_name, user_id, start_time, tags)

    def log_batch(
        self,
        run_id: str,
        params: Mapping[str, str] | None = None,
        metrics: Sequence[MetricPoint] = (),
        tags: Mapping[str, str] | None = None,
    ) -> int:
        """Log params, metrics and tags, split to MLflow's limits; returns the calls made."""
        return self._tracking.log_batch(run_id, params, metrics, tags)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Record the run's dataset inputs with their contexts (training, evaluation...)."""
        self._tracking.log_inputs(run_id, datasets)

    def update_run(self, run_id: str, status: str, end_time: int | None = None) -> None:
        """Set a run's status (RUNNING, FINISHED, FAILED, KILLED) and end time."""
        self._tracking.update_run(run_id, status, end_time)

    # -- registry writes -------------------------------------------------------------------

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a registered model; AlreadyExists if the name is taken."""
        path = f"{API}/registered-models/create"
        body = {"name": name, "description": description, "tags": _pairs(tags)}
        payload = self._http.post_json(path, body)
        return self._parse(path, payload, "registered_model", p.parse_registered_model)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Register a new version of model name from source (e.g. runs:/<run_id>/model)."""
        path = f"{API}/model-versions/create"
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "description": description,
            "tags": _pairs(tags),
        }
        payload = self._http.post_json(path, body)
        return self._parse(path, payload, "model_version", p.parse_model_version)

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        body = {"name": name, "alias": alias, "version": str(version)}
        self._http.post_json(f"{API}/registered-models/alias", body)

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        """Move a version into an MLflow stage (Staging, Production, Archived or None).

        Stages are deprecated in MLflow but still served (MLflow 3.17 included).
        archive_existing_versions: also move the model's other versions in that stage to
        Archived (only allowed for Staging and Production).
        """
        path = f"{API}/model-versions/transition-stage"
        body = {
            "name": name,
            "version": str(version),
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
        }
        payload = self._http.post_json(path, body)
        return self._parse(path, payload, "model_version", p.parse_model_version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._http.delete_json(f"{API}/registered-models/alias", {"name": name, "alias": alias})

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        body = {"name": name, "version": str(version), "key": key, "value": value}
        self._http.post_json(f"{API}/model-versions/set-tag", body)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        body = {"name": name, "key": key, "value": value}
        self._http.post_json(f"{API}/registered-models/set-tag", body)

    def delete_model_version(self, name: str, version: int | str) -> None:
        body = {"name": name, "version": str(version)}
        self._http.delete_json(f"{API}/model-versions/delete", body)

    def delete_registered_model(self, name: str) -> None:
        self._http.delete_json(f"{API}/registered-models/delete", {"name": name})

    # -- helpers ---------------------------------------------------------------------------

    def _paged(
        self,
        path: str,
        key: str,
        parse: Callable[[Mapping[str, Any]], T],
        params: dict[str, str | int | list[str]],
        page_size: int,
        cancel: CancelToken | None,
        report: ProgressCallback,
        phase: str,
    ) -> list[T]:
        items: list[T] = []
        token: str | None = None
        report(Progress(phase))
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            query = {**params, "max_results": page_size}
            if token:
                query["page_token"] = token
            payload = self._http.get_json(path, query)
            try:
                items.extend(p.parse_list(payload, key, "response", parse))
                token = p.page_token(payload, "response")
            except p.MalformedPayload as exc:
                raise self._http.bad_payload(path, exc.detail) from None
            report(Progress(phase, len(items)))
            if not token:
                return items

    def _parse(
        self, path: str, payload: JsonObject, key: str, parse: Callable[[Mapping[str, Any]], T]
    ) -> T:
        try:
            return parse(p.obj(payload, key, "response"))
        except p.MalformedPayload as exc:
            raise self._http.bad_payload(path, exc.detail) from None


def _pairs(values: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (values or {}).items()]
