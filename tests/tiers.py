"""The test tiers: `fast`, `adapters`, `db` and `e2e`, given to every test at collection
(README "Tests").

- `e2e`: starts other processes (`kabinet chat`, `serve` or `demo`, schemathesis,
  Tesseract, the OCR process pool, a fresh interpreter): everything under tests/e2e, and
  any test marked `@pytest.mark.e2e`.
- `db`: opens a database, SQLite or PostgreSQL: everything under tests/integration, and any
  test that uses a database fixture (DATABASE_FIXTURES, directly or through another fixture).
- `adapters`: in memory too, but through the heavy adapters: the real messenger libraries
  against local fake servers (tests/channels), the OCR models (tests/ocr), and documents
  rendered with matplotlib or the PDF library (tests marked `@pytest.mark.adapters`). Importing
  aiogram, onnxruntime and OpenCV alone costs seconds, so they are kept out of `fast`.
- `fast`: the rest; in memory, on the fakes, loopback HTTP at most.

The tiers exclude each other (e2e before db before adapters before fast), so the four
selections together are the whole suite. With `-m fast` the directories that hold no fast
test are not even collected (their imports are the slow part). A `fast` or `adapters`
test is watched while it runs: a
subprocess, a fork, a SQLite file or a connection to a database server or to another host
fails it, so a fast test that needs more is found the first time it runs. (A `db` test may
use the app's photo-reader process pool.)
"""

from __future__ import annotations

import _posixsubprocess
import ipaddress
import os
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TIERS = ("fast", "adapters", "db", "e2e")
TESTS = Path(__file__).resolve().parent
E2E_DIRECTORIES = (TESTS / "e2e",)
DB_DIRECTORIES = (TESTS / "integration",)
ADAPTER_DIRECTORIES = (TESTS / "channels", TESTS / "ocr")
# What `-m fast` need not collect: no test there can be fast.
# tests/adversarial: real servers on a database, or `kabinet serve` itself.
NOT_FAST_DIRECTORIES = (
    E2E_DIRECTORIES + DB_DIRECTORIES + ADAPTER_DIRECTORIES + (TESTS / "adversarial",)
)
# Fixtures that make a database; every fixture built on them (engine, uow_factory, api,
# world, ...) carries them in its closure.
DATABASE_FIXTURES = frozenset(
    {
        "migrated_database_url",
        "fresh_database_url",
        "sqlite_demo_url",
        "postgres_demo_url",
        "pg_url",
    }
)
DATABASE_PORTS = frozenset({5432})


def tier_of(item: pytest.Item) -> str:
    """The one tier of a collected test."""
    path = Path(str(item.path)).resolve()
    if item.get_closest_marker("e2e") or any(path.is_relative_to(d) for d in E2E_DIRECTORIES):
        return "e2e"
    fixtures = set(getattr(item, "fixturenames", ()))
    if (
        item.get_closest_marker("db")
        or fixtures & DATABASE_FIXTURES
        or any(path.is_relative_to(d) for d in DB_DIRECTORIES)
    ):
        return "db"
    if item.get_closest_marker("adapters") or any(
        path.is_relative_to(d) for d in ADAPTER_DIRECTORIES
    ):
        return "adapters"
    return "fast"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m fast`, skip the directories whose tests are never fast."""
    if config.getoption("markexpr", "") != "fast":
        return None
    path = collection_path.resolve()
    return True if any(path.is_relative_to(d) for d in NOT_FAST_DIRECTORIES) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test its tier (markers added here count for `-m`, which runs after)."""
    for item in items:
        tier = tier_of(item)
        if not item.get_closest_marker(tier):
            item.add_marker(tier)


class NotInTier(Exception):
    """What a `fast` test gets for using a process, a database or another host.

    Not an OSError, so code that treats an unreachable server as a skip does not hide it."""


def _loopback(host: Any) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def tier_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a `fast` or `adapters` test: refuse, and fail the test for, a process, a database
    or a host other than this one."""
    marked = request.node.get_closest_marker
    if marked("fast") is None and marked("adapters") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _guarded(monkeypatch)


def _guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    seen: list[str] = []

    def refuse(what: str) -> NotInTier:
        seen.append(what)
        return NotInTier(
            f"a fast test {what}; give it a database fixture or @pytest.mark.e2e (tests/tiers.py)"
        )

    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise refuse("started a process")

    # Every way out of this process goes through one of these (subprocess, asyncio's
    # subprocesses, multiprocessing and its resource tracker, os.system).
    monkeypatch.setattr(_posixsubprocess, "fork_exec", no_process)
    monkeypatch.setattr(subprocess, "_fork_exec", no_process)  # its own reference
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, no_process)
    _no_databases(monkeypatch, refuse)
    yield
    if seen:
        pytest.fail("not a fast test: " + "; ".join(seen), pytrace=False)


def _no_databases(monkeypatch: pytest.MonkeyPatch, refuse: Callable[[str], Exception]) -> None:
    def no_sqlite(*args: Any, **kwargs: Any) -> Any:
        raise refuse("opened SQLite")

    monkeypatch.setattr(sqlite3, "connect", no_sqlite)

    def checked(connect: Any) -> Any:
        def guarded(sock: socket.socket, address: Any, *args: Any) -> Any:
            if sock.family == getattr(socket, "AF_UNIX", None):
                if ".s.PGSQL." in str(address):
                    raise refuse(f"connected to PostgreSQL at {address}")
            elif isinstance(address, tuple):
                host, port = address[0], address[1]
                if port in DATABASE_PORTS:
                    raise refuse(f"connected to a database server at {host}:{port}")
                if not _loopback(host):
                    raise refuse(f"connected to {host}:{port}")
            return connect(sock, address, *args)

        return guarded

    monkeypatch.setattr(socket.socket, "connect", checked(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", checked(socket.socket.connect_ex))
