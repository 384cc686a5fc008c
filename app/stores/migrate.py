"""Run the Alembic migrations shipped in this package, at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DatabaseError

from app.domain.errors import CacheError
from app.stores.engine import Database, make_engine, translate_db_error

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database schema to the newest revision (no-op when current)."""
    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())


def open_database(url: str) -> Database:
    """Engine + migrations to head; a damaged file becomes a CacheCorrupt sentence."""
    db = Database(make_engine(url))
    try:
        upgrade_to_head(db.engine)
    except DatabaseError as exc:
        db.dispose()
        translated = translate_db_error(exc)
        if translated is not None:
            raise translated from None
        raise CacheError(f"The local cache could not be opened: {exc.orig}") from None
    return db
