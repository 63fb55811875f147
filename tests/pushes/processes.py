"""Real `kabinet serve` processes for the multi-process and kill -9 tests (and the bench)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    """A running `kabinet serve` and its log file."""

    process: asyncio.subprocess.Process
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def start_serve(
    database_url: str,
    telegram_base: str | None,
    log: Path,
    *,
    scheduler: bool = True,
    **env: str,
) -> Served:
    """Start `python -m bot serve`, with Telegram (polling) against a fake server unless
    `telegram_base` is None (then the channels are what `env` turns on); return once it
    says it is serving."""
    telegram: dict[str, str] = {}
    if telegram_base is not None:
        telegram = {
            "TELEGRAM_BOT_TOKEN": "42:TEST",
            "TELEGRAM_API_BASE": telegram_base,
            "TELEGRAM_MODE": "polling",
        }
    environment = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "VIBER_", "MESSENGER_"))
        },
        "DATABASE_URL": database_url,
        **telegram,
        "KABINET_PORT": str(free_port()),
        "OCR_WORKERS": "0",
        "LOG_LEVEL": "INFO",
        **env,
    }
    args = [sys.executable, "-m", "bot", "serve"] + ([] if scheduler else ["--no-scheduler"])
    handle = log.open("wb")
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=environment, stdout=asyncio.subprocess.PIPE, stderr=handle
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 120)
    except TimeoutError:
        process.kill()
        raise
    if b"serving on" not in line:
        process.kill()
        await process.wait()
        raise RuntimeError(f"kabinet serve did not start: {line!r}; see {log}")
    return Served(process, log)


async def stop(served: Served) -> None:
    """SIGTERM and wait (kill after 15 s)."""
    if served.process.returncode is not None:
        return
    served.process.terminate()
    try:
        await asyncio.wait_for(served.process.wait(), 15)
    except TimeoutError:
        served.process.kill()
        await served.process.wait()
