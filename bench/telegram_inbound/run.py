"""Telegram inbound turns per second and balance-turn latency: Kabinet against an echo bot.

    python -m bench.telegram_inbound [--rounds 3] [--duration 8] [--warmup 3] [--users 50]
                                     [--what-if] [--no-write]

What it does, all on this machine:
1. makes a fresh PostgreSQL database (KABINET_BENCH_POSTGRES_URL, default the local server),
   migrates it, seeds the demo data plus one synthetic account per simulated user, and
   links each user to an account through the dialog itself (/start, consent, link);
2. starts a fake Bot API server in this process (tests/channels/fake_telegram.py);
3. starts `kabinet serve` (webhook mode, TELEGRAM_API_BASE = the fake server) and, in the
   same run, a bare aiogram echo bot (bench/telegram_inbound/echo.py) on the same fake
   server, each as its own process;
4. for 50 and 10 concurrent users, in rounds where echo and Kabinet take turns (the rounds
   of one target are pooled): every user posts "Баланс" as a real
   Update to /webhook/telegram, waits until the fake server receives the bot's
   sendMessage to that chat (the turn is complete), and posts the next one. Turns/s count
   the turns completed inside the measuring window; latency is post → sendMessage.

Figures go into bench/RESULTS.md under "## Telegram inbound"; other sections are kept.
`--what-if` also runs Kabinet through bench/telegram_inbound/variant.py on asyncio's own
event loop, with asynchronous commit, and with the dialog replaced by a constant answer
(the cost of the Telegram plumbing alone), measuring them without editing the code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.compose import build_app
from app.settings import load_settings
from bot.messages import Incoming
from core.clock import FrozenClock
from core.model import Channel
from storage.database import make_engine
from storage.demo import extra_account_number, seed_demo
from storage.migrate import migrate
from storage.orm import AccountRow
from tests.channels.fake_telegram import TOKEN, Call, FakeTelegram, message_update

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Telegram inbound"
NOW = "2026-11-29T10:00:00+02:00"
SECRET = "bench-secret"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "kabinet_bench_telegram"
FIRST_USER_ID = 900_000_001
TURN_TIMEOUT = 30.0


@dataclass
class Figures:
    """One target at one concurrency."""

    target: str
    users: int
    turns: int
    seconds: float
    latencies_ms: list[float]
    timeouts: int

    @property
    def per_second(self) -> float:
        return self.turns / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    @classmethod
    def pooled(cls, rounds: Sequence[Figures]) -> Figures:
        """Several rounds of one target at one concurrency as one measurement."""
        return cls(
            rounds[0].target,
            rounds[0].users,
            sum(f.turns for f in rounds),
            sum(f.seconds for f in rounds),
            [latency for f in rounds for latency in f.latencies_ms],
            sum(f.timeouts for f in rounds),
        )

    def line(self) -> str:
        return (
            f"{self.target:<8} {self.users:>3} users: {self.per_second:7.1f} turns/s, "
            f"p50 {self.percentile(50):6.1f} ms, p95 {self.percentile(95):6.1f} ms, "
            f"p99 {self.percentile(99):6.1f} ms ({self.turns} turns, {self.timeouts} timeouts)"
        )


# ---- database -----------------------------------------------------------------------------


async def _recreate_database(server: str, name: str) -> str:
    connection = await asyncpg.connect(server, timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    finally:
        await connection.close()
    url = make_url(server).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def prepare_database(server: str, users: int) -> str:
    """A fresh database with demo data and `users` Telegram users linked via the dialog."""
    url = await _recreate_database(server, DATABASE)
    now = datetime.fromisoformat(NOW)
    engine = make_engine(url)
    try:
        await migrate(engine)
        await seed_demo(engine, now, extra_accounts=users)
        numbers = [extra_account_number(index) for index in range(1, users + 1)]
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AccountRow.number, AccountRow.eic).where(AccountRow.number.in_(numbers))
            )
            eics = dict(rows.tuples().all())
        # Fresh tables have no planner statistics until autovacuum gets to them; a
        # production database has them, so the benchmark does not measure bad plans.
        async with engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    app = await build_app(load_settings(database_url=url), clock=FrozenClock(now))
    try:
        for index, number in enumerate(numbers):
            user = str(FIRST_USER_ID + index)
            steps = [
                {"text": "/start"},
                {"payload": "consent:yes"},
                {"payload": "link"},
                {"text": number},
                {"text": eics[number]},
            ]
            for step in steps:
                replies = await app.handle(
                    Incoming(Channel.TELEGRAM, user, locale="uk", **step)  # type: ignore[arg-type]
                )
            if not any(number in reply.text for reply in replies):
                raise RuntimeError(f"linking {number} failed: {replies}")
    finally:
        await app.close()
    return url


# ---- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_kabinet(
    database_url: str, api_base: str, port: int, switches: dict[str, str] | None
) -> subprocess.Popen:
    """`kabinet serve`, or the what-if variant with these BENCH_* switches."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KABINET_", "DATABASE_", "TELEGRAM_", "VIBER_", "MESSENGER_"))
    }
    env.update(
        DATABASE_URL=database_url,
        KABINET_HOST="127.0.0.1",
        KABINET_PORT=str(port),
        KABINET_NOW=NOW,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE=api_base,
        TELEGRAM_MODE="webhook",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        **(switches or {}),
    )
    module = "bench.telegram_inbound.variant" if switches is not None else "bot"
    return subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--no-scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def start_echo(api_base: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.telegram_inbound.echo",
            "--port",
            str(port),
            "--api-base",
            api_base,
            "--secret",
            SECRET,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
    )


