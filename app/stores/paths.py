"""Where Gavel keeps its files: the platform's user dirs, or all under GAVEL_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "gavel"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def profile_file(self) -> Path:
        return self.config_dir / "profile.toml"

    @property
    def cache_db(self) -> Path:
        return self.data_dir / "cache.sqlite3"

    @property
    def ledger_db(self) -> Path:
        """The audit ledger (solo), or the team ledger's verified replica: never the cache."""
        return self.data_dir / "ledger.sqlite3"

    @property
    def legacy_ledger_archive(self) -> Path:
        """Where the ledger Gavel 0.1 kept inside the cache is archived (see ledger_archive)."""
        return self.data_dir / "ledger-0.1-archive.jsonl"

    @property
    def findings_file(self) -> Path:
        """Findings this auditor signed, kept until (and after) they are exported."""
        return self.data_dir / "findings.jsonl"

    @property
    def outbox_file(self) -> Path:
        """Decisions signed while the team ledger was out of reach, and their fate."""
        return self.data_dir / "outbox.jsonl"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "gavel.log"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo-registry"

    def ensure(self) -> None:
        for d in (self.config_dir, self.data_dir, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)


def resolve_paths(environ: dict[str, str] | None = None) -> AppPaths:
    """GAVEL_HOME=DIR puts config, cache and logs under DIR; else the platform's dirs."""
    env = os.environ if environ is None else environ
    home = env.get("GAVEL_HOME", "").strip()
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(root / "config", root / "data", root / "logs")
    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
