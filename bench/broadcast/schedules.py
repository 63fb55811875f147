"""A schedule change for one group of 200,000 subscribers: target + enqueue on PostgreSQL
(`python -m bench.broadcast.schedules`, target ≤ 10 s, one INSERT ... SELECT).

1. A database of its own with `--subscribers` accounts in one outage group (set-based
   `generate_series`), each with a subscriber and a Telegram identity.
2. Version 1 of tomorrow's schedule is published and its pushes counted as delivered
   (untimed: a change comes hours after the first publication).
3. Timed: version 2 with different slots, through `core.schedules.publish_schedules` —
   the version stored, unsent pushes of version 1 withdrawn, the change pushed to everyone
   in the group. Repeated `--repeat` times with fresh versions; best and every run.
4. The same schedule again: nothing queued (timed too).

With `--write` the figures replace the "### Schedule change" part of "## Broadcast" in
bench/RESULTS.md (nothing else of the file).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.broadcast.population import subscribe_accounts
from bench.broadcast.run import RESULTS, _database
from core.schedules import ScheduleDraft, publish_schedules
from storage.database import make_engine
from storage.demo import seed_demo
from storage.migrate import migrate
from storage.uow import SqlAlchemyUnitOfWorkFactory

KYIV = ZoneInfo("Europe/Kyiv")
GROUP = "bench.1"
HEADING = "### Schedule change"


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast.schedules")
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--database", default="kabinet_bench_schedules")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    return parser.parse_args(argv)


async def _prepare(engine: AsyncEngine, subscribers: int) -> int:
    await migrate(engine)
    await seed_demo(engine, datetime.now(UTC))  # regions, DSOs, suppliers, a few accounts
    async with engine.begin() as connection:
        have = await connection.scalar(
            text("SELECT count(*) FROM accounts WHERE outage_group = :g"), {"g": GROUP}
        )
        if have < subscribers:
            dso = await connection.scalar(text("SELECT min(id) FROM dsos"))
            supplier = await connection.scalar(text("SELECT min(id) FROM suppliers"))
            await connection.execute(
                text(
                    "INSERT INTO accounts (number, eic, holder_name, settlement, street,"
                    " street_key, building, apartment, outage_group, dso_id, supplier_id,"
                    " contract_number, tariff_plan, opening_balance)"
                    " SELECT '7' || lpad(n::text, 9, '0'), '72Z' || lpad(n::text, 12, '0')"
                    " || 'X', 'Тест', 'Київ', 'вул. Графікова', 'графікова', '1', '', :g,"
                    " :dso, :supplier, '', 'single', 0"
                    " FROM generate_series(CAST(:low AS integer), CAST(:high AS integer)) n"
                ),
                {"g": GROUP, "dso": dso, "supplier": supplier, "low": have + 1,
                 "high": subscribers},
            )  # fmt: skip
    await subscribe_accounts(engine, datetime.now(UTC))
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM outbox"))
        await connection.execute(
            text("DELETE FROM outage_schedules WHERE outage_group = :g"), {"g": GROUP}
        )
        await connection.execute(text("ANALYZE"))
        return int(
            await connection.scalar(
                text(
                    "SELECT count(DISTINCT l.person_id) FROM account_links l"
                    " JOIN accounts a ON a.id = l.account_id WHERE a.outage_group = :g"
                ),
                {"g": GROUP},
            )
        )


def _texts(facts: dict) -> dict[str, str]:
    # Fixed texts: the benchmark measures storage, not the catalogues.
    return {"uk": f"Графік черги {facts['group']} змінився", "en": "The schedule changed"}


async def _publish(
    uow_factory: SqlAlchemyUnitOfWorkFactory, slots: str, now: datetime
) -> tuple[int, float]:
    tomorrow = now.astimezone(KYIV).date() + timedelta(days=1)
    started = time.perf_counter()
    async with uow_factory() as uow:
        outcome = await publish_schedules(
            uow, [ScheduleDraft(GROUP, tomorrow, slots, now)], now, KYIV, _texts
        )
        await uow.commit()
    return outcome.queued, time.perf_counter() - started


def _slots(run: int) -> str:
    # A different off window every run, so each publication is a real change.
    start = 2 * (run % 20)
    return "+" * start + "-" * 8 + "+" * (48 - start - 8)


async def run(args: argparse.Namespace) -> dict[str, object]:
    """Prepare, publish version 1, time the changes; the figures."""
    url = await _database(args.database)
    engine = make_engine(url)
    try:
        subscribers = await _prepare(engine, args.subscribers)
        uow_factory = SqlAlchemyUnitOfWorkFactory(engine)
        now = datetime.now(UTC)
        first, first_seconds = await _publish(uow_factory, _slots(0), now)
        print(f"version 1: {first} rows in {first_seconds:.2f} s", flush=True)
        runs: list[float] = []
        queued = 0
        for number in range(1, args.repeat + 1):
            async with engine.begin() as connection:
                # Earlier versions were delivered meanwhile (untimed).
                await connection.execute(text("UPDATE outbox SET status = 'sent'"))
            queued, seconds = await _publish(uow_factory, _slots(number), now)
            runs.append(seconds)
            print(f"change: {queued} rows in {seconds:.2f} s", flush=True)
        replayed, replay_seconds = await _publish(uow_factory, _slots(args.repeat), now)
        print(f"same schedule again: {replayed} rows in {replay_seconds:.2f} s", flush=True)
    finally:
        await engine.dispose()
    return {
        "subscribers": subscribers,
        "first": first,
        "first_seconds": round(first_seconds, 2),
        "queued": queued,
        "best": round(min(runs), 2),
        "runs": ", ".join(f"{r:.2f}" for r in runs),
        "replayed": replayed,
        "replay_seconds": round(replay_seconds, 3),
    }


def _section(figures: dict[str, object], repeat: int) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{HEADING} (`python -m bench.broadcast.schedules`, {stamp})\n\n"
        "One outage group with every subscriber in it; tomorrow's schedule changes; the "
        "change is stored as a new version and pushed to the group in one INSERT ... SELECT "
        "(route per person by the outbox's ranking, text per language). 2 CPU cores shared "
        "with PostgreSQL and other work, so figures are noisy.\n\n"
        "| figure | value | target |\n|---|---|---|\n"
        f"| subscribers in the group | {figures['subscribers']} | |\n"
        f"| first publication (version 1) | {figures['first']} rows in "
        f"{figures['first_seconds']} s | |\n"
        f"| schedule change: target + enqueue | {figures['queued']} rows in "
        f"**{figures['best']} s** (best of {repeat}: {figures['runs']} s) | ≤ 10 s |\n"
        f"| the same schedule again | {figures['replayed']} rows in "
        f"{figures['replay_seconds']} s | 0 rows |\n"
    )


def _write(section: str) -> None:
    content = RESULTS.read_text()
    start = content.find(HEADING)
    if start == -1:
        RESULTS.write_text(content.rstrip("\n") + "\n\n" + section)
        return
    end = content.find("\n#", start + 1)
    tail = "" if end == -1 else content[end + 1 :]
    RESULTS.write_text(content[:start] + section + ("\n" + tail if tail else ""))


def main(argv: list[str] | None = None) -> int:
    """Run it; 0 when the change is enqueued within 10 s and a replay queues nothing."""
    args = _args(argv)
    figures = asyncio.run(run(args))
    section = _section(figures, args.repeat)
    print(section)
    if args.write:
        _write(section)
    ok = float(figures["best"]) <= 10 and figures["replayed"] == 0  # type: ignore[arg-type]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
