"""Alembic environment of the ledger database: run by app.stores.migrate only."""

from __future__ import annotations

from alembic import context

from app.stores.ledger_schema import LedgerBase

config = context.config
target_metadata = LedgerBase.metadata
# Its own version table: a team database never mistakes the ledger's revisions for
# the cache's (which lived there before the ledger had a database of its own).
VERSION_TABLE = "gavel_ledger_version"


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Gavel runs migrations through app.stores.migrate only.")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
