"""Migrations: an empty database goes to head, again is a no-op, and models match them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.database import make_engine
from storage.migrate import migrate
from storage.orm import Base


def _differences(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_migrate_an_empty_database_twice_from_any_directory(
    fresh_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Migrations are found from the package, not from the working directory.
    monkeypatch.chdir(tmp_path)
    engine = make_engine(fresh_database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
            first_revision = await connection.run_sync(_revision)
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
        assert first_revision == "0001"

        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_revision) == first_revision
            versions = await connection.scalar(text("SELECT count(*) FROM alembic_version"))
            assert versions == 1
            # Autogenerate finds nothing to do: the models and the migrations agree.
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
