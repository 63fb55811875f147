"""Shared fixtures: databases on SQLite and PostgreSQL, engines and units of work.

`database_url` is parametrised over "sqlite" (a file in a temporary directory) and
"postgresql" (a database created for this test session on the local server, or the one
named by KABINET_TEST_POSTGRES_URL, dropped at the end). Both are migrated once per session
and emptied after every test, so each test starts from an empty schema.

When PostgreSQL cannot be reached its parameters are skipped, except when CI=true: there
they fail, because CI must run them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import make_engine
from storage.migrate import migrate
from storage.orm import Base
from storage.uow import SqlAlchemyUnitOfWorkFactory
from tests.tiers import pytest_collection_modifyitems, pytest_ignore_collect, tier_guard

# The tiers (tests/tiers.py): the hook marks every test fast, db or e2e; the guard watches
# the fast ones. Named here so pytest finds them in this conftest.
__all__ = ["pytest_collection_modifyitems", "pytest_ignore_collect", "tier_guard"]

DEFAULT_POSTGRES_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_KINDS = ("sqlite", "postgresql")


def _postgres_server_url() -> URL:
    """The maintenance database URL of the test server, in asyncpg's plain form."""
    url = make_url(os.environ.get("KABINET_TEST_POSTGRES_URL", DEFAULT_POSTGRES_SERVER_URL))
    return url.set(drivername="postgresql")


def _asyncpg_dsn(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable: {reason}")


async def _create_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(_postgres_server_url()), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await connection.close()


async def _drop_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(_postgres_server_url()), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def new_postgres_database(name: str) -> str:
    """Create (or recreate) an empty database on the test server; its SQLAlchemy URL.

    Skips the calling test when the server is unreachable (fails under CI=true).
    """
    try:
        asyncio.run(_create_postgres_database(name))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        _unavailable(f"{type(error).__name__}: {error}")
    url = _postgres_server_url().set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


def drop_postgres_database(name: str) -> None:
    """Drop a database made by `new_postgres_database`."""
    asyncio.run(_drop_postgres_database(name))


async def _migrate_url(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Delete every row of every application table (the schema and its version stay)."""
    # DELETE, not TRUNCATE: on the small tables of a test it is many times faster.
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture(scope="session", params=DATABASE_KINDS)
def migrated_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated to head, one per kind per test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "kabinet.db"
        url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(_migrate_url(url))
        yield url
        return
    name = f"kabinet_test_{os.getpid()}"
    url = new_postgres_database(name)
    try:
        asyncio.run(_migrate_url(url))
        yield url
    finally:
        drop_postgres_database(name)


@pytest.fixture
async def database_url(migrated_database_url: str) -> AsyncIterator[str]:
    """A migrated, empty database (SQLite file or PostgreSQL); emptied again after the test."""
    yield migrated_database_url
    engine = make_engine(migrated_database_url)
    try:
        await empty_all_tables(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated, empty test database; disposed after the test."""
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlAlchemyUnitOfWorkFactory:
    """Fresh SQLAlchemy units of work on the test database."""
    return SqlAlchemyUnitOfWorkFactory(engine)


@pytest.fixture
def dialect_name(database_url: str) -> str:
    """ "sqlite" or "postgresql": for tests whose expectations differ per database."""
    return make_url(database_url).get_backend_name()


@pytest.fixture(params=DATABASE_KINDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, NOT migrated database of each kind, just for this test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"kabinet_test_{os.getpid()}_fresh"
    url = new_postgres_database(name)
    try:
        yield url
    finally:
        drop_postgres_database(name)
