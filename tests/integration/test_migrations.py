"""Migrations: an empty database goes to head, again is a no-op, and models match them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from core.privacy import attempt_key
from storage.database import make_engine
from storage.migrate import alembic_config, migrate
from storage.orm import Base
from storage.uow import SqlAlchemyUnitOfWorkFactory


def _differences(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def test_one_linear_history() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1
    revisions = [revision.revision for revision in scripts.walk_revisions()]
    assert revisions[-1] == "0001" and len(revisions) == len(set(revisions))


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
        assert first_revision == ScriptDirectory.from_config(alembic_config()).get_current_head()

        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_revision) == first_revision
            versions = await connection.scalar(text("SELECT count(*) FROM alembic_version"))
            assert versions == 1
            # Autogenerate finds nothing to do: the models and the migrations agree.
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_upgrade_keeps_rows_written_under_the_first_revision(
    fresh_database_url: str,
) -> None:
    def upgrade_to_first(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")

    engine = make_engine(fresh_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to_first)
            await connection.execute(
                text(
                    "INSERT INTO persons (id, name, created_at) VALUES (1, 'x', CURRENT_TIMESTAMP)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO channel_identities (person_id, channel, external_id,"
                    " display_name, reachable) VALUES (1, 'telegram', '42', '', true)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO link_attempts (person_id, at, success)"
                    " VALUES (1, CURRENT_TIMESTAMP, false)"
                )
            )
        await migrate(engine)
        async with engine.connect() as connection:
            # 0006 carries a person's failed tries over to their identities' keys.
            carried = (
                await connection.execute(text("SELECT subject, kind FROM link_attempts"))
            ).all()
            assert [tuple(row) for row in carried] == [
                (attempt_key("identity", "telegram", "42"), "account")
            ]
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_console_settings_saved_empty_by_mistake_get_the_console_back(
    fresh_database_url: str,
) -> None:
    def upgrade_to(connection: Connection, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    people = {1: ["console"], 2: ["console", "telegram"], 3: ["console"], 4: ["telegram"]}
    lists = {1: "[]", 2: "[]", 3: '["console"]', 4: "[]"}
    engine = make_engine(fresh_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0004")
            for person, channels in people.items():
                await connection.execute(
                    text(
                        "INSERT INTO persons (id, name, created_at)"
                        " VALUES (:id, 'x', CURRENT_TIMESTAMP)"
                    ),
                    {"id": person},
                )
                for channel in channels:
                    await connection.execute(
                        text(
                            "INSERT INTO channel_identities"
                            " (person_id, channel, external_id, display_name, reachable)"
                            " VALUES (:id, :channel, :external, '', true)"
                        ),
                        {"id": person, "channel": channel, "external": f"{channel}-{person}"},
                    )
                await connection.execute(
                    text(
                        "INSERT INTO notification_prefs (person_id, channels, paper_bill_only,"
                        " outages_planned, outages_emergency, new_bills, reading_reminders)"
                        " VALUES (:id, :channels, false, true, true, true, true)"
                    ),
                    {"id": person, "channels": lists[person]},
                )
        await migrate(engine)
        async with SqlAlchemyUnitOfWorkFactory(engine)() as uow:
            saved = {p: await uow.persons.prefs(p) for p in people}
            got = {p: set(prefs.channels) for p, prefs in saved.items() if prefs}
    finally:
        await engine.dispose()
    # Only the console-only person's empty list was a mistake; the others chose it.
    assert got == {1: {"console"}, 2: set(), 3: {"console"}, 4: set()}


async def test_outages_stored_twice_keep_their_rows_and_the_oldest_keeps_the_id(
    fresh_database_url: str,
) -> None:
    """0006 makes (dso_id, external_id) unique: copies made by the old race stay (people
    were told about them) but only the oldest keeps the grid system's id."""

    def upgrade_to(connection: Connection, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = make_engine(fresh_database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0005")
            await connection.execute(text("INSERT INTO regions (id, name) VALUES (1, 'r')"))
            await connection.execute(
                text("INSERT INTO dsos (id, region_id, name, short_name) VALUES (1, 1, 'd', 'd')")
            )
            for outage_id, external_id in ((1, "grid-1"), (2, "grid-1"), (3, "grid-1"), (4, None)):
                await connection.execute(
                    text(
                        "INSERT INTO outages (id, kind, dso_id, external_id, starts_at, reason,"
                        " published_at, updated_at, cancelled) VALUES (:id, 'planned', 1,"
                        " :external, CURRENT_TIMESTAMP, '', CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP, false)"
                    ),
                    {"id": outage_id, "external": external_id},
                )
        await migrate(engine)
        async with engine.connect() as connection:
            kept = (
                await connection.execute(text("SELECT id, external_id FROM outages ORDER BY id"))
            ).all()
        assert [tuple(row) for row in kept] == [(1, "grid-1"), (2, None), (3, None), (4, None)]
    finally:
        await engine.dispose()
