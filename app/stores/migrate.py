"""Run the Alembic migrations shipped in this package, at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from app.domain.errors import CacheError
from app.stores.engine import Database, make_engine, translate_db_error

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision. Checked against Alembic's scripts by a test; kept here so a
# start-up with a current schema does not import Alembic at all (~70 ms).
HEAD_REVISION = "0003"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database schema to the newest revision (no-op when current)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def heads() -> list[str]:
    from alembic.script import ScriptDirectory

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
