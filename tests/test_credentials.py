"""Credential store over keyring, its session-only fallback, and registry secret lookup."""

from __future__ import annotations

import base64
import configparser
import logging
import uuid
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import keyrings.alt.file
import keyrings.alt.file_base
import keyrings.alt.multi
import pytest

from app.connectors.credentials import (
    ALLOW_PLAINTEXT_ENV,
    CredentialStore,
    KeyringKind,
    classify_backend,
    registry_secret_key,
    resolve_registry_secret,
)
from app.domain.errors import SecretUnavailable
from app.domain.registry import AuthKind, RegistryConfig

SECRET = "s3cr3t-" + uuid.uuid4().hex


class BrokenKeyring:
    """A backend that fails like a locked Secret Service, echoing what it was given."""

    name = "broken"

    def get_password(self, service: str, key: str) -> str | None:
        raise keyring.errors.KeyringError(f"locked while reading {service}/{key}")

    def set_password(self, service: str, key: str, password: str) -> None:
        raise keyring.errors.PasswordSetError(f"locked, could not store {password}")

    def delete_password(self, service: str, key: str) -> None:
        raise keyring.errors.KeyringError("locked")


class MemoryKeyring:
    """Stands in for an OS keyring (Secret Service, Keychain…): keeps values in memory."""

    name = "Memory OS keyring"

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, key: str) -> str | None:
        return self.values.get((service, key))

    def set_password(self, service: str, key: str, password: str) -> None:
        self.values[(service, key)] = password

    def delete_password(self, service: str, key: str) -> None:
        if self.values.pop((service, key), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


def _plaintext_file() -> Path:
    """The file conftest's PlaintextKeyring writes (under the session's tmp dir)."""
    return Path(keyring.get_keyring().file_path)


def _in_plaintext_file(value: str) -> bool:
    """Whether value is readable in that file (base64 is an encoding, not encryption)."""
    parser = configparser.RawConfigParser()
    parser.read(_plaintext_file(), encoding="utf-8")
    return any(
        base64.decodebytes(stored.encode()) == value.encode()
        for section in parser.sections()
        if section != "keyring-setting"
        for _, stored in parser.items(section)
    )


def test_round_trip_on_the_test_keyring() -> None:
    # conftest selects keyrings.alt's PlaintextKeyring in a tmp dir for the session and
    # opts in to storing secrets there (GAVEL_ALLOW_PLAINTEXT_KEYRING=1).
    store = CredentialStore()
    assert store.kind is KeyringKind.PLAINTEXT
    assert store.persistent
    assert store.describe() == (
        "Secrets are stored unencrypted in a plaintext file (keyrings.alt PlaintextKeyring, "
        f"{_plaintext_file()}), as you allowed."
    )
    key = f"registry:rt-{uuid.uuid4().hex[:8]}"
    assert store.get(key) is None
    assert store.set(key, SECRET) is True
    assert store.get(key) == SECRET
    assert CredentialStore().get(key) == SECRET  # really persisted, not in memory
    store.delete(key)
    assert store.get(key) is None
    assert CredentialStore().get(key) is None
    store.delete(key)  # deleting twice is fine


def test_fail_backend_means_session_only() -> None:
    store = CredentialStore(keyring.backends.fail.Keyring())
    assert not store.persistent
    assert store.describe() == (
        "No system keyring is available: secrets are kept for this session only."
    )
    assert store.set("registry:x", SECRET) is False
    assert store.get("registry:x") == SECRET
    store.delete("registry:x")
    assert store.get("registry:x") is None


def test_default_backend_fail_keyring_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring, "get_keyring", lambda: keyring.backends.fail.Keyring())
    assert not CredentialStore().persistent


def test_backend_failure_switches_to_session_and_never_logs_the_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = CredentialStore(BrokenKeyring())
    assert store.persistent
    with caplog.at_level(logging.WARNING, logger="gavel.connectors.credentials"):
        assert store.set("registry:prod", SECRET) is False
    assert not store.persistent
    assert store.get("registry:prod") == SECRET
    assert "session only" in caplog.text
    assert SECRET not in caplog.text


