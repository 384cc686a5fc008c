"""config.toml: the registries Gavel knows, validated on load. Never holds a secret."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.domain.errors import ConfigError, GavelError, UsageError
from app.domain.registry import AuthKind, RegistryConfig
from app.domain.urls import reject_credentials_in_url
from app.stores.toml_file import read_toml, typed_table, update_toml

# The keys a [[registry]] table may hold, with their type and meaning; anything else
# is refused on load so a typo does not silently fall back to a default.
REGISTRY_KEYS: dict[str, tuple[type, str]] = {
    "name": (str, "short name used in the console and on the command line"),
    "url": (str, "base URL of the MLflow tracking server"),
    "auth": (str, "none, basic or bearer"),
    "username": (str, "user name for basic authentication"),
    "secret_env": (str, "environment variable holding the password or token"),
    "verify_tls": (bool, "verify the server's TLS certificate"),
    "ca_bundle": (str, "path to a CA bundle for TLS verification"),
    "timeout_s": (float, "seconds to wait for each HTTP request"),
    "is_demo": (bool, "the bundled demo registry"),
}
# The keys of the top-level [secrets] table, declared like the registry keys.
SECRETS_TABLE = "secrets"
SECRETS_KEYS: dict[str, tuple[type, str]] = {
    "allow_plaintext_keyring": (
        bool,
        "store registry secrets even when the only keyring writes them unencrypted to a file",
    ),
}


class ConfigFile:
    """Reads and writes config.toml atomically; one instance per profile."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def registries(self) -> list[RegistryConfig]:
        return self._parse_registries(self._load())

    def _parse_registries(self, data: dict[str, Any]) -> list[RegistryConfig]:
        raw = data.get("registry", [])
        if not isinstance(raw, list):
            raise ConfigError(f"{self.path}: 'registry' must be a list of tables.")
        out: list[RegistryConfig] = []
        seen: set[str] = set()
        for i, entry in enumerate(raw, start=1):
            cfg = _registry_from_toml(entry, where=f"{self.path}, registry #{i}")
            if cfg.name in seen:
                raise ConfigError(f"{self.path}: registry '{cfg.name}' is defined twice.")
            seen.add(cfg.name)
            out.append(cfg)
        return out

    def allow_plaintext_keyring(self) -> bool:
        """[secrets] allow_plaintext_keyring: the user accepts a plaintext keyring file."""
        return bool(self._secrets_table().get("allow_plaintext_keyring", False))

    def _secrets_table(self) -> dict[str, Any]:
        table = self._load().get(SECRETS_TABLE, {})
        return typed_table(table, SECRETS_KEYS, f"{self.path}, [{SECRETS_TABLE}]")

    def registry(self, name: str) -> RegistryConfig:
        for cfg in self.registries():
            if cfg.name == name:
                return cfg
        raise UsageError(f"There is no registry named '{name}'. See 'gavel registry list'.")

    def add_registry(self, cfg: RegistryConfig) -> None:
        def change(regs: list[RegistryConfig]) -> list[RegistryConfig]:
            if any(r.name == cfg.name for r in regs):
                raise UsageError(f"A registry named '{cfg.name}' already exists.")
            return [*regs, cfg]

        self._change_registries(change)

    def update_registry(self, old_name: str, cfg: RegistryConfig) -> None:
        def change(regs: list[RegistryConfig]) -> list[RegistryConfig]:
            if not any(r.name == old_name for r in regs):
                raise UsageError(f"There is no registry named '{old_name}'.")
            if cfg.name != old_name and any(r.name == cfg.name for r in regs):
                raise UsageError(f"A registry named '{cfg.name}' already exists.")
            return [cfg if r.name == old_name else r for r in regs]

        self._change_registries(change)

    def remove_registry(self, name: str) -> RegistryConfig:
        gone: list[RegistryConfig] = []

        def change(regs: list[RegistryConfig]) -> list[RegistryConfig]:
            gone.extend(r for r in regs if r.name == name)
            if not gone:
                raise UsageError(f"There is no registry named '{name}'.")
            return [r for r in regs if r.name != name]

        self._change_registries(change)
        return gone[0]

    def set_demo_url(self, name: str, url: str) -> None:
        """The demo server gets a new free port at each start."""
        self._change_registries(
            lambda regs: [replace(r, url=url) if r.name == name else r for r in regs]
        )

    def _load(self) -> dict[str, Any]:
        return read_toml(self.path)

    def _change_registries(
        self, change: Callable[[list[RegistryConfig]], list[RegistryConfig]]
    ) -> None:
        """Read, change and write the registries in one locked step (see update_toml)."""

        def edit(data: dict[str, Any]) -> None:
            data["registry"] = [_registry_to_toml(r) for r in change(self._parse_registries(data))]

        update_toml(self.path, edit)


def _registry_from_toml(entry: Any, where: str) -> RegistryConfig:
    kwargs = typed_table(entry, REGISTRY_KEYS, where)
    for required in ("name", "url"):
        if required not in kwargs:
            raise ConfigError(f"{where}: '{required}' is required.")
    try:
        # A hand-edited file cannot use --username/--password-env: say what to edit.
        reject_credentials_in_url(
            kwargs["url"],
            "the URL",
            "set 'username' (with auth = \"basic\"), then enter the password in "
            "Registry → Edit… or name its environment variable in 'secret_env'",
        )
    except GavelError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    try:
        kwargs["auth"] = AuthKind(kwargs.get("auth", "none"))
    except ValueError:
        raise ConfigError(f"{where}: 'auth' must be none, basic or bearer.") from None
    try:
        return RegistryConfig(**kwargs)
    except GavelError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def _registry_to_toml(cfg: RegistryConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"name": cfg.name, "url": cfg.url, "auth": cfg.auth.value}
    if cfg.username:
        out["username"] = cfg.username
    if cfg.secret_env:
        out["secret_env"] = cfg.secret_env
    if not cfg.verify_tls:
        out["verify_tls"] = False
    if cfg.ca_bundle:
        out["ca_bundle"] = cfg.ca_bundle
    if cfg.timeout_s != RegistryConfig.timeout_s:
        out["timeout_s"] = cfg.timeout_s
    if cfg.is_demo:
        out["is_demo"] = True
    return out
