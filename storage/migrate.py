"""Bring a database schema to the newest revision, from code (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any constant works; it only has to be the same for every Kabinet process.
_PG_MIGRATION_LOCK_KEY = 7_305_240_217


def alembic_config() -> Config:
    """A programmatic Alembic config pointing at the migrations shipped in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Two processes starting together must not both create the tables.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
        )
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database behind `engine` to the head revision; a no-op when it is there.

    Alembic reads its scripts synchronously; that happens once at start-up, inside run_sync.
    """
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
