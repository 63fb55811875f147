"""The import benchmark (`python -m bench.imports`, `make bench-imports`).

A real `kabinet serve` (no channels, no scheduler) on a fresh PostgreSQL database with the
demo data gets a `--rows`-row accounts CSV on `POST /api/v1/imports/accounts`, then the
same file again (every row unchanged). Meanwhile a poller asks `GET /livez` (the event
loop alone) and `GET /readyz` (a database round trip) one after the other without pause,
as a webhook would be answered during the import. Measured per import: its total time,
the longest answer of each probe while it ran, and the serving process's peak resident
memory (VmHWM) against its size before the first import.

`--tree PATH` runs the code of another checkout (e.g. the code before a change, exported
with `git archive`); its own interpreter environment is this one. Figures go to stdout
and, with `--write`, into the "## Imports" section of bench/RESULTS.md (one row per tree).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
from stdnum.eu import eic as stdnum_eic

from bench.results import replace_section
from bench.retention import drop_database, fresh_database

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-operator-token"
NOW = "2026-11-27T12:00:00+02:00"
HEADER = (
    "number,eic,holder_name,settlement,street,building,apartment,outage_group,dso_id,"
    "supplier_id,tariff_plan"
)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="accounts in the CSV")
    parser.add_argument(
        "--tree", action="append", default=[], metavar="LABEL=PATH",
        help="also run the code at PATH (repeatable); this tree always runs",
    )  # fmt: skip
    parser.add_argument(
        "--batch-rows", default="5000",
        help="IMPORT_BATCH_ROWS values to run this tree with (comma-separated)",
    )  # fmt: skip
    parser.add_argument(
        "--probe", action=argparse.BooleanOptionalAction, default=True,
        help="poll /livez and /readyz during the imports (--no-probe: the import alone)",
    )  # fmt: skip
    parser.add_argument("--database", default="kabinet_bench_imports")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    return parser.parse_args(argv)


# ---- the file -----------------------------------------------------------------------------


def _eic(n: int) -> str:
    for last in "0123456789":  # some bodies have no valid check character
        body = f"62Z{n:011d}{last}"
        candidate = body + stdnum_eic.calc_check_digit(body)
        if stdnum_eic.is_valid(candidate):
            return candidate
    raise ValueError(n)


def accounts_csv(rows: int, dso_id: int, supplier_id: int) -> bytes:
    """`rows` new accounts, as billing would send them (Ukrainian text, UTF-8)."""
    lines = [HEADER]
    for n in range(1, rows + 1):
        lines.append(
            f"30{n:08d},{_eic(300_000_000 + n)},Петренко П. П.,Київ,вул. Хрещатик,"
            f"{n % 200 + 1},{n % 90 or ''},{n % 6 + 1}.{n % 2 + 1},{dso_id},{supplier_id},single"
        )
    return ("\n".join(lines) + "\n").encode()


# ---- the server ---------------------------------------------------------------------------


def _environment(url: str, port: int, tree: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KABINET_", "DATABASE_", "TELEGRAM_", "VIBER_", "MESSENGER_"))
    }
    env.update(
        DATABASE_URL=url,
        KABINET_HOST="127.0.0.1",
        KABINET_PORT=str(port),
        KABINET_NOW=NOW,
        ADMIN_TOKEN=TOKEN,
        LOG_LEVEL="WARNING",
        DELIVERY_ENABLED="false",
        PYTHONPATH=str(tree),
    )
    return env


def _kabinet(env: dict[str, str], tree: Path, *command: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "app", *command], cwd=tree, env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _serve(env: dict[str, str], tree: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--no-scheduler"],
        cwd=tree, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) // 1024
    return found


# ---- the measurement ----------------------------------------------------------------------


async def _poll(session: aiohttp.ClientSession, base: str, stop: asyncio.Event,
                answers: dict[str, list[float]]) -> None:  # fmt: skip
    """GET /livez and /readyz one after the other until stopped; each answer's time."""
    while not stop.is_set():
        for path in ("/livez", "/readyz"):
            started = time.perf_counter()
            async with session.get(base + path) as response:
                await response.read()
            answers[path].append(time.perf_counter() - started)


async def _import(
    session: aiohttp.ClientSession, base: str, content: bytes, probe: bool
) -> dict[str, object]:
    answers: dict[str, list[float]] = {"/livez": [], "/readyz": []}
    stop = asyncio.Event()
    poller = asyncio.create_task(_poll(session, base, stop, answers) if probe else stop.wait())
    if probe:
        await asyncio.sleep(0.5)  # the poller's own answers before the import, for comparison
    quiet = {path: max(times, default=0) for path, times in answers.items()}
    for times in answers.values():
        times.clear()
    started = time.perf_counter()
    async with session.post(
        f"{base}/api/v1/imports/accounts",
        data=content,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/csv"},
    ) as response:
        report = await response.json()
        status = response.status
    seconds = time.perf_counter() - started
    stop.set()
    await poller
    return {
        "status": status,
        "seconds": round(seconds, 1),
        "inserted": report.get("inserted"),
        "unchanged": report.get("unchanged"),
        "livez_ms": round(max(answers["/livez"], default=0) * 1000),
        "readyz_ms": round(max(answers["/readyz"], default=0) * 1000),
        "quiet_ms": round(max(quiet.values()) * 1000),
        "polls": len(answers["/livez"]),
    }