def _cfg(**kw: Any) -> RegistryConfig:
    return RegistryConfig(name="prod", url="https://mlflow.example.com", **kw)


def test_no_auth_needs_no_secret() -> None:
    store = CredentialStore(keyring.backends.fail.Keyring())
    assert resolve_registry_secret(_cfg(), store, {}) is None


def test_secret_from_environment_variable() -> None:
    store = CredentialStore(keyring.backends.fail.Keyring())
    cfg = _cfg(auth=AuthKind.BEARER, secret_env="PROD_MLFLOW_TOKEN")
    assert resolve_registry_secret(cfg, store, {"PROD_MLFLOW_TOKEN": SECRET}) == SECRET


def test_missing_environment_variable_names_it_but_no_secret() -> None:
    store = CredentialStore(keyring.backends.fail.Keyring())
    store.set(registry_secret_key("prod"), SECRET)  # present elsewhere, must not leak
    cfg = _cfg(auth=AuthKind.BASIC, username="ann", secret_env="PROD_MLFLOW_PASSWORD")
    with pytest.raises(SecretUnavailable) as info:
        resolve_registry_secret(cfg, store, {"OTHER": SECRET})
    message = info.value.message
    assert "PROD_MLFLOW_PASSWORD" in message
    assert "'prod'" in message
    assert SECRET not in message


def test_secret_from_the_keyring() -> None:
    store = CredentialStore()
    cfg = RegistryConfig(
        name=f"kr-{uuid.uuid4().hex[:8]}", url="http://127.0.0.1:1", auth=AuthKind.BEARER
    )
    with pytest.raises(SecretUnavailable) as info:
        resolve_registry_secret(cfg, store, {})
    assert "Registry → Edit…" in info.value.message
    assert store.set(registry_secret_key(cfg.name), SECRET)
    try:
        assert resolve_registry_secret(cfg, store, {}) == SECRET
    finally:
        store.delete(registry_secret_key(cfg.name))


def test_session_only_message_says_so() -> None:
    store = CredentialStore(keyring.backends.fail.Keyring())
    with pytest.raises(SecretUnavailable) as info:
        resolve_registry_secret(_cfg(auth=AuthKind.BEARER), store, {})
    assert "this session" in info.value.message


def test_plaintext_keyring_without_opt_in_keeps_secrets_for_the_session() -> None:
    store = CredentialStore(environ={})
    assert store.kind is KeyringKind.PLAINTEXT
    assert not store.persistent
    assert store.describe() == (
        "The only keyring available is a plaintext file (keyrings.alt PlaintextKeyring, "
        f"{_plaintext_file()}): registry secrets are kept for this session only; set "
        "[secrets] allow_plaintext_keyring = true in config.toml to store them there anyway."
    )
    key = registry_secret_key(f"pt-{uuid.uuid4().hex[:8]}")
    assert store.set(key, SECRET) is False
    assert store.get(key) == SECRET
    assert not _in_plaintext_file(SECRET)
    assert CredentialStore(environ={}).get(key) is None  # gone with the session
    cfg = RegistryConfig(name=key.split(":")[1], url="http://127.0.0.1:1", auth=AuthKind.BEARER)
    with pytest.raises(SecretUnavailable) as info:
        resolve_registry_secret(cfg, CredentialStore(environ={}), {})
    assert "not stored in this session" in info.value.message


def test_a_new_session_only_secret_removes_the_older_plaintext_copy() -> None:
    key = registry_secret_key(f"stale-{uuid.uuid4().hex[:8]}")
    old = "old-" + uuid.uuid4().hex
    assert CredentialStore(allow_plaintext=True, environ={}).set(key, old) is True
    assert _in_plaintext_file(old)
    assert CredentialStore(environ={}).set(key, SECRET) is False
    assert not _in_plaintext_file(old)  # a changed password leaves no readable copy
    assert CredentialStore(environ={}).get(key) is None  # and never comes back stale


