"""The fast tier's guard (tests/tiers.py) refuses a process, a database and another host."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys

import pytest

from tests.tiers import NotInTier, _guarded


def test_this_test_is_fast(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("fast") is not None


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=False),
        lambda: sqlite3.connect(":memory:"),
        lambda: socket.create_connection(("127.0.0.1", 5432), timeout=1),
        lambda: socket.socket().connect_ex(("192.0.2.1", 80)),
    ],
    ids=["subprocess", "sqlite", "postgresql-port", "another-host"],
)
def test_the_guard_refuses_and_fails_the_test(attempt) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        guard = _guarded(monkeypatch)
        next(guard)
        with pytest.raises(NotInTier):
            attempt()
        with pytest.raises(pytest.fail.Exception, match="not a fast test"):
            next(guard)


def test_loopback_is_allowed() -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        guard = _guarded(monkeypatch)
        next(guard)
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            with socket.create_connection(listener.getsockname(), timeout=1):
                pass
        with pytest.raises(StopIteration):
            next(guard)
