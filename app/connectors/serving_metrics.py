"""Prometheus text from model servers, read into Gavel's MetricSnapshot.

The text is parsed by prometheus_client's own parser; this module only picks the
series of one model out of what MLServer or Triton expose:

MLServer (1.7): ``model_infer_request_success_total`` / ``_failure_total`` counters
and the ``model_infer_request_duration`` summary (``_count``/``_sum``), labelled
``model`` and ``version`` (the version asked for in the URL, 'None' otherwise), plus
its REST server's ``rest_server_request_duration_seconds`` histogram labelled by
route ``path``: the only histogram, so percentiles cover every model on the server.

Triton: ``nv_inference_request_success`` / ``_failure`` counters and the cumulative
``nv_inference_request_duration_us`` (microseconds), labelled ``model``/``version``.
"""

from __future__ import annotations

import math
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

from app.domain.endpoint_metrics import MetricSnapshot
from app.domain.endpoints import MetricsMalformed

MLSERVER_SUCCESS = "model_infer_request_success"
MLSERVER_FAILURE = "model_infer_request_failure"
MLSERVER_DURATION = "model_infer_request_duration"
MLSERVER_REST_HISTOGRAM = "rest_server_request_duration_seconds"
TRITON_SUCCESS = "nv_inference_request_success"
TRITON_FAILURE = "nv_inference_request_failure"
TRITON_DURATION_US = "nv_inference_request_duration_us"

# Labels servers put on a version series when the request named none.
_NO_VERSION = {"", "none", "null", "default"}


class UnrecognisedMetrics(MetricsMalformed):
    """Valid Prometheus text, but without the serving metrics of a server Gavel knows."""


def parse_serving_metrics(text: str, model: str, at: float, where: str) -> MetricSnapshot:
    """The serving counters of ``model`` in Prometheus text scraped at ``at`` from ``where``.

    Raises MetricsMalformed when the text is not Prometheus exposition format, and
    UnrecognisedMetrics when it holds neither MLServer's nor Triton's metrics.
    """
    try:
        samples = [
            (s.name, s.labels, float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise MetricsMalformed(
            f"The metrics at {where} are not Prometheus text ({_short(exc)}); check that "
            "the metrics URL points at the server's /metrics and not at a web page."
        ) from None
    names = {name for name, _, _ in samples}
    if any(n.startswith("nv_inference_") for n in names):
        return _triton(samples, model, at)
    if any(n.startswith((MLSERVER_SUCCESS, MLSERVER_FAILURE, "rest_server_")) for n in names):
        return _mlserver(samples, model, at)
    raise UnrecognisedMetrics(
        f"The metrics at {where} hold no serving metrics Gavel knows (MLServer's "
        "model_infer_request_* or Triton's nv_inference_*); check the metrics URL."
    )


Sample = tuple[str, dict[str, str], float]


def _base(name: str) -> str:
    # The parser names counter samples '<family>_total' even when the text said otherwise.
    return name.removesuffix("_total")


def _for_model(samples: list[Sample], model: str) -> list[Sample]:
    return [s for s in samples if s[1].get("model", model) == model]


def _sum(samples: list[Sample], name: str) -> float:
    return sum(v for n, _, v in samples if _base(n) == name and math.isfinite(v))


def _versions(samples: list[Sample], name: str) -> tuple[str, ...]:
    found = {
        labels.get("version", "")
        for n, labels, _ in samples
        if _base(n) == name and labels.get("version", "").lower() not in _NO_VERSION
    }
    return tuple(sorted(found))


def _mlserver(samples: list[Sample], model: str, at: float) -> MetricSnapshot:
    mine = _for_model(samples, model)
    buckets: dict[float, float] = defaultdict(float)
    for name, labels, value in samples:
        if name == MLSERVER_REST_HISTOGRAM + "_bucket" and labels.get("path", "").endswith(
            "/infer"
        ):
            bound = _bound(labels.get("le", ""))
            if bound is not None:
                buckets[bound] += value
    return MetricSnapshot(
        at=at,
        flavour="mlserver",
        success=_sum(mine, MLSERVER_SUCCESS),
        failure=_sum(mine, MLSERVER_FAILURE),
        latency_sum_s=_sum(mine, MLSERVER_DURATION + "_sum"),
        latency_count=_sum(mine, MLSERVER_DURATION + "_count"),
        buckets=tuple(sorted(buckets.items())) if math.inf in buckets else (),
        version_labels=_versions(mine, MLSERVER_SUCCESS),
    )


def _triton(samples: list[Sample], model: str, at: float) -> MetricSnapshot:
    mine = _for_model(samples, model)
    return MetricSnapshot(
        at=at,
        flavour="triton",
        success=_sum(mine, TRITON_SUCCESS),
        failure=_sum(mine, TRITON_FAILURE),
        latency_sum_s=_sum(mine, TRITON_DURATION_US) / 1e6,
        # Triton keeps no latency count: the window uses the request count.
        latency_count=0.0,
        version_labels=_versions(mine, TRITON_SUCCESS),
    )


def _bound(le: str) -> float | None:
    try:
        return float(le)  # '+Inf' included
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 80 else text[:79] + "…"
