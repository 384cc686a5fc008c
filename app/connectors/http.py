"""HTTP plumbing shared by registry connectors: sessions, auth, timeouts, retries.

Nothing from `requests` leaks out of this module: every failure becomes a domain
error (see http_errors) that names the registry and URL and never the secret.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from app import __version__
from app.connectors.http_errors import ErrorTranslator, JsonObject
from app.domain.errors import BadResponse, SecretUnavailable
from app.domain.registry import AuthKind, RegistryConfig

log = logging.getLogger("gavel.connectors.http")

QueryParams = Mapping[str, str | int | list[str]]

DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 0.3
# 429 and the 5xx a proxy or an overloaded server sends; 501 (not implemented) is final.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class BearerAuth(requests.auth.AuthBase):
    """Bearer token header; an AuthBase so a ~/.netrc entry cannot replace it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r


def read_retry(retries: int, backoff_s: float) -> Retry:
    """Retry policy for idempotent calls: connection errors, timeouts, 429 and 5xx."""
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=retries,
        # The read session only carries idempotent calls, POSTs such as runs/search included.
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_s,
        backoff_max=10.0,
        respect_retry_after_header=True,
        # Hand the last error response back so its body can explain the failure.
        raise_on_status=False,
    )


def write_retry(retries: int, backoff_s: float) -> Retry:
    """Retry policy for writes: only where the server certainly did not act on the request.

    A refused connection or a 429 means nothing was done; a timeout or a 5xx after the
    request went out may mean it was, and creating a run or a version twice is worse
    than reporting the failure.
    """
    return Retry(
        total=retries,
        connect=retries,
        read=0,
        status=retries,
        other=0,
        allowed_methods=None,
        status_forcelist=frozenset({429}),
        backoff_factor=backoff_s,
        backoff_max=10.0,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def build_session(
    cfg: RegistryConfig, secret: str | None, *, retry: Retry, pool_size: int = 10
) -> requests.Session:
    """A session carrying the registry's auth, TLS settings and retry policy.

    secret: the password (basic auth) or token (bearer); ignored when cfg.auth is NONE.
    """
    session = requests.Session()
    session.headers.update({"User-Agent": f"gavel/{__version__}", "Accept": "application/json"})
    if cfg.auth is AuthKind.BASIC:
        session.auth = (cfg.username, _require_secret(cfg, secret))
    elif cfg.auth is AuthKind.BEARER:
        session.auth = BearerAuth(_require_secret(cfg, secret))
    if not cfg.verify_tls:
        session.verify = False
        # The user turned verification off for this registry on purpose; say it once in
        # our log instead of one urllib3 warning per request.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        log.warning("TLS certificate verification is off for registry '%s'.", cfg.name)
    elif cfg.ca_bundle:
        session.verify = cfg.ca_bundle
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _require_secret(cfg: RegistryConfig, secret: str | None) -> str:
    if not secret:
        what = "password" if cfg.auth is AuthKind.BASIC else "token"
        raise SecretUnavailable(
            f"The registry '{cfg.name}' needs a {what} but none was given; "
            "open Registry → Edit… and enter it."
        )
    return secret


class RegistryHttp:
    """Blocking JSON-over-HTTP access to one registry, with domain errors only.

    Two sessions share the settings: one retries idempotent calls, the other only
    retries writes where the server certainly did nothing (see write_retry).
    """

    def __init__(
        self,
        cfg: RegistryConfig,
        secret: str | None,
        *,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        pool_size: int = 10,
    ) -> None:
        self.cfg = cfg
        self.attempts = retries + 1
        self.errors = ErrorTranslator(cfg, secret, self.attempts)
        self._read = build_session(
            cfg, secret, retry=read_retry(retries, backoff_s), pool_size=pool_size
        )
        self._write = build_session(
            cfg, secret, retry=write_retry(retries, backoff_s), pool_size=pool_size
        )
        self._timeout = (cfg.timeout_s, cfg.timeout_s)
        self._count_lock = threading.Lock()
        self._requests_sent = 0

    @property
    def requests_sent(self) -> int:
        """Requests sent so far, not counting urllib3's retries."""
        return self._requests_sent

    def close(self) -> None:
        self._read.close()
        self._write.close()

    def url(self, path: str) -> str:
        return self.cfg.base_url + path

    # -- requests -------------------------------------------------------------------

    def get_json(self, path: str, params: QueryParams | None = None) -> JsonObject:
        """GET a JSON object; retried on transient failures."""
        return self.parse_json(self.send("GET", path, params=params, idempotent=True))

    def post_json(
        self, path: str, body: Mapping[str, Any], *, idempotent: bool = False
    ) -> JsonObject:
        """POST a JSON body; idempotent=True for read-only POSTs such as runs/search."""
        return self.parse_json(self.send("POST", path, body=body, idempotent=idempotent))

    def delete_json(self, path: str, body: Mapping[str, Any]) -> JsonObject:
        # MLflow reads DELETE arguments from a JSON body, as its own client sends them.
        return self.parse_json(self.send("DELETE", path, body=body))

    def send(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        body: Mapping[str, Any] | None = None,
        idempotent: bool = False,
        check: bool = True,
    ) -> requests.Response:
        """Send one request; transport failures and (with check) error statuses raise.

        The body is read completely here, so a connection dropped mid-answer surfaces
        as RegistryUnavailable and never later as a requests exception.
        """
        session = self._read if idempotent else self._write
        url = self.url(path)
        with self._count_lock:
            self._requests_sent += 1
        try:
            resp = session.request(method, url, params=params, json=body, timeout=self._timeout)
            _ = resp.content
        except requests.RequestException as exc:
            raise self.errors.transport_error(exc, method, url) from None
        if check:
            self.errors.check_status(resp)
        return resp

    def parse_json(self, resp: requests.Response) -> JsonObject:
        """The response body as a JSON object, or BadResponse saying what came instead."""
        return self.errors.parse_json(resp)

    def bad_payload(self, path: str, detail: str) -> BadResponse:
        """BadResponse for JSON that parsed but does not have MLflow's shape."""
        return self.errors.bad_payload(self.url(path), detail)
