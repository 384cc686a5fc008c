"""Where secrets live: the OS keyring, or this session only when keeping them would
mean writing them to disk unencrypted, or when there is no keyring at all.

keyring picks the highest-priority backend installed, and on a machine without an OS
keyring that can be keyrings.alt's PlaintextKeyring: a file that any program running
as the user, and any backup of the home directory, can read. So the store classifies
its backend (KeyringKind) and keeps *secrets* (registry passwords and tokens, the
team-ledger password) for the session unless the backend is an OS keyring or the user
opted in to plaintext storage ([secrets] allow_plaintext_keyring in config.toml, or
GAVEL_ALLOW_PLAINTEXT_KEYRING=1).

Values that are already encrypted (a signing key PEM sealed with the person's
passphrase) go through ``set(key, value, encrypted=True)``: they are stored in any
working backend, plaintext file included, because losing them at exit would cost more
than a file holding ciphertext.

Nothing here logs or puts a secret into an exception message; only key names appear.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.errors

from app.domain.errors import SecretUnavailable
from app.domain.registry import AuthKind, RegistryConfig

log = logging.getLogger("gavel.connectors.credentials")

SERVICE = "gavel"
# Set to 1 to store secrets in a plaintext keyring anyway (tests, automation); the
# same as [secrets] allow_plaintext_keyring = true in config.toml.
ALLOW_PLAINTEXT_ENV = "GAVEL_ALLOW_PLAINTEXT_KEYRING"
# What a broken or locked backend raises: keyring's own errors (NoKeyringError is also a
# RuntimeError), and D-Bus/OS failures surfacing from the platform backends.
_BACKEND_FAILURES: tuple[type[Exception], ...] = (
    keyring.errors.KeyringError,
    RuntimeError,
    OSError,
)


class KeyringKind(StrEnum):
    """What the active keyring backend does with what it is given."""

    SECURE = "secure"  # an OS keyring (Secret Service, Keychain, Credential Locker, KWallet)
    PLAINTEXT = "plaintext"  # writes values unencrypted to a file
    NONE = "none"  # nothing keeps them: no backend, the fail or null backend, or it broke


def registry_secret_key(registry_name: str) -> str:
    """The keyring entry holding a registry's password or token."""
    return f"registry:{registry_name}"


def plaintext_allowed_by(environ: Mapping[str, str]) -> bool:
    """Whether the environment opts in to storing secrets in a plaintext keyring."""
    return environ.get(ALLOW_PLAINTEXT_ENV, "").strip().lower() in ("1", "true", "yes")


