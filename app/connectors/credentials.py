"""Where registry secrets live: the OS keyring, or this session only when there is none.

Nothing here logs or puts a secret into an exception message; only key names appear.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import keyring
import keyring.backends.fail
import keyring.errors

from app.domain.errors import SecretUnavailable
from app.domain.registry import AuthKind, RegistryConfig

log = logging.getLogger("gavel.connectors.credentials")

SERVICE = "gavel"
# What a broken or locked backend raises: keyring's own errors (NoKeyringError is also a
# RuntimeError), and D-Bus/OS failures surfacing from the platform backends.
_BACKEND_FAILURES: tuple[type[Exception], ...] = (
    keyring.errors.KeyringError,
    RuntimeError,
    OSError,
)


def registry_secret_key(registry_name: str) -> str:
    """The keyring entry holding a registry's password or token."""
    return f"registry:{registry_name}"


class CredentialStore:
    """Secrets by key in the OS keyring, falling back to memory for this session.

    backend: a keyring backend; default keyring.get_keyring(). The fail backend (no
    keyring installed) or a backend that raises switches the store to session-only.
    """

    def __init__(self, backend: Any | None = None, *, service: str = SERVICE) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._session: dict[str, str] = {}
        self._backend: Any = backend if backend is not None else _default_backend()
        self._persistent = self._backend is not None and not isinstance(
            self._backend, keyring.backends.fail.Keyring
        )
        if not self._persistent:
            log.warning("No usable system keyring: secrets are kept for this session only.")

    @property
    def persistent(self) -> bool:
        """True while secrets go to the OS keyring and outlive this session."""
        return self._persistent

    def describe(self) -> str:
        """One sentence for the UI about where secrets are kept."""
        if self._persistent:
            name = getattr(self._backend, "name", type(self._backend).__name__)
            return f"Secrets are kept in the system keyring ({name})."
        return "No system keyring is available: secrets are kept for this session only."

    def get(self, key: str) -> str | None:
        with self._lock:
            if key in self._session:
                return self._session[key]
            if not self._persistent:
                return None
            try:
                value = self._backend.get_password(self._service, key)
            except _BACKEND_FAILURES as exc:
                self._fall_back("read", key, exc)
                return None
            return value if isinstance(value, str) and value else None

    def set(self, key: str, secret: str) -> bool:
        """Store secret under key; returns whether it was kept persistently."""
        with self._lock:
            if self._persistent:
                try:
                    self._backend.set_password(self._service, key, secret)
                except _BACKEND_FAILURES as exc:
                    self._fall_back("write", key, exc)
                else:
                    self._session.pop(key, None)
                    return True
            self._session[key] = secret
            return False

    def delete(self, key: str) -> None:
        """Forget the secret under key; a missing entry is not an error."""
        with self._lock:
            self._session.pop(key, None)
            if not self._persistent:
                return
            try:
                self._backend.delete_password(self._service, key)
            except keyring.errors.PasswordDeleteError:
                pass  # Nothing stored under that key.
            except _BACKEND_FAILURES as exc:
                self._fall_back("delete", key, exc)

    def export_session(self) -> dict[str, str]:
        """Secrets held for this session only, to hand to a child process of ours."""
        with self._lock:
            return dict(self._session)

    def import_session(self, secrets: Mapping[str, str]) -> None:
        with self._lock:
            self._session.update(secrets)

    def _fall_back(self, action: str, key: str, exc: Exception) -> None:
        # Only the exception type is logged: backend messages may echo what was passed in.
        log.warning(
            "The system keyring failed to %s '%s' (%s); secrets are kept for this session "
            "only from now on.",
            action,
            key,
            type(exc).__name__,
        )
        self._persistent = False


def _default_backend() -> Any | None:
    try:
        return keyring.get_keyring()
    except _BACKEND_FAILURES as exc:
        log.warning("The system keyring could not be loaded (%s).", type(exc).__name__)
        return None


def resolve_registry_secret(
    cfg: RegistryConfig, store: CredentialStore, environ: Mapping[str, str]
) -> str | None:
    """The password or token cfg needs: None without auth, else env var or keyring.

    Raises SecretUnavailable naming where the secret was expected (never its value).
    """
    if cfg.auth is AuthKind.NONE:
        return None
    what = "password" if cfg.auth is AuthKind.BASIC else "token"
    if cfg.secret_env:
        value = environ.get(cfg.secret_env, "")
        if not value:
            raise SecretUnavailable(
                f"The {what} of the registry '{cfg.name}' is read from the environment "
                f"variable {cfg.secret_env}, which is not set; set it before starting Gavel, "
                f"or clear it in Registries → Edit to keep the {what} in the keyring."
            )
        return value
    stored = store.get(registry_secret_key(cfg.name))
    if not stored:
        where = "the system keyring" if store.persistent else "this session"
        raise SecretUnavailable(
            f"The {what} of the registry '{cfg.name}' is not stored in {where}; "
            "open Registries → Edit and enter it again."
        )
    return stored
