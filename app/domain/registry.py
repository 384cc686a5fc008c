"""What a registry is to Gavel: its connection settings and what probing it found."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.errors import UsageError
from app.domain.urls import reject_credentials_in_url

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AuthKind(StrEnum):
    NONE = "none"
    BASIC = "basic"
    BEARER = "bearer"


@dataclass(frozen=True)
class RegistryConfig:
    """Connection settings of one registry. Holds no secret, only where to find it.

    secret_env: name of an environment variable holding the password/token; when
    empty the secret is looked up in the keyring (or the session store).
    """

    name: str
    url: str
    auth: AuthKind = AuthKind.NONE
    username: str = ""
    secret_env: str = ""
    verify_tls: bool = True
    ca_bundle: str = ""
    timeout_s: float = 15.0
    is_demo: bool = False

    def __post_init__(self) -> None:
        validate_registry_name(self.name)
        # Before any message that names the URL, so a password is never echoed.
        reject_registry_url_credentials(self.url)
        if not self.url.startswith(("http://", "https://")):
            raise UsageError(f"The registry URL '{self.url}' must start with http:// or https://.")
        if self.auth is AuthKind.BASIC and not self.username:
            raise UsageError("Basic authentication needs a username.")

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")


def validate_registry_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise UsageError(
            f"'{name}' is not a valid registry name: use letters, digits, '.', '_' or '-' "
            "(up to 64 characters, starting with a letter or digit)."
        )


def reject_registry_url_credentials(url: str) -> None:
    """UsageError when a registry URL carries a user name or password (see app.domain.urls)."""
    reject_credentials_in_url(
        url, "The registry URL", "use --username/--password-env (or the dialog's fields)"
    )


@dataclass(frozen=True)
class ConnectionReport:
    """What 'Test connection' found, step by step."""

    reachable: bool
    is_mlflow: bool
    auth_ok: bool
    server_version: str
    model_count: int | None
    message: str


class LinkState(StrEnum):
    """Whether a registry answers now, as the last liveness check found it."""

    ONLINE = "online"
    OFFLINE = "offline"
    AUTH_FAILED = "auth failed"
    # Not checked in this session yet: nothing from an earlier session counts as current.
    UNCHECKED = "not checked yet"


@dataclass(frozen=True)
class RegistryLink:
    """One registry's liveness: its state, when it was checked, and what was seen."""

    registry: str
    state: LinkState
    checked_at: datetime | None = None
    message: str = ""
