"""Alembic environment: runs on a connection handed over by `storage.migrate`, or on its own.

`storage.migrate.migrate(engine)` passes a synchronous connection (from `run_sync`) in
`config.attributes["connection"]`. The `alembic` command line passes nothing, so this file
builds an async engine from `sqlalchemy.url` or `DATABASE_URL` and drives it itself.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from storage.database import make_engine
from storage.orm import Base, UtcDateTime

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./kabinet.db"


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import storage.orm: render our instant type as what it is in SQL.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by rebuilding them
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure_and_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run() -> None:
    config = context.config
    handed_over = config.attributes.get("connection")
    if handed_over is not None:
        _configure_and_run(handed_over)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "DATABASE_URL", DEFAULT_DATABASE_URL
    )
    asyncio.run(_run_with_own_engine(url))


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
_run()
