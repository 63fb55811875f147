"""The fake Bot API and Viber servers in a process of their own, for the benchmark.

In the benchmark's own process the fakes shared one event loop with its polling and
bookkeeping: starved, that loop took queued requests in bursts and counted them as if
they had arrived so (the limits they enforce count every sliding second), so the figures
measured the benchmark as much as the bot. Here they run alone (at a higher scheduling
priority, as if on servers of their own), and the benchmark reads what they accepted
through a small control API:

- `GET /telegram`: `{"too_many": n, "sends": [[at, chat_id, status, alert, text_crc], ...]}`
  for every send call (`at`: time.perf_counter, the same clock in every process here);
  `?count=1`: `{"accepted": n}`;
- `GET /viber`: `{"too_many": n, "delivered": [[who, at, alert, text_crc], ...],
  "calls": n}` (broadcast and single-send calls);
- `POST /reset?paid_rate=N`: forget everything, with a new paid limit.

`alert` says whether the text holds the benchmark's marker; `text_crc` tells texts apart
for counting duplicates without moving 100,000 texts over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
FAKES_NICENESS = -10


@dataclass(frozen=True)
class Sent:
    """One message a fake platform saw: when, to whom, and what (as a marker and a CRC)."""

    at: float
    chat_id: str
    alert: bool
    text_crc: int
    status: int = 200


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def _control(telegram: Any, viber: Any, marker: str) -> web.Application:
    async def telegram_sends(request: web.Request) -> web.Response:
        if request.query.get("count"):
            accepted = sum(1 for c in telegram.calls if c.method == "sendMessage" and c.ok)
            return web.json_response({"accepted": accepted})
        sends = [
            [c.at, c.chat_id, c.status, marker in c.text, _crc(c.text)]
            for c in telegram.calls
            if c.method in ("sendMessage", "sendPhoto", "sendDocument")
        ]
        return web.json_response({"too_many": telegram.too_many, "sends": sends})

    async def viber_delivered(_: web.Request) -> web.Response:
        delivered = [[who, c.at, marker in c.text, _crc(c.text)] for who, c in viber.delivered]
        calls = len(viber.calls_of("broadcast_message")) + len(viber.calls_of("send_message"))
        return web.json_response(
            {"too_many": viber.too_many, "delivered": delivered, "calls": calls}
        )

    async def reset(request: web.Request) -> web.Response:
        telegram.calls.clear()
        telegram.too_many = 0
        telegram.paid_rate = int(request.query.get("paid_rate", telegram.paid_rate))
        viber.calls.clear()
        viber.delivered.clear()
        viber.too_many = 0
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/telegram", telegram_sends)
    app.router.add_get("/viber", viber_delivered)
    app.router.add_post("/reset", reset)
    return app


async def _serve(marker: str) -> None:
    sys.path.insert(0, str(ROOT))
    from aiohttp.test_utils import TestServer

    from tests.channels.fake_telegram import FakeTelegram
    from tests.channels.fake_viber import FakeViber

    telegram = FakeTelegram(limits=True)
    viber = FakeViber(limits=True)
    telegram_base = await telegram.start()
    viber_base = await viber.start()
    control = TestServer(_control(telegram, viber, marker), host="127.0.0.1")
    await control.start_server()
    print(
        json.dumps(
            {
                "telegram": telegram_base,
                "viber": viber_base,
                "control": str(control.make_url("")).rstrip("/"),
            }
        ),
        flush=True,
    )
    try:
        await asyncio.Event().wait()  # until the benchmark terminates this process
    finally:
        await control.close()
        await telegram.close()
        await viber.close()


class RemoteFakes:
    """The benchmark's handle on the fakes' process."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.telegram_base = ""
        self.viber_base = ""
        self._control = ""
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Start the process and wait for its addresses."""
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.broadcast.fakes",
            "--marker",
            self.marker,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        # The platforms' servers do not share our two cores: at a higher priority the fakes
        # take requests as they arrive while the senders and PostgreSQL keep the cores busy
        # (not allowed to an unprivileged user: then as it is).
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, FAKES_NICENESS)
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        addresses = json.loads(line)
        self.telegram_base = addresses["telegram"]
        self.viber_base = addresses["viber"]
        self._control = addresses["control"]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))

    async def close(self) -> None:
        """Stop the process."""
        if self._session is not None:
            await self._session.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()

    async def reset(self, paid_rate: int = 1000) -> None:
        """Forget what was sent; the paid limit from now on."""
        assert self._session is not None
        async with self._session.post(f"{self._control}/reset?paid_rate={paid_rate}") as answer:
            answer.raise_for_status()

    async def telegram(self) -> tuple[list[Sent], int]:
        """(every send call with its status, 429s answered)."""
        assert self._session is not None
        async with self._session.get(f"{self._control}/telegram") as answer:
            body = await answer.json()
        sends = [
            Sent(at, str(chat), alert, crc, status)
            for at, chat, status, alert, crc in body["sends"]
        ]
        return sends, int(body["too_many"])

    async def telegram_count(self) -> int:
        """How many Telegram messages were accepted so far (cheap to ask often)."""
        assert self._session is not None
        async with self._session.get(f"{self._control}/telegram?count=1") as answer:
            return int((await answer.json())["accepted"])

    async def telegram_accepted(self) -> list[Sent]:
        """The Telegram messages accepted (status 200)."""
        sends, _ = await self.telegram()
        return [sent for sent in sends if sent.status == 200]

    async def viber(self) -> tuple[list[Sent], int, int]:
        """(messages delivered, status 12s answered, platform calls)."""
        assert self._session is not None
        async with self._session.get(f"{self._control}/viber") as answer:
            body = await answer.json()
        delivered = [Sent(at, who, alert, crc) for who, at, alert, crc in body["delivered"]]
        return delivered, int(body["too_many"]), int(body["calls"])


def main() -> None:
    """`python -m bench.broadcast.fakes --marker TEXT`: serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast.fakes")
    parser.add_argument("--marker", required=True, help="text that marks the alert's messages")
    args = parser.parse_args()
    # Every accepted call is kept (100,000 and more objects): a full collection of them
    # would hold the server up for tens of milliseconds, and the requests waiting meanwhile
    # would be counted as a burst against the limits. Nothing here leaves cycles to collect.
    gc.disable()
    asyncio.run(_serve(args.marker))


if __name__ == "__main__":
    main()
