"""Read models for the portfolio and the model detail: what the console shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.entities import DatasetInput, MetricPoint


class PortfolioSort(StrEnum):
    NAME = "name"
    REGISTRY = "registry"
    LATEST_VERSION = "latest_version"
    OWNER = "owner"
    TEAM = "team"
    RISK_TIER = "risk_tier"
    VERSION_COUNT = "version_count"
    LAST_UPDATED = "last_updated"


@dataclass(frozen=True)
class PortfolioRow:
    model_key: int  # cache id of the model row: stable handle for the UI
    registry: str
    name: str
    latest_version: int | None
    aliases: Mapping[str, int]
    owner: str
    risk_tier: str
    team: str
    version_count: int
    last_updated_timestamp: int | None

    @property
    def aliases_text(self) -> str:
        return ", ".join(f"{a} → v{v}" for a, v in sorted(self.aliases.items()))


@dataclass(frozen=True)
class VersionRow:
    version_key: int
    version: int
    status: str
    current_stage: str
    user_id: str
    source: str
    run_id: str
    creation_timestamp: int | None
    aliases: tuple[str, ...]
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ModelDetail:
    model_key: int
    registry: str
    name: str
    description: str
    tags: Mapping[str, str]
    aliases: Mapping[str, int]
    creation_timestamp: int | None
    last_updated_timestamp: int | None  # the registry's own: when it last changed the model
    versions: tuple[VersionRow, ...]
    synced_at: datetime | None = None  # ours: when a sync (or refresh) last read it
    # False when `versions` holds only the newest ones (read with max_versions).
    versions_complete: bool = True


@dataclass(frozen=True)
class RunDetail:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    params: Mapping[str, str]
    metrics: Mapping[str, MetricPoint]
    tags: Mapping[str, str]
    datasets: tuple[DatasetInput, ...]


@dataclass(frozen=True)
class RegistryStatus:
    name: str
    url: str
    is_demo: bool
    last_synced_at: datetime | None
    last_error: str
    model_count: int


@dataclass(frozen=True)
class VersionState:
    """What the cache shows now of one version and its model's aliases: enough to tell
    whether a promotion request can still be applied as it was made."""

    model_aliases: Mapping[str, int]
    creation_timestamp: int | None
    run_id: str
    current_stage: str