class CredentialStore:
    """Secrets by key in the keyring, falling back to memory for this session.

    backend: a keyring backend; default keyring.get_keyring(). allow_plaintext: the
    user's [secrets] allow_plaintext_keyring; the environment variable
    GAVEL_ALLOW_PLAINTEXT_KEYRING (read from environ, default os.environ) also allows it.
    """

    def __init__(
        self,
        backend: Any | None = None,
        *,
        service: str = SERVICE,
        allow_plaintext: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._session: dict[str, str] = {}
        self._backend: Any = backend if backend is not None else _default_backend()
        self._kind = classify_backend(self._backend)
        self._allow_plaintext = allow_plaintext or plaintext_allowed_by(
            os.environ if environ is None else environ
        )

    @property
    def kind(self) -> KeyringKind:
        return self._kind

    @property
    def persistent(self) -> bool:
        """True while secrets (passwords, tokens) are stored and outlive this session."""
        return self._kind is KeyringKind.SECURE or (
            self._kind is KeyringKind.PLAINTEXT and self._allow_plaintext
        )

    @property
    def persistent_encrypted(self) -> bool:
        """True while values stored with encrypted=True outlive this session."""
        return self._kind is not KeyringKind.NONE

    def describe(self) -> str:
        """One sentence for the UI and the CLI about where secrets are kept."""
        if self._kind is KeyringKind.SECURE:
            name = getattr(self._backend, "name", type(self._backend).__name__)
            return f"Secrets are kept in the system keyring ({name})."
        if self._kind is KeyringKind.NONE:
            return "No system keyring is available: secrets are kept for this session only."
        where = f"a plaintext file ({_backend_label(self._backend)})"
        if self._allow_plaintext:
            return f"Secrets are stored unencrypted in {where}, as you allowed."
        return (
            f"The only keyring available is {where}: registry secrets are kept for this "
            "session only; set [secrets] allow_plaintext_keyring = true in config.toml to "
            "store them there anyway."
        )

    def get(self, key: str) -> str | None:
        """The value under key: this session's, else the keyring's, else None.

        A plaintext keyring is read even without the opt-in: what is there was put
        there by the user (or is ciphertext), and reading it writes nothing.
        """
        with self._lock:
            if key in self._session:
                return self._session[key]
            if self._kind is KeyringKind.NONE:
                return None
            try:
                value = self._backend.get_password(self._service, key)
            except _BACKEND_FAILURES as exc:
                self._fall_back("read", key, exc)
                return None
            return value if isinstance(value, str) and value else None

    def set(self, key: str, value: str, *, encrypted: bool = False) -> bool:
        """Store value under key; returns whether it was kept persistently.

        encrypted: the value is already encrypted (a passphrase-protected PEM), so a
        plaintext keyring may keep it; otherwise it is a secret, kept for this session
        only unless the store is `persistent`.
        """
        with self._lock:
            if self.persistent_encrypted if encrypted else self.persistent:
                try:
                    self._backend.set_password(self._service, key, value)
                except _BACKEND_FAILURES as exc:
                    self._fall_back("write", key, exc)
                else:
                    self._session.pop(key, None)
                    return True
            elif self._kind is KeyringKind.PLAINTEXT:
                # An older copy left in the plaintext file would still be readable, and
                # would come back stale in the next session: the new value replaces it.
                self._delete_from_backend(key)
            self._session[key] = value
            return False

    def delete(self, key: str) -> None:
        """Forget the value under key; a missing entry is not an error."""
        with self._lock:
            self._session.pop(key, None)
            self._delete_from_backend(key)

    def export_session(self) -> dict[str, str]:
        """Secrets held for this session only, to hand to a child process of ours."""
        with self._lock:
            return dict(self._session)

    def import_session(self, secrets: Mapping[str, str]) -> None:
        with self._lock:
            self._session.update(secrets)

    def _delete_from_backend(self, key: str) -> None:
        if self._kind is KeyringKind.NONE:
            return
        try:
            self._backend.delete_password(self._service, key)
        except keyring.errors.PasswordDeleteError:
            pass  # Nothing stored under that key.
        except _BACKEND_FAILURES as exc:
            self._fall_back("delete", key, exc)

    def _fall_back(self, action: str, key: str, exc: Exception) -> None:
        # Only the exception type is logged: backend messages may echo what was passed in.
        log.warning(
            "The system keyring failed to %s '%s' (%s); secrets are kept for this session "
            "only from now on.",
            action,
            key,
            type(exc).__name__,
        )
        self._kind = KeyringKind.NONE


def classify_backend(backend: Any | None) -> KeyringKind:
    """Whether a keyring backend is an OS keyring, a plaintext file, or keeps nothing."""
    target = _storing_backend(backend)
    if target is None or isinstance(
        target, keyring.backends.fail.Keyring | keyring.backends.null.Keyring
    ):
        return KeyringKind.NONE
    if _writes_plaintext(target):
        return KeyringKind.PLAINTEXT
    return KeyringKind.SECURE


def _storing_backend(backend: Any | None) -> Any | None:
    """The backend that ends up holding what is written through `backend`."""
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        # Writes go to the first chained backend that takes them, in priority order.
        chained = list(backend.backends)
        return _storing_backend(chained[0]) if chained else None
    inner = getattr(backend, "_keyring", None)
    if type(backend).__name__ == "MultipartKeyringWrapper" and inner is not None:
        return _storing_backend(inner)  # keyrings.alt's wrapper splits values, inner keeps them
    return backend


def _writes_plaintext(backend: Any) -> bool:
    # keyrings.alt is not a dependency of Gavel (only the tests install it). Its
    # classes are looked up among loaded modules: a backend that is an instance of one
    # has loaded its module, and nothing is imported for the check.
    file_mod = sys.modules.get("keyrings.alt.file")
    if file_mod is not None and isinstance(backend, file_mod.PlaintextKeyring):
        return True
    file_base = sys.modules.get("keyrings.alt.file_base")
    if file_base is None or not isinstance(backend, file_base.Keyring):
        return False
    # Any other file-backed keyrings.alt backend writes to a file too; only the ones
    # known to encrypt (a keyring password, or Windows DPAPI) are not plaintext.
    encrypting: list[type] = []
    if file_mod is not None:
        encrypting.append(file_mod.Encrypted)
    windows = sys.modules.get("keyrings.alt.Windows")
    if windows is not None:
        encrypting.append(windows.EncryptedKeyring)
    return not isinstance(backend, tuple(encrypting))


def _backend_label(backend: Any) -> str:
    """'keyrings.alt PlaintextKeyring, /path/to/file' for the describe() sentence."""
    backend = _storing_backend(backend)
    module = type(backend).__module__
    package = "keyrings.alt" if module.startswith("keyrings.alt") else module.split(".")[0]
    label = f"{package} {type(backend).__name__}"
    path = getattr(backend, "file_path", None)
    return f"{label}, {path}" if isinstance(path, str) and path else label


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
                f"or clear it in Registry → Edit… to keep the {what} in the keyring."
            )
        return value
    stored = store.get(registry_secret_key(cfg.name))
    if not stored:
        where = "the system keyring" if store.persistent else "this session"
        raise SecretUnavailable(
            f"The {what} of the registry '{cfg.name}' is not stored in {where}; "
            "open Registry → Edit… and enter it again."
        )
    return stored
