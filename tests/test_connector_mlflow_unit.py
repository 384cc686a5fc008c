"""MLflow connector pieces that need no server: filter escaping, payloads, parsing."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest

from app.connectors import mlflow_parse as p
from app.connectors.http_errors import display_url
from app.connectors.mlflow_api import (
    MAX_BATCH_BYTES,
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)
from app.connectors.mlflow_filters import in_filter, quote_filter_value
from app.connectors.mlflow_tracking import batch_bodies
from app.domain.entities import MetricPoint
from app.domain.errors import ConfigError
from app.services.mlflow_process import find_mlflow_bin

HOSTILE = [
    "plain-name",
    "O'Brien's model",
    'say "hello"',
    "two  spaces",
    "back\\slash",
    "trailing backslash\\",
    "\\'",
    "ünïcødé 模型 🚀",
    "mixed ' \" \\ end",
    "new\nline\ttab",
    "bell\x07 and zero-width\u200b",
    "%_like wildcards_%",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_quoted_value_reads_back_exactly(name: str) -> None:
    # MLflow evaluates IN lists with ast.literal_eval (SearchUtils._parse_list_from_sql_token).
    literal = quote_filter_value(name)
    assert ast.literal_eval(literal) == name
    assert ast.literal_eval(f"({literal}, 'other')") == (name, "other")


def test_quoted_value_keeps_sqlparse_tokens_intact() -> None:
    # sqlparse ends a single-quoted string at the first ' not preceded by a backslash:
    # every quote inside the literal must be escaped, and no backslash left dangling.
    for name in HOSTILE:
        inner = quote_filter_value(name)[1:-1]
        i = 0
        while i < len(inner):
            if inner[i] == "\\":
                assert i + 1 < len(inner), name
                i += 2
                continue
            assert inner[i] != "'", name
            i += 1


def test_in_filter_lists_every_value() -> None:
    assert in_filter("name", ["a", "b'c"]) == "name IN ('a', 'b\\'c')"
    with pytest.raises(ValueError):
        in_filter("name", [])


def test_batch_bodies_respect_mlflow_limits() -> None:
    params = {f"p{i}": "v" for i in range(250)}
    tags = {f"t{i}": "v" * 5000 for i in range(230)}
    metrics = [MetricPoint("loss", float(i), i, 1_700_000_000_000 + i) for i in range(2600)]
    bodies = list(batch_bodies("run", params, metrics, tags))
    for body in bodies:
        assert len(body["params"]) <= MAX_PARAMS_TAGS_PER_BATCH
        assert len(body["tags"]) <= MAX_PARAMS_TAGS_PER_BATCH
        assert len(body["metrics"]) <= MAX_METRICS_PER_BATCH
        assert len(body["params"]) + len(body["tags"]) + len(body["metrics"]) <= (
            MAX_ENTITIES_PER_BATCH
        )
        assert len(json.dumps(body)) < MAX_BATCH_BYTES + 1000
    assert sum(len(b["params"]) for b in bodies) == 250
    assert sum(len(b["tags"]) for b in bodies) == 230
    assert [m["step"] for b in bodies for m in b["metrics"]] == list(range(2600))


def test_batch_bodies_spell_non_finite_values_as_mlflow_does() -> None:
    metrics = [
        MetricPoint("a", math.nan, 0, 1),
        MetricPoint("b", math.inf, 0, 1),
        MetricPoint("c", -math.inf, 0, 1),
    ]
    (body,) = batch_bodies("run", {}, metrics, {})
    assert [m["value"] for m in body["metrics"]] == ["NaN", "Infinity", "-Infinity"]
    json.dumps(body, allow_nan=False)


def test_parse_run_reads_inputs_and_context() -> None:
    run = p.parse_run(
        {
            "info": {"run_uuid": "r1", "experiment_id": "3", "status": "FINISHED", "start_time": 5},
            "data": {
                "metrics": [{"key": "auc", "value": "NaN", "timestamp": "7", "step": 2}],
                "params": [{"key": "lr", "value": "0.1"}],
                "tags": [{"key": "mlflow.user", "value": "ann"}],
            },
            "inputs": {
                "dataset_inputs": [
                    {
                        "tags": [{"key": "mlflow.data.context", "value": "training"}],
                        "dataset": {
                            "name": "d",
                            "digest": "abc",
                            "source_type": "s3",
                            "source": "x",
                        },
                    }
                ]
            },
        }
    )
    assert run.run_id == "r1"
    assert run.user_id == "ann"  # from the tag when info.user_id is empty
    assert math.isnan(run.metrics["auc"].value)
    assert run.metrics["auc"].timestamp == 7
    assert run.datasets[0].context == "training"
    assert run.params == {"lr": "0.1"}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"name": 3, "version": "1"}, "model_version.name"),
        ({"name": "m", "version": "one"}, "version"),
        ({"name": "m", "version": True}, "boolean"),
        ({"name": "m", "version": "1", "tags": {"a": "b"}}, "expected a list"),
        ({"name": "m", "version": "1", "tags": [{"value": "b"}]}, "tags[0].key"),
        ({"name": "m", "version": "1", "aliases": [1]}, "aliases"),
    ],
)
def test_parse_model_version_rejects_garbage(payload: dict[str, object], fragment: str) -> None:
    with pytest.raises(p.MalformedPayload) as info:
        p.parse_model_version(payload)
    assert fragment in info.value.detail


def test_parse_registered_model_aliases() -> None:
    model = p.parse_registered_model(
        {
            "name": "m",
            "aliases": [{"alias": "champion", "version": "3"}],
            "tags": [{"key": "risk_tier", "value": "high"}],
        }
    )
    assert model.aliases == {"champion": 3}
    assert model.tags == {"risk_tier": "high"}


def test_display_url_drops_credentials_and_query() -> None:
    url = "https://bob:hunter22@mlflow.example.com:8443/api/2.0/x?run_id=1#frag"
    assert display_url(url) == "https://mlflow.example.com:8443/api/2.0/x"
    assert display_url("http://u:p@[::1]:5000/health") == "http://[::1]:5000/health"


def test_missing_mlflow_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_mlflow_bin(tmp_path / "nope" / "mlflow")
    assert "make mlflow-venv" in info.value.message
    with pytest.raises(ConfigError):
        find_mlflow_bin(None, {"GAVEL_MLFLOW_BIN": str(tmp_path / "missing")})
