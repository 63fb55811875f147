"""The broadcast benchmark (`python -m bench.broadcast`, `make bench-broadcast`).

1. A PostgreSQL database with `--accounts` synthetic accounts (storage.demo.seed_demo) and a
   subscriber with a Telegram identity per account (set-based).
2. Target + enqueue: one emergency outage per DSO hitting every outage group, published
   through `core.outages.publish_outage` (one INSERT ... SELECT each); the time of all.
3. Delivery throughput: a real `kabinet serve --no-scheduler` against the fake Bot API
   (tests/channels/fake_telegram.py), first with the rate limit raised, then at Telegram's
   default (30/s); messages per second over the measured seconds, and ÷ the limit.
4. Kill -9: a fresh outage to one DSO's subscribers; the serving process is killed with
   SIGKILL mid-broadcast and a new one started; duplicates (a chat told twice) and losses
   (a recipient never told) counted on the fake server.

Figures go to stdout and, with `--write`, replace the "## Broadcast" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.broadcast.population import subscribe_accounts
from core.model import OutageKind, OutageTarget
from core.outages import OutageDraft, publish_outage
from storage.database import make_engine
from storage.demo import seed_demo
from storage.migrate import migrate
from storage.outbox import OutboxQueue
from storage.uow import SqlAlchemyUnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
SERVER = os.environ.get("KABINET_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--database", default="kabinet_bench_broadcast")
    parser.add_argument("--raised-limit", type=float, default=2000.0)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured per phase")
    parser.add_argument("--kill-after", type=float, default=3.0, help="seconds of sending")
    parser.add_argument("--repeat", type=int, default=3, help="target + enqueue runs")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    return parser.parse_args(argv)


async def _database(name: str) -> str:
    connection = await asyncpg.connect(SERVER, timeout=5)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(
                f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"
            )
    finally:
        await connection.close()
    base = SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _prepare(engine: AsyncEngine, accounts: int) -> int:
    await migrate(engine)
    async with engine.connect() as connection:
        have = await connection.scalar(text("SELECT count(*) FROM accounts"))
    if have < accounts:
        started = time.perf_counter()
        await seed_demo(engine, datetime.now(UTC), extra_accounts=accounts)
        print(f"seeded {accounts} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    await subscribe_accounts(engine, datetime.now(UTC))
    async with engine.begin() as connection:
        # Each run starts from an empty outbox and no outages of earlier runs.
        await connection.execute(text("DELETE FROM outbox"))
        await connection.execute(text("DELETE FROM outages WHERE external_id LIKE 'bench-%'"))
        await connection.execute(text("ANALYZE"))
        return await connection.scalar(text("SELECT count(*) FROM account_links"))


async def _publish_all(
    uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine, tag: str, dsos: list[int] | None
) -> tuple[int, float]:
    """One outage per DSO over all its groups; (rows queued, seconds)."""
    async with engine.connect() as connection:
        pairs = (
            await connection.execute(
                text(
                    "SELECT DISTINCT dso_id, outage_group FROM accounts"
                    " WHERE outage_group IS NOT NULL"
                )
            )
        ).all()
    groups: dict[int, list[str]] = {}
    for dso_id, group in pairs:
        if dsos is None or dso_id in dsos:
            groups.setdefault(dso_id, []).append(group)
    now = datetime.now(UTC)
    started = time.perf_counter()
    async with uow_factory() as uow:
        for dso_id, names in sorted(groups.items()):
            await publish_outage(
                uow,
                OutageDraft(
                    OutageKind.EMERGENCY,
                    dso_id,
                    now,
                    None,
                    "Бенчмарк",
                    tuple(OutageTarget(outage_group=name) for name in sorted(names)),
                    external_id=f"bench-{tag}-{dso_id}",
                ),
                now,
            )
        await uow.commit()
    seconds = time.perf_counter() - started
    async with engine.connect() as connection:
        queued = await connection.scalar(
            text("SELECT count(*) FROM outbox WHERE event LIKE :p"), {"p": "outage:%"}
        )
    return queued, seconds


async def _serve(url: str, base: str, log: Path, **env: str):
    sys.path.insert(0, str(ROOT))
    from tests.pushes.processes import start_serve

    return await start_serve(url, base, log, scheduler=False, **env)


def _rate(times: list[float], skip: float = 1.0) -> float:
    """Messages per second over the whole seconds after the first `skip` seconds (the
    start-up ramp left out): a count in a fixed window, not first-to-last, so a limiter
    that sends in steps is measured fairly."""
    if len(times) < 2:
        return 0.0
    start = times[0] + skip
    seconds = int(times[-1] - start)
    if seconds < 1:
        return 0.0
    return sum(1 for t in times if start <= t < start + seconds) / seconds


async def _throughput(url: str, fake, limit: float | None, seconds: float, log: Path) -> float:
    from tests.pushes.processes import stop

    env = {"DELIVERY_BATCH": "200"}
    if limit is not None:
        env["DELIVERY_RATE_TELEGRAM"] = str(limit)
    fake.calls.clear()
    served = await _serve(url, fake_base(fake), log, **env)
    await asyncio.sleep(seconds + 1.0)
    await stop(served)
    times = [call.at for call in fake.calls if call.method == "sendMessage"]
    return _rate(times)


def fake_base(fake) -> str:
    return str(fake._server.make_url("")).rstrip("/")


async def _settled(queue: OutboxQueue) -> bool:
    counts = await queue.counts()
    return not any(counts.get(s) for s in ("pending", "claimed", "sending"))


async def _kill_run(
    url: str,
    engine: AsyncEngine,
    uow_factory,
    fake,
    kill_after: float,
    tmp: Path,
) -> dict[str, object]:
    from tests.pushes.processes import stop

    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM outbox"))
        dso = await connection.scalar(text("SELECT min(dso_id) FROM accounts"))
    queued, _ = await _publish_all(uow_factory, engine, f"kill-{time.time():.0f}", [dso])
    fake.calls.clear()
    env = {"DELIVERY_RATE_TELEGRAM": "1000", "DELIVERY_LEASE_SECONDS": "3", "DELIVERY_BATCH": "100"}
    first = await _serve(url, fake_base(fake), tmp / "kill-first.log", **env)
    sent_before = 0
    deadline = time.monotonic() + 60
    # Kill once it has been sending for `kill_after` seconds (or a third is out).
    while time.monotonic() < deadline:
        sent_before = sum(1 for c in fake.calls if c.method == "sendMessage")
        if sent_before and (sent_before >= queued // 3):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(kill_after if sent_before < queued // 3 else 0)
    first.process.send_signal(signal.SIGKILL)
    await first.process.wait()
    sent_at_kill = sum(1 for c in fake.calls if c.method == "sendMessage")
    second = await _serve(url, fake_base(fake), tmp / "kill-second.log", **env)
    queue = OutboxQueue(engine, "bench")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not await _settled(queue):  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    await asyncio.sleep(0.5)
    await stop(second)
    async with engine.connect() as connection:
        recipients = set(
            await connection.scalars(
                text(
                    "SELECT CAST(i.external_id AS BIGINT) FROM outbox o "
                    "JOIN channel_identities i ON i.id = o.identity_id"
                )
            )
        )
    per_chat = Counter(c.chat_id for c in fake.calls if c.method == "sendMessage")
    return {
        "recipients": queued,
        "sent_at_kill": sent_at_kill,
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "losses": len(recipients - set(per_chat)),
        "outbox": await queue.counts(),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    """All phases; the figures."""
    sys.path.insert(0, str(ROOT))
    from tests.channels.fake_telegram import FakeTelegram

    url = await _database(args.database)
    engine = make_engine(url)
    figures: dict[str, object] = {"accounts": args.accounts}
    try:
        subscribers = await _prepare(engine, args.accounts)
        figures["subscribers"] = subscribers
        uow_factory = SqlAlchemyUnitOfWorkFactory(engine)
        runs: list[float] = []
        for number in range(args.repeat):
            if number:
                async with engine.begin() as connection:
                    await connection.execute(text("DELETE FROM outbox"))
                    await connection.execute(
                        text("DELETE FROM outages WHERE external_id LIKE 'bench-%'")
                    )
            queued, seconds = await _publish_all(
                uow_factory, engine, f"all-{number}-{time.time():.0f}", None
            )
            runs.append(seconds)
            print(f"target + enqueue: {queued} rows in {seconds:.2f} s", flush=True)
        figures["enqueued"] = queued
        figures["enqueue_seconds"] = round(min(runs), 2)
        figures["enqueue_runs"] = ", ".join(f"{run:.2f}" for run in runs)
        # The same publication again queues nothing (the import re-run case).
        fake = FakeTelegram()
        await fake.start()
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            try:
                raised = await _throughput(
                    url, fake, args.raised_limit, args.seconds, tmp / "raised.log"
                )
                figures["raised_limit"] = args.raised_limit
                figures["raised_rate"] = round(raised, 1)
                print(f"raised limit {args.raised_limit}/s: {raised:.1f} msg/s", flush=True)
                default = await _throughput(url, fake, None, args.seconds, tmp / "default.log")
                figures["default_rate"] = round(default, 2)
                print(f"default limit 30/s: {default:.2f} msg/s ({default / 30:.1%})", flush=True)
                kill = await _kill_run(url, engine, uow_factory, fake, args.kill_after, tmp)
                figures["kill"] = kill
                print(f"kill -9: {kill}", flush=True)
            finally:
                await fake.close()
    finally:
        await engine.dispose()
    return figures


def _section(figures: dict[str, object], args: argparse.Namespace) -> str:
    kill = figures["kill"]
    assert isinstance(kill, dict)
    default = float(figures["default_rate"])  # type: ignore[arg-type]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "## Broadcast\n\n"
        f"`python -m bench.broadcast` (`make bench-broadcast`), {stamp}; 2 CPU cores shared "
        "with PostgreSQL, the fake Bot API server, the bot process and other work on the "
        "machine, so figures are noisy. PostgreSQL on 127.0.0.1; Telegram pushes from a real "
        "`kabinet serve --no-scheduler` process to the local fake Bot API "
        "(tests/channels/fake_telegram.py).\n\n"
        "| figure | value | target |\n|---|---|---|\n"
        f"| accounts (seed_demo extra) / subscribers | {figures['accounts']} / "
        f"{figures['subscribers']} | |\n"
        f"| target + enqueue, one emergency outage per DSO over all groups | "
        f"{figures['enqueued']} rows in **{figures['enqueue_seconds']} s** (best of "
        f"{args.repeat}: {figures['enqueue_runs']} s) | ≤ 5 s |\n"
        f"| delivery, limit raised to {figures['raised_limit']:.0f}/s | "
        f"{figures['raised_rate']} msg/s | |\n"
        f"| delivery at the default limit 30/s | {default} msg/s (**{default / 30:.1%}**) | "
        "≥ 95 % |\n"
        f"| kill -9 mid-broadcast ({kill['recipients']} recipients, killed after "
        f"{kill['sent_at_kill']} sent, restarted) | duplicates **{kill['duplicates']}**, "
        f"losses **{kill['losses']}** | 0 and 0 |\n\n"
        f"Outbox after the kill run: {kill['outbox']}. Rows a killed worker had marked "
        "`sending` become `uncertain` and are not sent again; rows it had only claimed go "
        "back to the queue after the lease (3 s here, DELIVERY_LEASE_SECONDS).\n"
    )


def _write(section: str) -> None:
    """Replace this benchmark's part of "## Broadcast" (up to its first "### " subsection,
    which other broadcast benchmarks own, or the next "## " section)."""
    text_now = RESULTS.read_text()
    start = text_now.find("## Broadcast\n")
    if start == -1:
        RESULTS.write_text(text_now.rstrip("\n") + "\n\n" + section)
        return
    ends = [
        i for i in (text_now.find("\n### ", start), text_now.find("\n## ", start + 1)) if i != -1
    ]
    end = min(ends) if ends else len(text_now)
    RESULTS.write_text(text_now[:start] + section.rstrip("\n") + "\n" + text_now[end:])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every target is met."""
    args = _args(argv)
    figures = asyncio.run(run(args))
    section = _section(figures, args)
    print(section)
    if args.write:
        _write(section)
    kill = figures["kill"]
    assert isinstance(kill, dict)
    ok = (
        float(figures["enqueue_seconds"]) <= 5  # type: ignore[arg-type]
        and float(figures["default_rate"]) >= 0.95 * 30  # type: ignore[arg-type]
        and kill["duplicates"] == 0
        and kill["losses"] == 0
    )
    return 0 if ok else 1