async def run_tree(
    label: str, tree: Path, args: argparse.Namespace, extra: dict[str, str]
) -> dict[str, object]:
    """Both imports against the code at `tree`, with `extra` settings."""
    rows, database = args.rows, args.database
    url = await fresh_database(database)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    port = _free_port()
    env = {**_environment(url, port, tree), **extra}
    try:
        await asyncio.to_thread(_kabinet, env, tree, "migrate")
        await asyncio.to_thread(_kabinet, env, tree, "seed-demo")
        connection = await asyncpg.connect(dsn)
        try:
            dso_id = await connection.fetchval("SELECT min(id) FROM dsos")
            supplier_id = await connection.fetchval("SELECT min(id) FROM suppliers")
        finally:
            await connection.close()
        content = await asyncio.to_thread(accounts_csv, rows, dso_id, supplier_id)
        server = await asyncio.to_thread(_serve, env, tree)
        try:
            base = f"http://127.0.0.1:{port}"
            timeout = aiohttp.ClientTimeout(total=900)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                await _listening(session, base, server)
                before = _memory(server.pid)["VmRSS"]
                load = round(os.getloadavg()[0], 1)
                first = await _import(session, base, content, args.probe)
                print(label, "first", first, flush=True)
                second = await _import(session, base, content, args.probe)
                print(label, "again", second, flush=True)
                peak = _memory(server.pid)["VmHWM"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        await drop_database(database)
    return {"label": label, "bytes": len(content), "load": load, "rss_before": before,
            "rss_peak": peak, "first": first, "again": second}  # fmt: skip


async def _listening(session: aiohttp.ClientSession, base: str, server: subprocess.Popen) -> None:
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"kabinet serve exited with {server.returncode}")
        try:
            async with session.get(base + "/livez") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("kabinet serve is not listening")


def _section(figures: list[dict[str, object]], rows: int) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    size = int(figures[0]["bytes"]) / 1024 / 1024  # type: ignore[call-overload]
    lines = [
        "## Imports\n",
        f"`python -m bench.imports` (`make bench-imports`), {stamp}; 2 CPU cores shared by the "
        "benchmark, `kabinet serve` and PostgreSQL (127.0.0.1) and other work on the machine, "
        f"so times are noisy. A {rows:,}-row accounts CSV ({size:.1f} MB, Ukrainian text) is "
        "posted to `/api/v1/imports/accounts` of a `kabinet serve` on the demo data: first "
        "every row is new, then the same file again (every row unchanged). Meanwhile one "
        "client asks `/livez` (the event loop only) and `/readyz` (one database round trip) "
        "one after the other without pause (the stall of the event loop shows in whichever "
        "is in flight); the table gives the longest answer during the import and, for "
        "comparison, in the half second before it. Memory is the serving process's "
        "resident size before the first import and its peak (VmHWM) after both.\n",
        "| code | import | total | longest answer during it (/livez · /readyz) | "
        "longest before it | probes answered | RSS before → peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in figures:
        for name in ("first", "again"):
            run = row[name]
            assert isinstance(run, dict)
            what = (
                f"new: {run['inserted']:,} inserted"
                if name == "first"
                else f"again: {run['unchanged']:,} unchanged"
            )
            memory = f"{row['rss_before']} → **{row['rss_peak']} MiB**" if name == "again" else ""
            stall = max(run["livez_ms"], run["readyz_ms"])  # type: ignore[type-var]
            probes = (
                f"**{stall} ms** ({run['livez_ms']} · {run['readyz_ms']}) | {run['quiet_ms']} ms"
                if run["polls"]
                else "not probed | -"
            )
            lines.append(
                f"| {row['label']} | {what} (HTTP {run['status']}) | {run['seconds']} s | "
                f"{probes} | {run['polls']:,} | {memory} |"
            )
    loads = ", ".join(f"{row['label']}: {row['load']}" for row in figures)
    lines.append(
        f"\nLoad average at the start of each run: {loads} (2 cores). Before issue 18 point 6 "
        "the whole file was checked and upserted on the event loop after a parse in a "
        "thread: every other request waited for seconds, and all rows were in memory at "
        "once. Now the loop does one part's look-ups and upsert at a time and the checking "
        "runs in the import threads; what stall remains is a few hundred milliseconds on "
        "loaded cores (compare the column before the import). Memory no longer "
        "grows with the file's rows; what still grows with it is the set of keys seen (to "
        "find a key given twice) and the new rows' ids. The total can be longer than "
        "before: the probes are answered in between, and each part makes its own look-ups "
        "(the rows without probes show the import alone).\n"
    )
    return "\n".join(lines)


async def run(
    args: argparse.Namespace, trees: list[tuple[str, Path, dict[str, str]]]
) -> list[dict[str, object]]:
    return [await run_tree(label, tree, args, extra) for label, tree, extra in trees]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every import was answered 200 with every row counted."""
    args = _args(argv)
    trees = [
        (f"as committed, `IMPORT_BATCH_ROWS={size}`", ROOT, {"IMPORT_BATCH_ROWS": size})
        for size in args.batch_rows.split(",")
    ]
    for item in args.tree:
        label, _, path = item.partition("=")
        trees.append((label, Path(path).resolve(), {}))
    figures = asyncio.run(run(args, trees))
    section = _section(figures, args.rows)
    print(section)
    if args.write:
        replace_section("Imports", section)
    ok = all(
        row["first"]["status"] == 200  # type: ignore[index]
        and row["first"]["inserted"] == args.rows  # type: ignore[index]
        and row["again"]["unchanged"] == args.rows  # type: ignore[index]
        for row in figures
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