@pytest.mark.parametrize(
    ("allow", "environ"),
    [(True, {}), (False, {ALLOW_PLAINTEXT_ENV: "1"}), (False, {ALLOW_PLAINTEXT_ENV: "true"})],
)
def test_opting_in_stores_secrets_in_the_plaintext_keyring(
    allow: bool, environ: dict[str, str]
) -> None:
    store = CredentialStore(allow_plaintext=allow, environ=environ)
    assert store.persistent
    key = registry_secret_key(f"optin-{uuid.uuid4().hex[:8]}")
    value = "tok-" + uuid.uuid4().hex
    assert store.set(key, value) is True
    try:
        assert CredentialStore(environ={}).get(key) == value  # persisted, readable later
        assert _in_plaintext_file(value)  # where describe() said it would go
    finally:
        store.delete(key)


def test_only_a_yes_in_the_environment_opts_in() -> None:
    for value in ("", "0", "no", "false"):
        assert not CredentialStore(environ={ALLOW_PLAINTEXT_ENV: value}).persistent


def test_encrypted_entries_persist_in_a_plaintext_keyring_without_opt_in() -> None:
    store = CredentialStore(environ={})
    assert store.persistent_encrypted
    key = f"signing-key:{uuid.uuid4().hex[:8]}"
    pem = f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{uuid.uuid4().hex}\n"
    assert store.set(key, pem, encrypted=True) is True
    try:
        assert CredentialStore(environ={}).get(key) == pem  # survives the session
    finally:
        store.delete(key)
    assert CredentialStore(environ={}).get(key) is None


@pytest.mark.parametrize(
    "backend", [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()]
)
def test_without_a_keyring_everything_is_kept_for_the_session(backend: Any) -> None:
    store = CredentialStore(backend, allow_plaintext=True)  # nothing to opt in to
    assert store.kind is KeyringKind.NONE
    assert not store.persistent and not store.persistent_encrypted
    assert "secrets are kept for this session only" in store.describe()
    assert store.set("registry:x", SECRET) is False
    assert store.set("signing-key:x", "ciphertext", encrypted=True) is False
    assert store.get("registry:x") == SECRET
    assert store.get("signing-key:x") == "ciphertext"


def test_an_os_keyring_stores_secrets_without_opt_in() -> None:
    backend = MemoryKeyring()
    store = CredentialStore(backend, environ={})
    assert store.kind is KeyringKind.SECURE and store.persistent
    assert store.describe() == "Secrets are kept in the system keyring (Memory OS keyring)."
    assert store.set("registry:x", SECRET) is True
    assert backend.values == {("gavel", "registry:x"): SECRET}


class UnknownFileKeyring(keyrings.alt.file_base.Keyring):
    """A file-backed keyrings.alt backend Gavel does not know: assumed unencrypted."""

    filename = "unknown.cfg"
    scheme = "unknown"
    version = "1.0"

    def encrypt(self, password: bytes, assoc: bytes | None = None) -> bytes:
        return password

    def decrypt(self, password_encrypted: bytes, assoc: bytes | None = None) -> bytes:
        return password_encrypted


def test_plaintext_files_are_recognised_behind_wrappers(monkeypatch: pytest.MonkeyPatch) -> None:
    plaintext = keyrings.alt.file.PlaintextKeyring()
    assert classify_backend(plaintext) is KeyringKind.PLAINTEXT
    assert classify_backend(UnknownFileKeyring()) is KeyringKind.PLAINTEXT
    wrapped = keyrings.alt.multi.MultipartKeyringWrapper(plaintext)
    assert classify_backend(wrapped) is KeyringKind.PLAINTEXT
    # keyring's chainer writes to the first backend in priority order.
    chainer = keyring.backends.chainer.ChainerBackend
    monkeypatch.setattr(chainer, "backends", [plaintext, MemoryKeyring()])
    assert classify_backend(chainer()) is KeyringKind.PLAINTEXT
    monkeypatch.setattr(chainer, "backends", [MemoryKeyring(), plaintext])
    assert classify_backend(chainer()) is KeyringKind.SECURE
    monkeypatch.setattr(chainer, "backends", [])
    assert classify_backend(chainer()) is KeyringKind.NONE
