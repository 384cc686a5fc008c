"""Serving endpoints as Gavel sees them: their settings, what a probe found, and errors.

An endpoint is a model server (Open Inference Protocol v2 or MLflow's scoring server)
bound to one registry model and one alias: the version that alias points to is the
one the endpoint is expected to serve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from app.domain.endpoint_metrics import MetricSnapshot, WindowStats
from app.domain.errors import GavelError, UsageError
from app.domain.registry import validate_registry_name

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_INTERVAL_S = 1.0
DEFAULT_INTERVAL_S = 30.0
DEFAULT_TIMEOUT_S = 5.0


class EndpointKind(StrEnum):
    # Open Inference Protocol v2: KServe, MLServer, Triton.
    OIP = "oip"
    # `mlflow models serve`: /ping, /health, /version, /invocations.
    MLFLOW = "mlflow"


@dataclass(frozen=True)
class EndpointConfig:
    """Settings of one endpoint. Holds no secret, only where to find one.

    served_name: the model's name on the server (OIP URLs); defaults to ``model``.
    served_model: for servers that do not report a version (MLflow scoring server):
        the model URI, run id or MLflow model id it was started from.
    version_map: reported label or deployed identifier -> registry version, for
        what the cache cannot resolve (e.g. ``{"blue": 3}``).
    interval_s: seconds between two polls; None uses the poller's global interval.
    infer_request: an OIP infer request body (JSON text) sent by each probe; its
        answer's ``model_version`` says which version served it.
    token_env: environment variable holding a bearer token for the endpoint.
    """

    name: str
    kind: EndpointKind
    url: str
    registry: str
    model: str
    alias: str
    metrics_url: str = ""
    served_name: str = ""
    served_model: str = ""
    version_map: Mapping[str, int] = field(default_factory=dict)
    interval_s: float | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    infer_request: str = ""
    token_env: str = ""

    def __post_init__(self) -> None:
        validate_endpoint_name(self.name)
        for what, url in (("URL", self.url), ("metrics URL", self.metrics_url)):
            if url and not url.startswith(("http://", "https://")):
                raise UsageError(
                    f"The endpoint {what} '{url}' must start with http:// or https://."
                )
        if not self.url:
            raise UsageError(f"The endpoint '{self.name}' needs a URL.")
        validate_registry_name(self.registry)
        if not self.model:
            raise UsageError("An endpoint must be bound to a model: --model REGISTRY/MODEL.")
        if not self.alias:
            raise UsageError("An endpoint must be bound to an alias (e.g. --alias production).")
        if self.interval_s is not None and self.interval_s < MIN_INTERVAL_S:
            raise UsageError(f"The polling interval must be at least {MIN_INTERVAL_S:g} s.")
        if not 0 < self.timeout_s <= 300:
            raise UsageError("The probe timeout must be between 0 and 300 seconds.")
        for key, version in self.version_map.items():
            if not key or isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise UsageError(
                    f"The version map entry '{key}={version}' is not valid: map a non-empty "
                    "label or model identifier to a registry version number (1, 2, ...)."
                )

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    @property
    def model_on_server(self) -> str:
        return self.served_name or self.model

    @property
    def subject(self) -> str:
        """How the endpoint's model is named in the audit ledger (see ledger_query)."""
        return f"model:{self.registry}/{self.model}"


def validate_endpoint_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"'{name}' is not a valid endpoint name: use letters, digits, '.', '_' or '-' "
            "(up to 64 characters, starting with a letter or digit)."
        )


def parse_model_ref(ref: str) -> tuple[str, str]:
    """'REGISTRY/MODEL' -> (registry, model); registry names never contain '/'."""
    registry, sep, model = ref.partition("/")
    if not sep or not registry or not model:
        raise UsageError(f"'{ref}' does not name a model: use REGISTRY/MODEL, e.g. prod/fraud.")
    validate_registry_name(registry)
    return registry, model


