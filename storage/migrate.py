"""Bring a database schema to the newest revision, from code (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
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


@dataclass(frozen=True)
class SchemaState:
    """The database's Alembic revision against the scripts shipped with this code."""

    current: str | None
    head: str
    known: bool
    """`current` is one of this code's revisions (False: a newer release migrated it)."""

    @property
    def at_head(self) -> bool:
        """The schema is exactly what this code expects."""
        return self.current == self.head

    @property
    def behind(self) -> bool:
        """This code needs migrations the database does not have yet (or has none)."""
        return self.known and not self.at_head


@functools.cache
def _script_revisions() -> tuple[str, frozenset[str]]:
    script = ScriptDirectory.from_config(alembic_config())
    (head,) = script.get_heads()  # one line of history: a fork would be a bug
    return head, frozenset(revision.revision for revision in script.walk_revisions())


def _current(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return heads[0] if heads else None


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Where the database's schema is (raises what the driver raises when unreachable).

    The scripts are read from disk once per process, in a thread.
    """
    head, revisions = await asyncio.to_thread(_script_revisions)
    async with engine.connect() as connection:
        current = await connection.run_sync(_current)
    known = current is None or current in revisions
    return SchemaState(current=current, head=head, known=known)
