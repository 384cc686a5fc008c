"""serving endpoints: observed state and samples

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:00:00.000000

Endpoint definitions live in config.toml; these tables hold what Gavel observes of
them (last health, serving status, the drift last recorded) and their sampled history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_probe_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("health_reason", sa.Text(), nullable=False),
        sa.Column("server", sa.Text(), nullable=False),
        sa.Column("serving_state", sa.String(length=16), nullable=False),
        sa.Column("serving_reason", sa.Text(), nullable=False),
        sa.Column("served_versions", sa.Text(), nullable=False),
        sa.Column("served_label", sa.Text(), nullable=False),
        sa.Column("expected_version", sa.Integer(), nullable=True),
        sa.Column("drift_key", sa.Text(), nullable=False),
        sa.Column("last_scrape", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoints")),
        sa.UniqueConstraint("name", name=op.f("uq_endpoints_name")),
    )
    op.create_table(
        "endpoint_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("resolution_s", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("up_ratio", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("probe_s", sa.Float(), nullable=True),
        sa.Column("request_rate", sa.Float(), nullable=True),
        sa.Column("error_rate", sa.Float(), nullable=True),
        sa.Column("mean_latency_s", sa.Float(), nullable=True),
        sa.Column("p50_s", sa.Float(), nullable=True),
        sa.Column("p95_s", sa.Float(), nullable=True),
        sa.Column("p99_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoints.id"],
            name=op.f("fk_endpoint_samples_endpoint_id_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoint_samples")),
    )
    op.create_index(
        "ix_endpoint_samples_endpoint_at",
        "endpoint_samples",
        ["endpoint_id", "at_ms"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_endpoint_samples_endpoint_at", table_name="endpoint_samples")
    op.drop_table("endpoint_samples")
    op.drop_table("endpoints")
