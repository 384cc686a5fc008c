"""Run the Alembic migrations shipped in this package, at start-up.

Two schemas, each with its own migrations: the cache (``migrations/``) and the audit
ledger (``ledger_migrations/``, its own database, its own version table).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, make_url, text
from sqlalchemy.exc import DatabaseError

from app.domain.errors import CacheError
from app.stores.engine import CACHE, LEDGER, Database, StoreKind, make_engine, translate_db_error

if TYPE_CHECKING:
    from alembic.config import Config


class LedgerFormatError(CacheError):
    """The database holds a ledger this Gavel cannot continue (an older layout)."""


@dataclass(frozen=True)
class Schema:
    """One database's migrations.

    head: the newest revision, checked against Alembic's scripts by a test; kept here
        so a start-up with a current schema does not import Alembic at all (~70 ms).
    """

    directory: Path
    head: str
    version_table: str
    kind: StoreKind


CACHE_SCHEMA = Schema(Path(__file__).with_name("migrations"), "0005", "alembic_version", CACHE)
LEDGER_SCHEMA = Schema(
    Path(__file__).with_name("ledger_migrations"), "0001", "gavel_ledger_version", LEDGER
)
# Kept for the cache's callers and tests.
MIGRATIONS_DIR = CACHE_SCHEMA.directory
HEAD_REVISION = CACHE_SCHEMA.head


def alembic_config(schema: Schema = CACHE_SCHEMA) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(schema.directory))
    return cfg


def current_revision(engine: Engine, schema: Schema = CACHE_SCHEMA) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(schema.version_table):
            return None
        return conn.execute(text(f"SELECT version_num FROM {schema.version_table}")).scalar()


def upgrade_to_head(engine: Engine, schema: Schema = CACHE_SCHEMA) -> None:
    """Bring the database schema to the newest revision (no-op when current)."""
    current = current_revision(engine, schema)
    if current == schema.head:
        return
    if schema is LEDGER_SCHEMA and current is None:
        _refuse_old_ledger(engine)
    from alembic import command

    cfg = alembic_config(schema)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _refuse_old_ledger(engine: Engine) -> None:
    """A team database set up by Gavel 0.1 holds its ledger under the cache's revisions."""
    with engine.connect() as conn:
        if inspect(conn).has_table("ledger_events"):
            raise LedgerFormatError(
                "This database holds an audit ledger from Gavel 0.1, recorded before every "
                "authority event was signed; it cannot be continued. Export it for the "
                "record with Gavel 0.1 ('gavel audit export'), then point team_ledger_url "
                "at a new, empty database."
            )


def heads(schema: Schema = CACHE_SCHEMA) -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(schema)).get_heads())


def open_database(url: str, schema: Schema = CACHE_SCHEMA) -> Database:
    """Engine + migrations to head; a damaged file becomes a CacheCorrupt sentence."""
    where = _where(url)
    db = Database(make_engine(url), schema.kind, where)
    try:
        upgrade_to_head(db.engine, schema)
    except DatabaseError as exc:
        db.dispose()
        translated = translate_db_error(exc, schema.kind, where)
        if translated is not None:
            raise translated from None
        raise CacheError(
            f"The {schema.kind.name} ({where}) could not be opened: {exc.orig}"
        ) from None
    except BaseException:
        db.dispose()
        raise
    return db


def open_ledger_database(url: str) -> Database:
    """The audit ledger's database (a SQLite file or the team's PostgreSQL), migrated."""
    return open_database(url, LEDGER_SCHEMA)


def _where(url: str) -> str:
    """The database as people should read it: a file path, or a server without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "(in memory)"
    return parsed.render_as_string(hide_password=True)
