"""Credential store over keyring, its session-only fallback, and registry secret lookup."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import keyring
import keyring.backends.fail
import keyring.errors
import pytest

from app.connectors.credentials import (
    CredentialStore,
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


def test_round_trip_on_the_test_keyring() -> None:
    # conftest selects keyrings.alt's PlaintextKeyring in a tmp dir for the session.
    store = CredentialStore()
    assert store.persistent
    assert "system keyring" in store.describe()
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
    assert "Registries → Edit" in info.value.message
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
