"""the audit ledger moves out of the cache

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000

The ledger now lives in its own database (ledger.sqlite3, or the team's PostgreSQL),
so the cache can be thrown away and rebuilt by a sync. Before this runs, start-up
archives any events the cache held as a verifiable JSONL export beside it (see
services.ledger_archive); they were recorded before authority events were signed
and cannot be folded under the new rules, but they are never thrown away.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = (
    "ledger_events_no_update",
    "ledger_events_no_delete",
    "ledger_head_forward_only",
    "ledger_head_no_delete",
)
_PG_TRIGGERS = {
    "ledger_events_append_only": "ledger_events",
    "ledger_events_no_truncate": "ledger_events",
    "ledger_head_forward_only": "ledger_head",
    "ledger_head_no_delete": "ledger_head",
    "ledger_head_no_truncate": "ledger_head",
}


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name, table in _PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS gavel_ledger_refuse()")
        op.execute("DROP FUNCTION IF EXISTS gavel_ledger_head_forward()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("ledger_head")
    op.drop_table("ledger_events")


def downgrade() -> None:
    raise NotImplementedError("The ledger does not move back into the cache.")