def parse_version_map(items: list[str]) -> dict[str, int]:
    """['v1=3', 'runs:/abc/model=2'] -> {'v1': 3, 'runs:/abc/model': 2}; split on the last '='."""
    out: dict[str, int] = {}
    for item in items:
        for part in item.split(","):
            key, sep, value = part.strip().rpartition("=")
            if not sep or not key.strip() or not value.strip().isdigit() or int(value) < 1:
                raise UsageError(
                    f"'{part}' is not a version map entry: write LABEL=VERSION, e.g. v1=3 "
                    "or runs:/<run id>/model=2."
                )
            out[key.strip()] = int(value)
    return out


# --------------------------------------------------------------------------- errors


class EndpointError(GavelError):
    """A serving endpoint could not be probed; the message says why and what to do."""


class EndpointDown(EndpointError):
    """Nothing answers at the endpoint's address (refused, DNS, connection dropped)."""


class EndpointTimeout(EndpointError):
    """The endpoint answered slower than its timeout."""


class EndpointBadResponse(EndpointError):
    """The endpoint answered, but not what its protocol promises (HTML, bad JSON, status)."""


class MetricsMalformed(EndpointError):
    """The metrics URL answered with text that is not the Prometheus exposition format."""


# --------------------------------------------------------------------------- probes


class HealthState(StrEnum):
    UP = "up"  # live and the model is ready
    NOT_READY = "not_ready"  # the server answers but the model is not loaded/ready
    DOWN = "down"  # nothing answers
    TIMEOUT = "timeout"  # slower than the timeout
    BAD_RESPONSE = "bad_response"  # answers with something else than the protocol


class MetricsState(StrEnum):
    OK = "ok"  # scraped and parsed
    NOT_CONFIGURED = "not_configured"  # the endpoint has no metrics URL
    UNAVAILABLE = "unavailable"  # the metrics URL could not be read
    MALFORMED = "malformed"  # not Prometheus text, or no known serving metrics


@dataclass(frozen=True)
class EndpointObservation:
    """What one probe of one endpoint found, before comparing with the registry.

    reported_versions: version labels the server reported for the model (metadata
        ``versions``, an infer answer's ``model_version``, metric labels, or the
        label whose versioned readiness check answered).
    server: e.g. 'mlserver 1.7.1' (OIP server metadata) or 'mlflow 3.17.2' (MLflow's
        own version: the scoring server does not say which model it serves).
    """

    endpoint: str
    at: datetime
    health: HealthState
    reason: str
    probe_s: float
    reported_versions: tuple[str, ...] = ()
    platform: str = ""
    server: str = ""
    metrics: MetricsState = MetricsState.NOT_CONFIGURED
    metrics_reason: str = ""
    snapshot: MetricSnapshot | None = None

    @property
    def up(self) -> bool:
        return self.health is HealthState.UP


@dataclass(frozen=True)
class EndpointSample:
    """One point of an endpoint's history, raw (resolution 0) or merged from ``samples``.

    up_ratio: share of the merged probes that found the endpoint up.
    reason: the last reason it was not up within the point ('' when always up).
    """

    at_ms: int
    resolution_s: int
    samples: int
    up_ratio: float
    reason: str = ""
    probe_s: float | None = None
    stats: WindowStats | None = None


@dataclass(frozen=True)
class EndpointRecord:
    """What the cache holds of an endpoint's last probe (all empty before the first)."""

    name: str
    last_probe_at: datetime | None = None
    health: HealthState | None = None
    health_reason: str = ""
    server: str = ""
    serving_state: str = ""
    serving_reason: str = ""
    served_versions: tuple[int, ...] = ()
    served_label: str = ""
    expected_version: int | None = None
    drift_key: str = ""
    last_scrape: MetricSnapshot | None = None


def url_without_credentials(url: str) -> str:
    """``url`` without user, password, query or fragment (any may carry a secret): what
    may be logged or put in an audit bundle."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
