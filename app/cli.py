"""The `kabinet` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from app.settings import ConfigError, Settings, load_settings
from observability.logs import configure_logging, quiet_chatty_libraries
from operator_api import cli as operator_commands
from operator_api import schedules as schedule_commands
from storage.database import DatabaseUnreachable

if TYPE_CHECKING:
    from payments.local import LocalEasyPay


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kabinet", description=__doc__)
    parser.add_argument("--version", action="version", version=f"kabinet {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="migrate the database, load demo data, open a console chat")
    chat = commands.add_parser("chat", help="console chat against the configured database")
    chat.add_argument("--user", default="console", help="the console user's id")
    chat.add_argument("--locale", default=None, help="the user's language (uk, en)")
    serve = commands.add_parser("serve", help="HTTP server: webhooks, payments, operator API")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run scheduled jobs")
    commands.add_parser("migrate", help="create or upgrade the database schema")
    seed = commands.add_parser("seed-demo", help="load demo data (idempotent)")
    seed.add_argument("--accounts", type=int, default=0, help="also make N synthetic accounts")
    ocr = commands.add_parser("ocr", help="read meter photos: FILE<TAB>READING<TAB>CONFIDENCE")
    ocr.add_argument("--previous", type=int, default=None, help="the previous reading (a prior)")
    ocr.add_argument("files", nargs="+")
    operator_commands.add_commands(commands)
    schedule_commands.add_commands(commands)
    return parser


def _version() -> str:
    """The installed package's version (pyproject's), or "unknown" when run from a tree
    that was never installed."""
    try:
        return metadata.version("kabinet")
    except metadata.PackageNotFoundError:
        return "unknown"


def _secret_values(settings: Settings) -> Iterator[str]:
    """Every secret of the settings, to be hidden wherever it would reach a log."""
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
    for name in ("easypay_partner_key", "easypay_service_key"):
        value = getattr(settings, name)
        if value:
            yield value
    password = make_url(settings.database_url).password
    if password:
        yield str(password)


def _configure_logging(settings: Settings, console: bool) -> None:
    # In a console chat, logs would mix with the conversation on stdout: they go to stderr,
    # and only warnings.
    level = logging.WARNING if console else getattr(logging, settings.log_level.upper(), 20)
    configure_logging(
        level,
        json_lines=settings.log_format.lower() == "json",
        secret_values=_secret_values(settings),
    )
    quiet_chatty_libraries()


async def _check_database(settings: Settings) -> None:
    """Stop with one line (DatabaseUnreachable) when the database does not answer."""
    from storage.database import check_reachable, make_engine

    engine = make_engine(settings.database_url)
    try:
        await check_reachable(engine)
    finally:
        await engine.dispose()


async def _chat(settings: Settings, user: str, locale: str | None, demo: bool) -> None:
    await _check_database(settings)
    fake_payments = settings.easypay_fake if settings.easypay_fake is not None else demo
    if not fake_payments:
        await _console(settings, user, locale, demo, None)
        return
    from payments.local import LocalEasyPay  # aiohttp loads only when paying locally

    async with LocalEasyPay() as local:
        await _console(settings, user, locale, demo, local)


async def _console(
    settings: Settings, user: str, locale: str | None, demo: bool, local: LocalEasyPay | None
) -> None:
    from app.compose import build_app, build_console_pushes, payment_callbacks
    from bot.channels.console import ConsoleChannel

    payments = local.provider if local is not None else None
    app = await build_app(settings, run_migrations=demo, payments=payments)
    try:
        if demo:
            from storage.demo import seed_demo

            await seed_demo(app.engine, app.clock.now())
        console = ConsoleChannel(app.handle, user, locale=locale)
        # Pushes to this console user (a payment's thanks, an operator's answer, a schedule
        # change queued by another process) show in the chat as in a messenger.
        pushes = build_console_pushes(app, console)
        if local is not None:
            # The fake EasyPay's notifications settle orders and queue the receipt here.
            callbacks = payment_callbacks(app, [console])
            assert callbacks is not None, "the local EasyPay gives the app an EasyPay provider"
            await local.serve_callbacks(callbacks)
        await pushes.start()
        try:
            await console.run()
        finally:
            await pushes.stop()
    finally:
        await app.close()


async def _serve(settings: Settings, scheduler: bool = True) -> None:
    from app.compose import build_app, build_channels, build_pushes
    from app.server import serve

    await _check_database(settings)
    app = await build_app(settings)
    try:
        channels = build_channels(app)
        # Delivery workers (and the scheduler unless --no-scheduler) run beside the server.
        pushes = build_pushes(app, channels, scheduler=scheduler)
        await pushes.start()
        try:
            await serve(
                app,
                channels,
                settings.kabinet_host,
                settings.kabinet_port,
                before_channels_stop=pushes.stop,
            )
        finally:
            await pushes.stop()  # done already unless serving failed
    finally:
        await app.close()


async def _migrate(settings: Settings) -> None:
    from storage.database import make_engine
    from storage.migrate import migrate

    await _check_database(settings)
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _seed(settings: Settings, accounts: int) -> None:
    from app.compose import make_clock
    from storage.database import make_engine
    from storage.demo import seed_demo
    from storage.migrate import migrate

    await _check_database(settings)
    engine = make_engine(settings.database_url)
    try:
        await migrate(engine)
        created = await seed_demo(engine, make_clock(settings).now(), extra_accounts=accounts)
        print(", ".join(f"{name}: {count}" for name, count in created.items()) or "nothing new")
    finally:
        await engine.dispose()


def _server_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop for the server where it is installed, else asyncio's own.

    The server spends a quarter of its CPU in the event loop and socket calls (profile of a
    webhook under load); uvloop does that work in C.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `kabinet` command; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"kabinet: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings, console=args.command in ("demo", "chat", "ocr"))
    try:
        return _run(args, settings)
    except DatabaseUnreachable as error:
        print(f"kabinet: cannot reach the database {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("demo", "chat"):
        user = getattr(args, "user", "console")
        asyncio.run(
            _chat(settings, user, getattr(args, "locale", None), demo=args.command == "demo")
        )
    elif args.command == "serve":
        with asyncio.Runner(loop_factory=_server_loop_factory()) as runner:
            runner.run(_serve(settings, scheduler=not args.no_scheduler))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "seed-demo":
        asyncio.run(_seed(settings, args.accounts))
    elif args.command == "ocr":
        from ocr.cli import run

        return run(args.files, args.previous)
    elif args.command == "schedule" or args.command in operator_commands.COMMANDS:
        from app.compose import operator_session

        if args.command == "schedule":
            return asyncio.run(schedule_commands.run(operator_session(settings), args))
        return asyncio.run(operator_commands.run(operator_session(settings), args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
