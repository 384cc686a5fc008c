"""Error types raised by connectors, stores and services.

Every message is a sentence a person can act on: what happened, and what to do.
Messages never contain secrets (tokens, passwords), so they are safe to log and show.
"""

from __future__ import annotations


class GavelError(Exception):
    """Base of every error Gavel expects and explains to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(GavelError):
    """The configuration is missing, malformed or names something that does not exist."""


class UsageError(GavelError):
    """The caller asked for something that makes no sense (bad name, duplicate, ...)."""


class RegistryError(GavelError):
    """Base for failures talking to a model registry."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached (DNS, refused, timeout, connection dropped)."""


class AuthFailed(RegistryError):
    """The registry rejected the credentials (401)."""


class PermissionDenied(RegistryError):
    """The registry understood who we are but refused the operation (403)."""


class NotFound(RegistryError):
    """The registry says the requested object does not exist."""


class AlreadyExists(RegistryError):
    """The registry already holds an object with that name (RESOURCE_ALREADY_EXISTS)."""


class BadResponse(RegistryError):
    """The server answered with something that is not what MLflow promises."""


class ServerError(RegistryError):
    """The registry answered with a 5xx error after retries."""


class SecretUnavailable(GavelError):
    """A secret that a registry needs is not in the keyring, the session or the environment."""


class CacheError(GavelError):
    """The local cache database could not be read or written (busy, full, read-only)."""


class CacheCorrupt(CacheError):
    """The local cache file is damaged or is not a Gavel cache."""


class StoreUnreachable(CacheError):
    """A database server (the team ledger's PostgreSQL) did not answer: refused, dropped
    or timed out. What was read from it before stays true; nothing was written."""


class Cancelled(GavelError):
    """The user cancelled a long-running operation."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)
