"""MLflow REST JSON → Gavel domain objects, checking every field it reads.

Anything missing or of the wrong type raises MalformedPayload (never KeyError or
TypeError); the client turns it into BadResponse naming the registry and URL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from app.connectors.mlflow_api import DATASET_CONTEXT_TAG
from app.domain.entities import DatasetInput, MetricPoint, ModelVersion, RegisteredModel, Run

T = TypeVar("T")

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class MalformedPayload(Exception):
    """The JSON parsed, but is not shaped as MLflow documents it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def obj(payload: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """A required nested object."""
    value = payload.get(key)
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where}.{key} is {_kind(value)}, expected an object")
    return value


def opt_obj(payload: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where}.{key} is {_kind(value)}, expected an object")
    return value


def objects(payload: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    """An optional list of objects; MLflow omits empty repeated fields."""
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{where}.{key} is {_kind(value)}, expected a list")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise MalformedPayload(f"{where}.{key}[{i}] is {_kind(item)}, expected an object")
    return value


def req_str(payload: Mapping[str, Any], key: str, where: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or value == "":
        raise MalformedPayload(f"{where}.{key} is {_kind(value)}, expected a non-empty string")
    return value


def opt_str(payload: Mapping[str, Any], key: str, where: str) -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}.{key} is {_kind(value)}, expected a string")
    return value


def opt_int(payload: Mapping[str, Any], key: str, where: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    return _to_int(value, f"{where}.{key}")


def req_int(payload: Mapping[str, Any], key: str, where: str) -> int:
    value = opt_int(payload, key, where)
    if value is None:
        raise MalformedPayload(f"{where}.{key} is missing, expected an integer")
    return value


def page_token(payload: Mapping[str, Any], where: str) -> str | None:
    token = opt_str(payload, "next_page_token", where)
    return token or None


def parse_list(
    payload: Mapping[str, Any], key: str, where: str, parse: Callable[[Mapping[str, Any]], T]
) -> list[T]:
    return [parse(item) for item in objects(payload, key, where)]


def key_values(payload: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    """MLflow's repeated {key, value} pairs (tags, params) as a dict."""
    out: dict[str, str] = {}
    for i, item in enumerate(objects(payload, key, where)):
        here = f"{where}.{key}[{i}]"
        out[req_str(item, "key", here)] = opt_str(item, "value", here)
    return out


def parse_registered_model(d: Mapping[str, Any]) -> RegisteredModel:
    where = "registered_model"
    name = req_str(d, "name", where)
    where = f"registered_model '{name}'"
    aliases: dict[str, int] = {}
    for i, item in enumerate(objects(d, "aliases", where)):
        here = f"{where}.aliases[{i}]"
        aliases[req_str(item, "alias", here)] = req_int(item, "version", here)
    return RegisteredModel(
        name=name,
        description=opt_str(d, "description", where),
        creation_timestamp=opt_int(d, "creation_timestamp", where),
        last_updated_timestamp=opt_int(d, "last_updated_timestamp", where),
        tags=key_values(d, "tags", where),
        aliases=aliases,
    )


def parse_model_version(d: Mapping[str, Any]) -> ModelVersion:
    name = req_str(d, "name", "model_version")
    where = f"model_version of '{name}'"
    version = req_int(d, "version", where)
    where = f"model_version '{name}' v{version}"
    raw_aliases = d.get("aliases")
    if raw_aliases is None:
        aliases: tuple[str, ...] = ()
    elif isinstance(raw_aliases, list) and all(isinstance(a, str) for a in raw_aliases):
        aliases = tuple(raw_aliases)
    else:
        raise MalformedPayload(f"{where}.aliases is {_kind(raw_aliases)}, expected strings")
    return ModelVersion(
        model_name=name,
        version=version,
        creation_timestamp=opt_int(d, "creation_timestamp", where),
        last_updated_timestamp=opt_int(d, "last_updated_timestamp", where),
        description=opt_str(d, "description", where),
        user_id=opt_str(d, "user_id", where),
        source=opt_str(d, "source", where),
        run_id=opt_str(d, "run_id", where),
        status=opt_str(d, "status", where),
        current_stage=opt_str(d, "current_stage", where),
        logged_model_id=opt_str(d, "model_id", where),
        tags=key_values(d, "tags", where),
        aliases=aliases,
    )


def parse_metric(d: Mapping[str, Any], where: str = "metric") -> MetricPoint:
    key = req_str(d, "key", where)
    here = f"{where} '{key}'"
    return MetricPoint(
        key=key,
        value=_to_float(d.get("value"), f"{here}.value"),
        # proto2 omits nothing here in practice, but a step of 0 is the documented default.
        step=opt_int(d, "step", here) or 0,
        timestamp=req_int(d, "timestamp", here),
    )


def parse_dataset_input(d: Mapping[str, Any], where: str) -> DatasetInput:
    dataset = obj(d, "dataset", where)
    here = f"{where}.dataset"
    tags = key_values(d, "tags", where)
    return DatasetInput(
        name=req_str(dataset, "name", here),
        digest=req_str(dataset, "digest", here),
        source_type=opt_str(dataset, "source_type", here),
        source=opt_str(dataset, "source", here),
        context=tags.get(DATASET_CONTEXT_TAG, ""),
    )


def parse_run(d: Mapping[str, Any]) -> Run:
    """A run with its latest metrics; metric_history is filled separately."""
    info = obj(d, "info", "run")
    run_id = opt_str(info, "run_id", "run.info") or req_str(info, "run_uuid", "run.info")
    where = f"run {run_id}"
    data = opt_obj(d, "data", where)
    inputs = opt_obj(d, "inputs", where)
    tags = key_values(data, "tags", f"{where}.data")
    metrics: dict[str, MetricPoint] = {}
    for i, m in enumerate(objects(data, "metrics", f"{where}.data")):
        point = parse_metric(m, f"{where}.data.metrics[{i}]")
        metrics[point.key] = point
    datasets = tuple(
        parse_dataset_input(item, f"{where}.inputs.dataset_inputs[{i}]")
        for i, item in enumerate(objects(inputs, "dataset_inputs", f"{where}.inputs"))
    )
    return Run(
        run_id=run_id,
        experiment_id=opt_str(info, "experiment_id", where),
        run_name=opt_str(info, "run_name", where) or tags.get("mlflow.runName", ""),
        # Older clients left user_id empty and only set the mlflow.user tag.
        user_id=opt_str(info, "user_id", where) or tags.get("mlflow.user", ""),
        status=opt_str(info, "status", where),
        start_time=opt_int(info, "start_time", where),
        end_time=opt_int(info, "end_time", where),
        artifact_uri=opt_str(info, "artifact_uri", where),
        params=key_values(data, "params", f"{where}.data"),
        metrics=metrics,
        tags=tags,
        datasets=datasets,
    )


def _to_int(value: Any, where: str) -> int:
    # proto3 JSON may send int64 as a string; bool is an int to Python but not to us.
    if isinstance(value, bool):
        raise MalformedPayload(f"{where} is a boolean, expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise MalformedPayload(f"{where} is {_kind(value)}, expected an integer")


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise MalformedPayload(f"{where} is a boolean, expected a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value in _NON_FINITE:
            return _NON_FINITE[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise MalformedPayload(f"{where} is {_kind(value)}, expected a number")


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, str):
        return "an empty string" if value == "" else f"the string {value[:40]!r}"
    return f"a {type(value).__name__}"
