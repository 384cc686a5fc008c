"""Registries: add, edit, remove, list with their cache status, test a connection."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from app.connectors.credentials import CredentialStore, resolve_registry_secret
from app.domain.errors import GavelError
from app.domain.portfolio import RegistryStatus
from app.domain.registry import (
    AuthKind,
    ConnectionReport,
    LinkState,
    RegistryConfig,
    RegistryLink,
)
from app.stores.config_file import ConfigFile
from app.stores.portfolio_queries import PortfolioQueries
from app.stores.snapshot_writer import SnapshotWriter

log = logging.getLogger("gavel.registries")


Prober = Callable[[RegistryConfig, str | None], ConnectionReport]
# One liveness request to a registry: its state and what was seen.
Linker = Callable[[RegistryConfig, str | None], tuple[LinkState, str]]


def secret_key(registry: str) -> str:
    return f"registry:{registry}"


class RegistryService:
    def __init__(
        self,
        config: ConfigFile,
        queries: PortfolioQueries,
        writer: SnapshotWriter,
        secrets: CredentialStore,
        prober: Prober,
        linker: Linker | None = None,
    ) -> None:
        self._config = config
        self._queries = queries
        self._writer = writer
        self._secrets = secrets
        self._prober = prober
        self._linker = linker

    def configs(self) -> list[RegistryConfig]:
        return self._config.registries()

    def get(self, name: str) -> RegistryConfig:
        return self._config.registry(name)

    def statuses(self) -> list[RegistryStatus]:
        """Every configured registry with what the cache knows of it."""
        cached = {s.name: s for s in self._queries.registry_statuses()}
        out = []
        for cfg in self._config.registries():
            st = cached.get(cfg.name)
            out.append(
                RegistryStatus(
                    name=cfg.name,
                    url=cfg.url,
                    is_demo=cfg.is_demo,
                    last_synced_at=st.last_synced_at if st else None,
                    last_error=st.last_error if st else "",
                    model_count=st.model_count if st else 0,
                )
            )
        return out

    def snapshots(self) -> list[RegistryStatus]:
        """Registries the cache holds a snapshot of but the config does not name: an audit
        session's (the bundle's), or one removed with its snapshot kept. Read-only."""
        configured = {cfg.name for cfg in self._config.registries()}
        return [s for s in self._queries.registry_statuses() if s.name not in configured]

    @property
    def secrets_persistent(self) -> bool:
        return self._secrets.persistent

    def secrets_description(self) -> str:
        return self._secrets.describe()

    def add(self, cfg: RegistryConfig, secret: str | None = None) -> None:
        """Add a registry; a secret given here goes to the keyring (or the session)."""
        self._config.add_registry(cfg)
        self._writer.ensure_registry(cfg.name, cfg.url)
        if secret and cfg.auth is not AuthKind.NONE and not cfg.secret_env:
            self._secrets.set(secret_key(cfg.name), secret)
        log.info("registry %s added (%s)", cfg.name, cfg.url)

    def update(self, old_name: str, cfg: RegistryConfig, secret: str | None = None) -> None:
        """Change a registry; secret None keeps the stored one, '' keeps it as well."""
        old_secret = self._secrets.get(secret_key(old_name))
        self._config.update_registry(old_name, cfg)
        if cfg.name != old_name:
            self._secrets.delete(secret_key(old_name))
            self._writer.rename_registry(old_name, cfg.name)
        if cfg.auth is AuthKind.NONE or cfg.secret_env:
            self._secrets.delete(secret_key(cfg.name))
        elif secret:
            self._secrets.set(secret_key(cfg.name), secret)
        elif old_secret and cfg.name != old_name:
            self._secrets.set(secret_key(cfg.name), old_secret)
        log.info("registry %s updated", cfg.name)

    def remove(self, name: str, drop_cache: bool = True) -> None:
        """Forget a registry and its secret; its cached snapshot goes too unless kept."""
        self._config.remove_registry(name)
        self._secrets.delete(secret_key(name))
        if drop_cache:
            self._writer.drop_registry(name)
        log.info("registry %s removed", name)

    def test_connection(self, cfg: RegistryConfig, secret: str | None) -> ConnectionReport:
        """Probe a registry with settings not saved yet; secret None uses the stored one."""
        if secret is None and cfg.auth is not AuthKind.NONE:
            try:
                secret = self.resolve_secret(cfg)
            except GavelError as exc:
                return ConnectionReport(False, False, False, "", None, exc.message)
        return self._prober(cfg, secret)

    def check_link(self, name: str) -> RegistryLink:
        """Whether registry ``name`` answers and accepts our credentials now (one request).

        Never raises for what the network or the registry does: the answer says it.
        """
        now = datetime.now(UTC)
        try:
            cfg = self._config.registry(name)
            secret = self.resolve_secret(cfg)
        except GavelError as exc:
            return RegistryLink(name, LinkState.AUTH_FAILED, now, exc.message)
        if self._linker is None:
            return RegistryLink(name, LinkState.UNCHECKED, None, "")
        state, message = self._linker(cfg, secret)
        return RegistryLink(name, state, now, message)

    def resolve_secret(self, cfg: RegistryConfig) -> str | None:
        return resolve_registry_secret(cfg, self._secrets, os.environ)

    def set_url(self, name: str, url: str) -> None:
        cfg = self._config.registry(name)
        self._config.update_registry(name, replace(cfg, url=url))
