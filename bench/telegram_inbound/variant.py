"""`kabinet serve` with what-if changes, to measure proposals without editing the code.

    python -m bench.telegram_inbound.variant serve --no-scheduler

Environment switches (each off unless set):
- BENCH_ASYNCIO_LOOP=1: asyncio's own event loop instead of uvloop;
- BENCH_POOL=N: PostgreSQL engines with a fixed pool of N connections, no overflow, no
  pre-ping (storage.database's own is the same with N = 15);
- BENCH_ASYNC_COMMIT=1: PostgreSQL sessions with `synchronous_commit = off` (a commit does
  not wait for the WAL flush; a crash can lose the last fraction of a second of commits);
- BENCH_NULL_DIALOG=1: the dialog answers "ok" without touching the database, which
  leaves the cost of Kabinet's Telegram plumbing alone (compare with the echo bot);
- BENCH_QUERIES=1: count SQL statements and print statements per dialog turn at exit;
- BENCH_PROFILE=path: cProfile the whole server, stats written to `path` at exit.
Only this benchmark uses it; it changes nothing in the project.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import sys
from typing import Any


def _apply() -> None:
    import storage.database

    if os.environ.get("BENCH_POOL") or os.environ.get("BENCH_ASYNC_COMMIT"):
        size = int(os.environ.get("BENCH_POOL") or 15)
        server_settings = {"application_name": "kabinet"}
        if os.environ.get("BENCH_ASYNC_COMMIT"):
            server_settings["synchronous_commit"] = "off"
        original = storage.database.make_engine

        def fixed_pool(url: Any, *, echo: bool = False) -> Any:
            from sqlalchemy.engine import make_url
            from sqlalchemy.ext.asyncio import create_async_engine

            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite":
                return original(url, echo=echo)
            return create_async_engine(
                parsed,
                pool_size=size,
                max_overflow=0,
                pool_pre_ping=False,
                pool_recycle=1800,
                connect_args={"server_settings": server_settings},
            )

        storage.database.make_engine = fixed_pool
        import app.compose

        app.compose.make_engine = fixed_pool  # type: ignore[attr-defined]

    if os.environ.get("BENCH_NULL_DIALOG"):
        import app.compose
        from bot.menu import main_menu
        from bot.messages import Reply

        async def null_handle(self: Any, event_: Any) -> Any:
            return [Reply("ok", main_menu(self.catalogues.translator("uk")))]

        app.compose.App.handle = null_handle  # type: ignore[method-assign]

    if os.environ.get("BENCH_QUERIES"):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        counts = {"statements": 0}

        @event.listens_for(Engine, "before_cursor_execute")
        def count(*_: Any) -> None:
            counts["statements"] += 1

        import app.compose

        original_handle = app.compose.App.handle
        turns = {"n": 0}

        async def counted(self: Any, event_: Any) -> Any:
            turns["n"] += 1
            return await original_handle(self, event_)

        app.compose.App.handle = counted  # type: ignore[method-assign]

        def report() -> None:
            per_turn = counts["statements"] / max(1, turns["n"])
            print(
                f"variant: {turns['n']} turns, {per_turn:.1f} SQL statements per turn",
                file=sys.stderr,
                flush=True,
            )

        atexit.register(report)

    if os.environ.get("BENCH_ASYNCIO_LOOP"):
        import app.cli

        app.cli._server_loop_factory = lambda: None  # type: ignore[attr-defined]


def main() -> int:
    """Apply the switches and run the `kabinet` command line."""
    _apply()
    from app.cli import main as kabinet

    path = os.environ.get("BENCH_PROFILE")
    if not path:
        return kabinet(sys.argv[1:])
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return kabinet(sys.argv[1:])
    finally:
        profiler.disable()
        profiler.dump_stats(path)


if __name__ == "__main__":
    raise SystemExit(main())