async def wait_listening(
    session: aiohttp.ClientSession, url: str, process: subprocess.Popen
) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            async with session.post(url, data=b"{}") as response:
                if response.status in (200, 400, 401):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url}: not listening")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# ---- load ---------------------------------------------------------------------------------


async def measure(
    session: aiohttp.ClientSession,
    fake: FakeTelegram,
    target: str,
    url: str,
    users: Sequence[int],
    warmup: float,
    duration: float,
) -> Figures:
    """Closed loop: each user posts, waits for the bot's sendMessage, posts again."""
    loop = asyncio.get_running_loop()
    waiting: dict[int, asyncio.Future[float]] = {}

    def on_call(call: Call) -> None:
        if call.method == "sendMessage":
            future = waiting.pop(call.chat_id or 0, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    fake.listeners.append(on_call)
    started = time.perf_counter()
    window = (started + warmup, started + warmup + duration)
    latencies: list[float] = []
    completed = 0
    timeouts = 0
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def user_loop(user_id: int) -> None:
        nonlocal completed, timeouts
        while time.perf_counter() < window[1]:
            future: asyncio.Future[float] = loop.create_future()
            waiting[user_id] = future
            update = message_update(user_id, text="Баланс")
            sent_at = time.perf_counter()
            post = asyncio.ensure_future(session.post(url, json=update, headers=headers))
            try:
                done_at = await asyncio.wait_for(future, TURN_TIMEOUT)
            except TimeoutError:
                timeouts += 1
                waiting.pop(user_id, None)
                continue
            finally:
                response = await post
                await response.read()
                response.release()
            if window[0] <= done_at <= window[1]:
                completed += 1
                if sent_at >= window[0]:
                    latencies.append((done_at - sent_at) * 1000)

    try:
        await asyncio.gather(*(user_loop(user) for user in users))
    finally:
        fake.listeners.remove(on_call)
    return Figures(target, len(users), completed, duration, latencies, timeouts)


# Kabinet as it is, then what-if start-up changes (bench/telegram_inbound/variant.py).
WHAT_IF: tuple[tuple[str, dict[str, str]], ...] = (
    ("asyncio's own event loop (no uvloop)", {"BENCH_ASYNCIO_LOOP": "1"}),
    ("synchronous_commit off", {"BENCH_ASYNC_COMMIT": "1"}),
    ("plumbing only: no dialog", {"BENCH_NULL_DIALOG": "1"}),
)


async def run(args: argparse.Namespace) -> list[tuple[str, list[Figures]]]:
    """Every configuration, each with the echo bot measured right beside it."""
    print("preparing the database…", flush=True)
    database_url = await prepare_database(args.postgres, args.users)
    fake = FakeTelegram(record=False)
    api_base = await fake.start()
    echo_port = free_port()
    echo = start_echo(api_base, echo_port)
    echo_url = f"http://127.0.0.1:{echo_port}/webhook/telegram"
    configs: list[tuple[str, dict[str, str] | None]] = [("Kabinet as committed", None)]
    if args.what_if:
        configs += list(WHAT_IF)
    results: list[tuple[str, list[Figures]]] = []
    all_users = [FIRST_USER_ID + index for index in range(args.users)]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            await wait_listening(session, echo_url, echo)
            for label, switches in configs:
                print(f"== {label}", flush=True)
                port = free_port()
                kabinet = start_kabinet(database_url, api_base, port, switches)
                url = f"http://127.0.0.1:{port}/webhook/telegram"
                figures: list[Figures] = []
                try:
                    await wait_listening(session, url, kabinet)
                    for concurrency in (args.users, 10):
                        # Echo and Kabinet take turns, so a slow patch of the shared
                        # machine falls on both rather than on one of them.
                        rounds: dict[str, list[Figures]] = {"echo": [], "kabinet": []}
                        for _ in range(args.rounds):
                            for name, target in (("echo", echo_url), ("kabinet", url)):
                                result = await measure(
                                    session,
                                    fake,
                                    name,
                                    target,
                                    all_users[:concurrency],
                                    args.warmup,
                                    args.duration,
                                )
                                print(result.line(), flush=True)
                                rounds[name].append(result)
                        figures += [Figures.pooled(rounds[name]) for name in rounds]
                finally:
                    stop(kabinet)
                results.append((label, figures))
    finally:
        stop(echo)
        await fake.close()
    return results


# ---- report -------------------------------------------------------------------------------


def section(results: list[tuple[str, list[Figures]]], args: argparse.Namespace) -> str:
    """The RESULTS.md section: conditions, one table, the two targets."""
    big = args.users
    command = "python -m bench.telegram_inbound" + (" --what-if" if args.what_if else "")
    lines = [
        HEADING,
        "",
        f"`{command}` (`make bench-telegram`), {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; "
        f"{os.cpu_count()} CPU cores shared by the load generator, the fake Bot API server, "
        "the bot and PostgreSQL (other work on the machine paused), so figures vary by "
        "±10–15 % from run to run; "
        f"load average at the start {args.load_before:.1f}, at the end {os.getloadavg()[0]:.1f}. "
        f"Python {platform.python_version()}, PostgreSQL on 127.0.0.1. {args.users} users, "
        "each linked to an account of its own; each posts the text «Баланс» as a real Update "
        "to `/webhook/telegram` and waits for the bot's sendMessage on the fake Bot API "
        f"server before posting again. Each row pools {args.rounds} rounds in which the echo "
        f"bot and Kabinet take turns, each round {args.warmup:.0f} s warm-up and "
        f"{args.duration:.0f} s measured, so a slow patch of the shared machine falls on both. "
        "The echo bot is aiogram's SimpleRequestHandler with one `message.answer` handler, in "
        "its own process on asyncio's event loop, on the same fake server. Kabinet is one "
        "`kabinet serve` process (uvloop, as installed by default).",
        "",
        "| configuration | users | echo turns/s | Kabinet turns/s | ratio | Kabinet p50 ms "
        "| p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, figures in results:
        by = {(f.target, f.users): f for f in figures}
        for users in (big, 10):
            echo, kabinet = by[("echo", users)], by[("kabinet", users)]
            lines.append(
                f"| {label} | {users} | {echo.per_second:.0f} | {kabinet.per_second:.0f} | "
                f"{kabinet.per_second / echo.per_second:.2f} | {kabinet.percentile(50):.1f} | "
                f"{kabinet.percentile(95):.1f} | {kabinet.percentile(99):.1f} |"
            )
    label, figures = results[0]
    by = {(f.target, f.users): f for f in figures}
    ratio = by[("kabinet", big)].per_second / by[("echo", big)].per_second
    p99 = by[("kabinet", 10)].percentile(99)
    lines += [
        "",
        f"Targets, {label}: Kabinet ÷ echo at {big} users **{ratio:.2f}** (target ≥ 0.5); "
        f"balance-turn p99 at 10 users **{p99:.1f} ms** (target ≤ 50 ms).",
    ]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace the "## Telegram inbound" section of RESULTS.md (or append it)."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = current.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == HEADING), None)
    if start is None:
        new = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = ["", *lines[end:]] if end < len(lines) else []
        new = "\n".join([*lines[:start], *text.rstrip("\n").splitlines(), *tail]) + "\n"
    path.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the figures and update bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per row")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--postgres", default=os.environ.get("KABINET_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    )
    parser.add_argument(
        "--what-if", action="store_true", help="also measure the start-up changes of WHAT_IF"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    args.load_before = os.getloadavg()[0]
    results = asyncio.run(run(args))
    text = section(results, args)
    print()
    print(text)
    if not args.no_write:
        write_section(text)
    return 0
