"""ORM rows of serving endpoints' observed state and history (imported by app.stores.schema).

Endpoint definitions live in config.toml (see endpoint_config); ``endpoints`` holds
one row per configured endpoint with what Gavel last observed of it, and
``endpoint_samples`` its history: one raw row per probe, merged into minute and
hour rows as it ages (see EndpointStore.compact).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.stores.schema import Base, UtcDateTime

SampleIdType = BigInteger().with_variant(Integer(), "sqlite")


class SqlEndpoint(Base):
    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    last_probe_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    health: Mapped[str] = mapped_column(String(16), default="")
    health_reason: Mapped[str] = mapped_column(Text, default="")
    server: Mapped[str] = mapped_column(Text, default="")
    serving_state: Mapped[str] = mapped_column(String(16), default="")
    serving_reason: Mapped[str] = mapped_column(Text, default="")
    served_versions: Mapped[str] = mapped_column(Text, default="")
    served_label: Mapped[str] = mapped_column(Text, default="")
    expected_version: Mapped[int | None] = mapped_column(Integer)
    # The drift last recorded in the ledger ('' when none): one event per change.
    drift_key: Mapped[str] = mapped_column(Text, default="")
    # The last metrics scrape (JSON), so rates survive a restart or a CLI probe.
    last_scrape: Mapped[str] = mapped_column(Text, default="")


class SqlEndpointSample(Base):
    __tablename__ = "endpoint_samples"
    __table_args__ = (Index("ix_endpoint_samples_endpoint_at", "endpoint_id", "at_ms"),)

    id: Mapped[int] = mapped_column(SampleIdType, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id", ondelete="CASCADE"))
    # Probe time, or the start of the bucket for merged rows (ms since the epoch, UTC).
    at_ms: Mapped[int] = mapped_column(BigInteger)
    # 0 for a raw probe, else the width of the bucket it was merged into.
    resolution_s: Mapped[int] = mapped_column(Integer, default=0)
    samples: Mapped[int] = mapped_column(Integer, default=1)
    up_ratio: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    probe_s: Mapped[float | None] = mapped_column(Float)
    request_rate: Mapped[float | None] = mapped_column(Float)
    error_rate: Mapped[float | None] = mapped_column(Float)
    mean_latency_s: Mapped[float | None] = mapped_column(Float)
    p50_s: Mapped[float | None] = mapped_column(Float)
    p95_s: Mapped[float | None] = mapped_column(Float)
    p99_s: Mapped[float | None] = mapped_column(Float)
