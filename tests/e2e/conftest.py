"""Console end-to-end: whole conversations piped through the real `kabinet chat` process.

A demo database (migrated and seeded by `kabinet seed-demo`) is made once per module on
SQLite and on PostgreSQL; each test talks as its own console user.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import drop_postgres_database, new_postgres_database

ROOT = Path(__file__).resolve().parents[2]
IN_WINDOW = "2026-11-29T10:00:00+02:00"


@dataclass
class Console:
    """Runs `python -m bot chat` with a given input and returns what it printed, by turn."""

    database_url: str
    workdir: Path
    now: str = IN_WINDOW

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KABINET_", "DATABASE_", "TELEGRAM_", "VIBER_", "MESSENGER_"))
        }
        env.update(
            DATABASE_URL=self.database_url, KABINET_NOW=self.now, PYTHONPATH=str(ROOT), **extra
        )
        return env

    def run(
        self, *args: str, stdin: str = "", now: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run a kabinet command to its end."""
        env = self.env()
        if now:
            env["KABINET_NOW"] = now
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.workdir,
            env=env,
            timeout=120,
            check=False,
        )

    def chat(self, user: str, *lines: str, now: str | None = None) -> list[str]:
        """Pipe lines into a chat; returns the bot's output of each turn (index 0: banner)."""
        return self.turns(("chat", "--user", user), lines, now)

    def demo(self, *lines: str, now: str | None = None) -> list[str]:
        """Pipe lines into `kabinet demo` (its console user, the local fake EasyPay)."""
        return self.turns(("demo",), lines, now)

    def opened(self, user: str) -> str:
        """What a chat shows when it opens, before the person types anything (pushes queued
        while no chat was open)."""
        result = self.run("chat", "--user", user, stdin="/quit\n")
        assert result.returncode == 0, result.stderr
        return result.stdout.split("> ")[0]

    def turns(self, command: tuple[str, ...], lines: tuple[str, ...], now: str | None) -> list[str]:
        """Run a console command with these lines; the output of each input's turn."""
        result = self.run(*command, stdin="".join(f"{line}\n" for line in lines), now=now)
        assert result.returncode == 0, result.stderr
        # The prompt starts a line (a link button's "-> URL" is no prompt).
        turns = re.split(r"(?m)^> ", result.stdout)
        # One prompt before the first input and one after every input.
        assert len(turns) == len(lines) + 2, result.stdout
        return turns[1:-1]


def new_user() -> str:
    return f"e2e-{uuid.uuid4().hex[:8]}"


def last_billing_value(turn: str) -> int:
    """The last billing reading of zone 1 as the reading prompt shows it."""
    match = re.search(r"Останні розрахункові покази \([\d.]+\): (?:день )?([\d ]+)", turn)
    assert match, turn
    return int(match.group(1).replace(" ", ""))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    workdir = tmp_path_factory.mktemp("e2e")
    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'kabinet.db'}"
    else:
        name = f"kabinet_e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        url = new_postgres_database(name)
    console = Console(url, workdir)
    seeded = console.run("seed-demo")
    assert seeded.returncode == 0, seeded.stderr
    yield console
    if name is not None:
        drop_postgres_database(name)
