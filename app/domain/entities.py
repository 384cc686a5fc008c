"""Registry entities as Gavel sees them, independent of how MLflow spells them.

Timestamps are milliseconds since the epoch (UTC), as MLflow keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str = ""
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # alias -> version number; MLflow returns aliases only with registered models.
    aliases: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: int
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str = ""
    user_id: str = ""
    source: str = ""
    run_id: str = ""
    status: str = ""
    current_stage: str = ""
    # MLflow 3 logged-model id, when the version was created from one.
    logged_model_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    # Aliases pointing at this version. Only a single-version read (model-versions/get)
    # fills this; version searches do not carry aliases (see RegisteredModel.aliases).
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    context: str = ""


@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str = ""
    run_name: str = ""
    user_id: str = ""
    status: str = ""
    start_time: int | None = None
    end_time: int | None = None
    artifact_uri: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    # The latest value of each metric.
    metrics: Mapping[str, MetricPoint] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    datasets: tuple[DatasetInput, ...] = ()
    # Full history per metric key; empty where the run logged a metric only once.
    metric_history: Mapping[str, tuple[MetricPoint, ...]] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        """A finished, failed or killed run no longer logs; a re-sync may reuse it."""
        return self.status in {"FINISHED", "FAILED", "KILLED"}


@dataclass(frozen=True)
class RegistrySnapshot:
    """Everything one sync read from one registry."""

    registry: str
    models: tuple[RegisteredModel, ...]
    versions: tuple[ModelVersion, ...]
    # Runs fetched in this sync; run ids of versions that are absent here were reused
    # from the cache (see SyncService).
    runs: Mapping[str, Run]


@dataclass(frozen=True)
class AliasChange:
    """An alias that moved, appeared or disappeared between two snapshots."""

    model_name: str
    alias: str
    before: int | None
    after: int | None
