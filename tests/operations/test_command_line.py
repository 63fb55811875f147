"""`kabinet --version`, and one line instead of a traceback when the database is away."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

# Every test here runs `kabinet` as a process.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def _kabinet(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KABINET_", "DATABASE_", "TELEGRAM_", "VIBER_", "MESSENGER_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_version_comes_from_the_package() -> None:
    done = _kabinet("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"kabinet {metadata.version('kabinet')}"


@pytest.mark.parametrize("command", ["serve", "migrate", "chat"])
def test_an_unreachable_postgresql_is_one_line(command: str) -> None:
    url = "postgresql+asyncpg://kabinet:pa55word@127.0.0.1:1/kabinet"
    done = _kabinet(command, DATABASE_URL=url, LOG_FORMAT="json")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("kabinet: cannot reach the database postgresql+asyncpg://kabinet:***@")
    assert "127.0.0.1:1" in line and "pa55word" not in line


def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-directory' / 'kabinet.db'}"
    done = _kabinet("migrate", DATABASE_URL=url)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.endswith("unable to open database file")
