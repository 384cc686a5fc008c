"""Persistence: the SQLite/PostgreSQL cache (SQLAlchemy + Alembic) and the config file."""
