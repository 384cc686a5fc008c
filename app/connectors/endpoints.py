"""HTTP client for serving endpoints: Open Inference Protocol v2 and MLflow's scoring server.

A probe reports what it sees and never raises for the endpoint's own failures: a
server that is down, too slow, answers with an HTML page, or serves malformed
metrics becomes an EndpointObservation whose state and reason say so. Requests are
not retried: the poller probes again at the next interval, and a retry would only
hide the slowness the probe is there to measure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from app import __version__
from app.connectors.http_errors import _is_dropped, _looks_like_html, _retry_reason, display_url
from app.connectors.serving_metrics import UnrecognisedMetrics, parse_serving_metrics
from app.domain.endpoint_metrics import MetricSnapshot
from app.domain.endpoints import (
    EndpointBadResponse,
    EndpointConfig,
    EndpointDown,
    EndpointError,
    EndpointKind,
    EndpointObservation,
    EndpointTimeout,
    HealthState,
    MetricsMalformed,
    MetricsState,
)

# At most this many versioned readiness checks per probe when a server names no version.
MAX_VERSION_CHECKS = 6
_MAX_METRICS_BYTES = 8_000_000


class EndpointClient:
    """Blocking access to one endpoint; thread-safe for one probe at a time.

    token: bearer token, when the endpoint needs one.
    """

    def __init__(
        self,
        cfg: EndpointConfig,
        token: str | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cfg = cfg
        self._clock = clock
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": f"gavel/{__version__}"})
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._timeout = (cfg.timeout_s, cfg.timeout_s)
        self._server = ""

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the probe -----------------------------------------------------------------------

    def probe(self, candidate_labels: Sequence[str] = ()) -> EndpointObservation:
        """Check health, learn the served version, scrape metrics; never raises for the endpoint.

        candidate_labels: version labels to try with OIP's versioned readiness check
            when the server's metadata names no version (expected version first).
        """
        at = self._clock()
        started = time.perf_counter()
        try:
            if self.cfg.kind is EndpointKind.OIP:
                health, reason, versions, platform = self._probe_oip(candidate_labels)
            else:
                health, reason, versions, platform = self._probe_mlflow()
        except EndpointTimeout as exc:
            return self._failed(at, started, HealthState.TIMEOUT, exc.message)
        except EndpointDown as exc:
            return self._failed(at, started, HealthState.DOWN, exc.message)
        except EndpointError as exc:
            return self._failed(at, started, HealthState.BAD_RESPONSE, exc.message)
        metrics, metrics_reason, snapshot = self._scrape_safely()
        if not versions and snapshot is not None:
            versions = list(snapshot.version_labels)
        return EndpointObservation(
            endpoint=self.cfg.name,
            at=at,
            health=health,
            reason=reason,
            probe_s=time.perf_counter() - started,
            reported_versions=tuple(versions),
            platform=platform,
            server=self._server,
            metrics=metrics,
            metrics_reason=metrics_reason,
            snapshot=snapshot,
        )

    def _failed(
        self, at: datetime, started: float, health: HealthState, reason: str
    ) -> EndpointObservation:
        metrics = (
            MetricsState.NOT_CONFIGURED if not self.cfg.metrics_url else MetricsState.UNAVAILABLE
        )
        return EndpointObservation(
            endpoint=self.cfg.name,
            at=at,
            health=health,
            reason=reason,
            probe_s=time.perf_counter() - started,
            server=self._server,
            metrics=metrics,
            metrics_reason="Not scraped: the endpoint itself did not answer properly."
            if self.cfg.metrics_url
            else "",
        )

    def _probe_oip(
        self, candidate_labels: Sequence[str]
    ) -> tuple[HealthState, str, list[str], str]:
        name = self.cfg.model_on_server
        live = self.get("/v2/health/live")
        if live.status_code != 200:
            return (
                HealthState.NOT_READY,
                f"Endpoint '{self.cfg.name}' reports it is not live (HTTP {live.status_code}).",
                [],
                "",
            )
        if not self._server:
            self._server = self._oip_server()
        # /v2/health/ready answers 200 even when a model failed to load: ask the model.
        model_path = f"/v2/models/{quote(name, safe='')}"
        ready = self.get(model_path + "/ready")
        if ready.status_code != 200:
            why = "is not loaded" if ready.status_code == 404 else "is not ready"
            return (
                HealthState.NOT_READY,
                f"Endpoint '{self.cfg.name}' is live but its model '{name}' {why} "
                f"(HTTP {ready.status_code}); check the server's log.",
                [],
                "",
            )
        meta = self.json(self.get(model_path), model_path)
        versions = [str(v) for v in meta.get("versions") or [] if str(v).strip()]
        platform = str(meta.get("platform") or "")
        if self.cfg.infer_request:
            answered = self._infer(model_path)
            if answered and answered not in versions:
                versions.insert(0, answered)
        if not versions:
            for label in list(dict.fromkeys(candidate_labels))[:MAX_VERSION_CHECKS]:
                path = f"{model_path}/versions/{quote(label, safe='')}/ready"
                if self.get(path).status_code == 200:
                    versions.append(label)
                    break
        return (
            HealthState.UP,
            f"Endpoint '{self.cfg.name}' is up; model '{name}' is ready.",
            versions,
            platform,
        )

    def _oip_server(self) -> str:
        try:
            meta = self.json(self.get("/v2"), "/v2")
        except EndpointError:
            return ""
        return " ".join(str(meta.get(k) or "") for k in ("name", "version")).strip()

    def _infer(self, model_path: str) -> str:
        """Send the configured infer request; the version that answered it, or ''."""
        path = model_path + "/infer"
        resp = self._send("POST", self.cfg.base_url + path, data=self.cfg.infer_request)
        if resp.status_code != 200:
            raise EndpointBadResponse(
                f"Endpoint '{self.cfg.name}' refused the configured infer request "
                f"(HTTP {resp.status_code} at {display_url(resp.url)}); fix the request or "
                "remove it from the endpoint."
            )
        return str(self.json(resp, path).get("model_version") or "")

    def _probe_mlflow(self) -> tuple[HealthState, str, list[str], str]:
        ping = self.get("/ping")
        if ping.status_code != 200:
            return (
                HealthState.NOT_READY,
                f"Endpoint '{self.cfg.name}' answers but its model is not loaded "
                f"(HTTP {ping.status_code} at /ping).",
                [],
                "",
            )
        # /version is MLflow's own version, not the model's: the server never says which
        # model it serves (see EndpointConfig.served_model).
        version = self.get("/version")
        if version.status_code == 200:
            self._server = f"mlflow {version.text.strip().strip(chr(34))}"
        return HealthState.UP, f"Endpoint '{self.cfg.name}' is up; its model is loaded.", [], ""

    def _scrape_safely(self) -> tuple[MetricsState, str, MetricSnapshot | None]:
        if not self.cfg.metrics_url:
            return MetricsState.NOT_CONFIGURED, "", None
        try:
            return MetricsState.OK, "", self.scrape()
        except UnrecognisedMetrics as exc:
            return MetricsState.MALFORMED, exc.message, None
        except MetricsMalformed as exc:
            return MetricsState.MALFORMED, exc.message, None
        except EndpointError as exc:
            return MetricsState.UNAVAILABLE, exc.message, None

    # -- requests ------------------------------------------------------------------------

    def get(self, path: str) -> requests.Response:
        """GET a path of the endpoint; transport failures raise, statuses are returned."""
        resp = self._send("GET", self.cfg.base_url + path)
        if _looks_like_html(resp):
            raise EndpointBadResponse(
                f"Endpoint '{self.cfg.name}' answered {display_url(resp.url)} with an HTML "
                "page instead of the serving protocol; check that the URL points at the model "
                "server itself and not at a login portal or a proxy's error page."
            )
        return resp

    def json(self, resp: requests.Response, path: str) -> dict[str, Any]:
        """The JSON object of a 200 answer, or EndpointBadResponse saying what came instead."""
        where = display_url(resp.url or self.cfg.base_url + path)
        if resp.status_code != 200:
            raise EndpointBadResponse(
                f"Endpoint '{self.cfg.name}' answered {where} with HTTP {resp.status_code}; "
                "check the model name and the server's log."
            )
        if _looks_like_html(resp):
            raise EndpointBadResponse(
                f"Endpoint '{self.cfg.name}' answered {where} with an HTML page instead of "
                "JSON; check that the URL points at the model server itself."
            )
        try:
            payload = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError):
            raise EndpointBadResponse(
                f"Endpoint '{self.cfg.name}' answered {where} with malformed JSON "
                f"({len(resp.content)} bytes); check any proxy in between."
            ) from None
        if not isinstance(payload, dict):
            raise EndpointBadResponse(
                f"Endpoint '{self.cfg.name}' answered {where} with JSON that is not an object; "
                "check that it speaks the Open Inference Protocol."
            )
        return payload

    def scrape(self) -> MetricSnapshot:
        """Read and parse the metrics URL; MetricsMalformed or EndpointError on failure."""
        url = self.cfg.metrics_url
        at = self._clock()
        resp = self._send("GET", url)
        if resp.status_code != 200:
            raise EndpointBadResponse(
                f"The metrics URL of endpoint '{self.cfg.name}' answered HTTP "
                f"{resp.status_code} at {display_url(url)}; check the metrics URL."
            )
        body = resp.content
        if len(body) > _MAX_METRICS_BYTES:
            raise MetricsMalformed(
                f"The metrics at {display_url(url)} are larger than "
                f"{_MAX_METRICS_BYTES // 1_000_000} MB; point Gavel at a narrower metrics URL."
            )
        if b"<html" in body[:256].lower() or b"<!doctype" in body[:256].lower():
            raise MetricsMalformed(
                f"The metrics URL of endpoint '{self.cfg.name}' ({display_url(url)}) answered "
                "with an HTML page instead of Prometheus text; check the metrics URL."
            )
        text = body.decode("utf-8", errors="replace")
        return parse_serving_metrics(
            text, self.cfg.model_on_server, at.timestamp(), display_url(url)
        )

    def _send(self, method: str, url: str, data: str | None = None) -> requests.Response:
        headers = {"Content-Type": "application/json"} if data is not None else None
        try:
            resp = self._session.request(
                method, url, data=data, headers=headers, timeout=self._timeout
            )
            _ = resp.content  # read it all here, so a cut connection raises here
            return resp
        except requests.RequestException as exc:
            raise self._transport_error(exc, url) from None

    def _transport_error(self, exc: requests.RequestException, url: str) -> EndpointError:
        name, where, timeout = self.cfg.name, display_url(url), f"{self.cfg.timeout_s:g}"
        reason = _retry_reason(exc)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return EndpointTimeout(
                f"Endpoint '{name}' did not accept a connection within {timeout} s at "
                f"{where}; check the network, or raise its timeout."
            )
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return EndpointTimeout(
                f"Endpoint '{name}' is too slow: {where} did not answer within {timeout} s; "
                "the server may be overloaded, or raise its timeout."
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return EndpointDown(
                f"The TLS certificate of endpoint '{name}' at {where} could not be verified."
            )
        if isinstance(
            exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
        ):
            return EndpointBadResponse(
                f"Endpoint '{name}' dropped the connection in the middle of its answer at "
                f"{where}; check any proxy in between."
            )
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
            return EndpointDown(f"The URL of endpoint '{name}' is not valid ({where}).")
        if isinstance(exc, requests.exceptions.ConnectionError):
            if isinstance(reason, urllib3.exceptions.ProtocolError) or _is_dropped(exc):
                return EndpointDown(
                    f"Endpoint '{name}' closed the connection without answering at {where}; "
                    "check that the server is healthy."
                )
            return EndpointDown(
                f"Endpoint '{name}' is down: nothing answers at {where}; check that the model "
                "server is running and that the URL is right."
            )
        return EndpointDown(
            f"The request to endpoint '{name}' at {where} failed ({type(exc).__name__})."
        )
