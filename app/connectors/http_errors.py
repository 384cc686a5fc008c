"""Translating HTTP answers and transport failures into Gavel's domain errors.

Every message names the registry and the URL (without credentials or query), says
what to do, and never contains the secret.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from app.domain.errors import (
    AlreadyExists,
    AuthFailed,
    BadResponse,
    NotFound,
    PermissionDenied,
    RegistryError,
    RegistryUnavailable,
    ServerError,
)
from app.domain.registry import RegistryConfig

JsonObject = dict[str, Any]

# MLflow's own texts for its host-header (DNS rebinding) and CORS protection.
_HOST_PROTECTION_MARK = "invalid host header"
_CORS_PROTECTION_MARK = "cross-origin request blocked"
_SNIPPET_CHARS = 200


def display_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe and short enough for a message."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"  # IPv6 literal
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class ErrorTranslator:
    """Domain errors for one registry; attempts is how often a read is tried in all."""

    def __init__(self, cfg: RegistryConfig, secret: str | None, attempts: int) -> None:
        self.cfg = cfg
        self._secret = secret or ""
        self.attempts = attempts

    def check_status(self, resp: requests.Response) -> None:
        """Raise the domain error an HTTP error status stands for; 2xx passes."""
        status = resp.status_code
        if 200 <= status < 300:
            return
        where = self._where(resp)
        code, server_msg = self._error_details(resp)
        detail = f" ({server_msg})" if server_msg else ""
        if status == 401:
            raise AuthFailed(
                f"The registry '{self.cfg.name}' at {where} rejected the credentials "
                "(HTTP 401); open Registry → Edit… and check the username and "
                "password or token."
            )
        if status == 403:
            raise self._forbidden(resp, where, server_msg)
        if code == "RESOURCE_DOES_NOT_EXIST" or status == 404:
            if code == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(
                    f"The registry '{self.cfg.name}' at {where} has no such object{detail}; "
                    "it may have been deleted or renamed: refresh and try again."
                )
            raise NotFound(
                f"The registry '{self.cfg.name}' has no endpoint {where} (HTTP 404); "
                "check that the URL points at an MLflow server, including any path prefix."
            )
        if code == "RESOURCE_ALREADY_EXISTS":
            raise AlreadyExists(
                f"The registry '{self.cfg.name}' at {where} already has that object{detail}; "
                "pick another name or use the existing one."
            )
        tries = _attempts_made(resp)
        after = f" after {tries} attempts" if tries > 1 else ""
        if status == 429:
            raise RegistryUnavailable(
                f"The registry '{self.cfg.name}' at {where} is limiting requests (HTTP 429) "
                f"and refused{after}; try again later."
            )
        if status >= 500:
            raise ServerError(
                f"The registry '{self.cfg.name}' failed with HTTP {status} at {where}{after}"
                f"{detail}; check the MLflow server's log, or try again later."
            )
        label = f"HTTP {status} {code}".strip()
        raise RegistryError(
            f"The registry '{self.cfg.name}' rejected the request to {where} ({label})"
            f"{': ' + server_msg if server_msg else ''}; check the values sent."
        )

    def parse_json(self, resp: requests.Response) -> JsonObject:
        """The response body as a JSON object, or BadResponse saying what came instead."""
        where = self._where(resp)
        if _looks_like_html(resp):
            raise BadResponse(
                f"The registry '{self.cfg.name}' answered {where} with an HTML page instead "
                "of JSON; check that the URL points at the MLflow server itself and not at a "
                "login portal or a proxy's error page."
            )
        try:
            payload = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError):
            raise BadResponse(
                f"The registry '{self.cfg.name}' answered {where} with truncated or malformed "
                f"JSON ({len(resp.content)} bytes); try again, and check any proxy between "
                "Gavel and the server if it persists."
            ) from None
        if not isinstance(payload, dict):
            raise BadResponse(
                f"The registry '{self.cfg.name}' answered {where} with JSON that is not an "
                "object; check that the URL points at an MLflow server."
            )
        return payload

    def bad_payload(self, url: str, detail: str) -> BadResponse:
        """BadResponse for JSON that parsed but does not have MLflow's shape."""
        return BadResponse(
            f"The registry '{self.cfg.name}' answered {display_url(url)} with "
            f"data Gavel cannot read ({self.scrub(detail)}); check that the URL points at an "
            "MLflow 2.x or 3.x server."
        )

    def scrub(self, text: str) -> str:
        """Remove the secret from text that came from elsewhere (server bodies, URLs)."""
        if len(self._secret) >= 3:
            text = text.replace(self._secret, "•••")
        return text

    def _where(self, resp: requests.Response) -> str:
        return display_url(resp.url or self.cfg.base_url)

    def _error_details(self, resp: requests.Response) -> tuple[str, str]:
        """(MLflow error_code, short message) from an error body, JSON or text."""
        code, message = "", ""
        try:
            payload = json.loads(resp.content)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if isinstance(payload, dict):
            code = str(payload.get("error_code") or "")
            message = str(payload.get("message") or "")
        elif not _looks_like_html(resp):
            message = resp.text
        message = re.sub(r"\s+", " ", message).strip()
        if len(message) > _SNIPPET_CHARS:
            message = message[: _SNIPPET_CHARS - 1] + "…"
        return code, self.scrub(message)

    def _forbidden(self, resp: requests.Response, where: str, server_msg: str) -> RegistryError:
        text = resp.text.lower()
        host = urlsplit(self.cfg.base_url).netloc.rpartition("@")[2]
        if _HOST_PROTECTION_MARK in text:
            return PermissionDenied(
                f"The registry '{self.cfg.name}' at {where} refused the Host header '{host}' "
                "(MLflow's DNS-rebinding protection); start the MLflow server with "
                f"--allowed-hosts including '{host}' (or set MLFLOW_SERVER_ALLOWED_HOSTS), or "
                "connect through an address it already allows."
            )
        if _CORS_PROTECTION_MARK in text:
            return PermissionDenied(
                f"The registry '{self.cfg.name}' at {where} blocked the request as "
                "cross-origin (MLflow's CORS protection); a proxy in between is adding an "
                "Origin header: remove it, or start MLflow with --cors-allowed-origins."
            )
        detail = f" ({server_msg})" if server_msg else ""
        return PermissionDenied(
            f"The registry '{self.cfg.name}' refused this operation at {where} for this "
            f"user (HTTP 403){detail}; ask an MLflow administrator for the permission."
        )

    def transport_error(self, exc: requests.RequestException, method: str, url: str) -> Exception:
        name, where = self.cfg.name, display_url(url)
        timeout = f"{self.cfg.timeout_s:g}"
        # After retries requests wraps urllib3's MaxRetryError; its reason says what failed.
        reason = _retry_reason(exc)
        if isinstance(exc, requests.exceptions.SSLError) or isinstance(
            reason, urllib3.exceptions.SSLError
        ):
            return RegistryUnavailable(
                f"The TLS certificate of the registry '{name}' at {where} could not be "
                "verified; set the CA bundle in Registry → Edit…, or fix the certificate."
            )
        # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError in urllib3 2.
        if isinstance(exc, requests.exceptions.ConnectTimeout) or (
            isinstance(reason, urllib3.exceptions.ConnectTimeoutError)
            and not isinstance(reason, urllib3.exceptions.NewConnectionError)
        ):
            return RegistryUnavailable(
                f"The registry '{name}' at {where} did not accept a connection within "
                f"{timeout} s; check the URL, the network and that the server is running."
            )
        if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(
            reason, urllib3.exceptions.ReadTimeoutError
        ):
            return RegistryUnavailable(
                f"The registry '{name}' did not answer {method} {where} within {timeout} s; "
                "the server may be overloaded: try again, or raise the timeout in "
                "Registry → Edit…."
            )
        if isinstance(
            exc,
            requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError,
        ):
            return RegistryUnavailable(
                f"The registry '{name}' dropped the connection in the middle of its answer to "
                f"{method} {where}; try again, and check any proxy in between if it persists."
            )
        if isinstance(exc, requests.exceptions.RetryError):
            return ServerError(
                f"The registry '{name}' kept failing at {where} after {self.attempts} "
                "attempts; check the MLflow server's log, or try again later."
            )
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
            return RegistryUnavailable(
                f"The URL of the registry '{name}' is not valid ({where}); correct it in "
                "Registry → Edit…."
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            if isinstance(reason, urllib3.exceptions.ProtocolError) or _is_dropped(exc):
                return RegistryUnavailable(
                    f"The registry '{name}' closed the connection without answering {method} "
                    f"{where}; try again, and check any proxy in between if it persists."
                )
            return RegistryUnavailable(
                f"Cannot connect to the registry '{name}' at {where}; check that the MLflow "
                "server is running and that the URL is right."
            )
        return RegistryUnavailable(
            f"The request {method} {where} to the registry '{name}' failed "
            f"({type(exc).__name__}); try again."
        )


def _attempts_made(resp: requests.Response) -> int:
    """How often urllib3 sent this request, retries included (writes mostly once)."""
    retries = getattr(resp.raw, "retries", None)
    history = getattr(retries, "history", None)
    return 1 + len(history) if isinstance(history, tuple) else 1


def _retry_reason(exc: requests.RequestException) -> BaseException | None:
    first = exc.args[0] if exc.args else None
    if isinstance(first, urllib3.exceptions.MaxRetryError):
        return first.reason
    return None


def _looks_like_html(resp: requests.Response) -> bool:
    if "html" in resp.headers.get("Content-Type", "").lower():
        return True
    head = resp.content[:64].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<head", b"<body"))


def _is_dropped(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the server (or a proxy) accepted the connection, then hung up."""
    text = repr(exc.args)
    return any(
        mark in text
        for mark in ("RemoteDisconnected", "Connection aborted", "IncompleteRead", "reset by peer")
    )
