"""audit ledger, in a database of its own

Revision ID: 0001
Revises:
Create Date: 2026-12-02 10:00:00.000000

Creates the append-only audit ledger and the triggers that refuse UPDATE and DELETE
on it (and TRUNCATE on PostgreSQL, which bypasses row triggers), and ledger_meta.
A later migration that rebuilds these tables with batch_alter_table on SQLite drops
their triggers: it must create them again (see _SQLITE_TRIGGERS).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
_REFUSED = "the audit ledger is append-only"

_SQLITE_TRIGGERS = {
    "ledger_events_no_update": f"""
        CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: UPDATE on ledger_events refused'); END""",
    "ledger_events_no_delete": f"""
        CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE on ledger_events refused'); END""",
    "ledger_head_forward_only": f"""
        CREATE TRIGGER ledger_head_forward_only BEFORE UPDATE ON ledger_head
        WHEN NEW.id <> OLD.id OR NEW.seq < OLD.seq
             OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash)
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: its head only moves forward'); END""",
    "ledger_head_no_delete": f"""
        CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
        BEGIN SELECT RAISE(ABORT, '{_REFUSED}: DELETE on ledger_head refused'); END""",
}

# restrict_violation (23001) surfaces as an IntegrityError, as SQLite's RAISE(ABORT) does.
_PG_FUNCTIONS = f"""
CREATE FUNCTION gavel_ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{_REFUSED}: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE FUNCTION gavel_ledger_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.seq < OLD.seq
       OR (NEW.seq = OLD.seq AND NEW.hash <> OLD.hash) THEN
        RAISE EXCEPTION '{_REFUSED}: its head only moves forward'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
"""

_PG_TRIGGERS = {
    "ledger_events_append_only": """
        CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events
        FOR EACH ROW EXECUTE FUNCTION gavel_ledger_refuse()""",
    "ledger_events_no_truncate": """
        CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
        FOR EACH STATEMENT EXECUTE FUNCTION gavel_ledger_refuse()""",
    "ledger_head_forward_only": """
        CREATE TRIGGER ledger_head_forward_only BEFORE UPDATE ON ledger_head
        FOR EACH ROW EXECUTE FUNCTION gavel_ledger_head_forward()""",
    "ledger_head_no_delete": """
        CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
        FOR EACH ROW EXECUTE FUNCTION gavel_ledger_refuse()""",
    "ledger_head_no_truncate": """
        CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
        FOR EACH STATEMENT EXECUTE FUNCTION gavel_ledger_refuse()""",
}

_PG_TRIGGER_TABLES = {
    "ledger_events_append_only": "ledger_events",
    "ledger_events_no_truncate": "ledger_events",
    "ledger_head_forward_only": "ledger_head",
    "ledger_head_no_delete": "ledger_head",
    "ledger_head_no_truncate": "ledger_head",
}


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_events")),
    )
    with op.batch_alter_table("ledger_events", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_events_action_seq", ["action", "seq"], unique=False)
        batch_op.create_index("ix_ledger_events_actor_seq", ["actor", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_events_at_us"), ["at_us"], unique=False)
        batch_op.create_index("ix_ledger_events_subject_seq", ["subject", "seq"], unique=False)

    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ledger_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    op.create_table(
        "ledger_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ledger_meta")),
    )

    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTIONS)
        for ddl in _PG_TRIGGERS.values():
            op.execute(ddl)
    else:
        for ddl in _SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name, table in _PG_TRIGGER_TABLES.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS gavel_ledger_refuse()")
        op.execute("DROP FUNCTION IF EXISTS gavel_ledger_head_forward()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("ledger_meta")
    op.drop_table("ledger_head")
    with op.batch_alter_table("ledger_events", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_events_subject_seq")
        batch_op.drop_index(batch_op.f("ix_ledger_events_at_us"))
        batch_op.drop_index("ix_ledger_events_actor_seq")
        batch_op.drop_index("ix_ledger_events_action_seq")
    op.drop_table("ledger_events")
