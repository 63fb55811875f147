"""`kabinet import`, `kabinet outage` and `kabinet export-readings`: the operator API from a
shell, through the same operations (and the same rules and messages) as /api/v1.

Results go to stdout as JSON (or CSV for an export); problems go to stderr one a line,
`line N, FIELD: REASON`. Exit codes: 0 done, 1 refused (bad rows, unknown id, conflict),
2 unusable input (a file that cannot be read, JSON that does not fit the model).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, TypeAdapter, ValidationError

from core.imports import ImportKind
from core.records import ReadingExport
from operator_api import models as m
from operator_api.operations import Format, Operator, OperatorError, readings_csv

COMMANDS = ("import", "outage", "export-readings")
EXPORT_PAGE = 10_000


def add_commands(commands: Any) -> None:
    """Add the operator's subcommands to the `kabinet` parser."""
    kinds = [kind.value for kind in ImportKind]
    imp = commands.add_parser("import", help="import billing data (CSV or JSON), as the API")
    imp.add_argument("kind", choices=kinds)
    imp.add_argument("file", help="a CSV or JSON file; - reads stdin")
    imp.add_argument("--format", choices=("csv", "json"), help="default: by file extension")
    imp.add_argument("--skip-bad", action="store_true", help="write good rows, skip bad ones")

    outage = commands.add_parser("outage", help="publish, update, cancel or restore an outage")
    actions = outage.add_subparsers(dest="action", required=True)
    publish = actions.add_parser("publish", help="FILE: the JSON of POST /api/v1/outages")
    publish.add_argument("file")
    change = actions.add_parser("update", help="FILE: the JSON of PATCH /api/v1/outages/ID")
    change.add_argument("id", type=int)
    change.add_argument("file")
    cancel = actions.add_parser("cancel", help="cancel; those already told are told")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--reason", default="")
    restore = actions.add_parser("restore", help="power is back")
    restore.add_argument("id", type=int)
    restore.add_argument("--at", default=None, help="ISO 8601 time with offset; default now")

    export = commands.add_parser("export-readings", help="submitted readings since a time")
    export.add_argument("--since", required=True, help="ISO 8601 time with offset")
    export.add_argument("--until", default=None, help="ISO 8601 time with offset")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--output", default="-", help="a file; - is stdout")


async def run(session: AbstractAsyncContextManager[Operator], args: argparse.Namespace) -> int:
    """Run one operator subcommand on the operator `session` opens; the exit code."""
    try:
        async with session as operator:
            command = {
                "import": _import,
                "outage": _outage,
                "export-readings": _export,
            }[args.command]
            return await command(operator, args)
    except OperatorError as error:
        _problems(error)
        return 2 if error.status in (413, 415) else 1
    except _Unusable as error:
        print(f"kabinet: {error}", file=sys.stderr)
        return 2


class _Unusable(Exception):
    """Input the command cannot use (unreadable file, JSON not fitting the model)."""


def _problems(error: OperatorError) -> None:
    print(f"kabinet: {error.message}", file=sys.stderr)
    for problem in error.problems:
        where = f"line {problem.line}" if problem.line else "input"
        field = f", {problem.field}" if problem.field else ""
        print(f"{where}{field}: {problem.reason}", file=sys.stderr)
    if error.report is not None:
        print(m.ImportReportOut.of(error.report).model_dump_json(indent=2))


def _read(name: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as error:
        raise _Unusable(f"cannot read {name}: {error.strerror}") from None


def _model(model: type[Any], content: bytes) -> Any:
    try:
        return model.model_validate_json(content)
    except ValidationError as error:
        lines = [
            f"{'.'.join(str(p) for p in item['loc']) or 'body'}: {item['msg']}"
            for item in error.errors(include_url=False)
        ]
        raise _Unusable("invalid JSON:\n" + "\n".join(lines)) from None


def _time(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    adapter: TypeAdapter[Any] = TypeAdapter(m.Time)
    try:
        return adapter.validate_python(text)
    except ValidationError as error:
        raise _Unusable(f"--{name}: {error.errors()[0]['msg']}") from None


def _print(model: BaseModel) -> None:
    print(model.model_dump_json(indent=2))


async def _import(operator: Operator, args: argparse.Namespace) -> int:
    fmt: Format = args.format or ("csv" if args.file.lower().endswith(".csv") else "json")
    report = await operator.import_batch(
        ImportKind(args.kind), await asyncio.to_thread(_read, args.file), fmt, args.skip_bad
    )
    _print(m.ImportReportOut.of(report))
    for problem in report.problems:
        print(f"line {problem.line}, {problem.field or '-'}: {problem.reason}", file=sys.stderr)
    return 0


async def _outage(operator: Operator, args: argparse.Namespace) -> int:
    actions: dict[str, Callable[[], Awaitable[Any]]] = {
        "publish": lambda: _publish(operator, args.file),
        "update": lambda: _update(operator, args.id, args.file),
        "cancel": lambda: operator.cancel_outage(args.id, args.reason),
        "restore": lambda: operator.restore_outage(args.id, _time(args.at, "at")),
    }
    outage = await actions[args.action]()
    _print(m.OutageOut.of(outage))
    return 0


async def _publish(operator: Operator, file: str) -> Any:
    body = _model(m.OutageIn, await asyncio.to_thread(_read, file))
    outage, _ = await operator.publish_outage(body.draft())
    return outage


async def _update(operator: Operator, outage_id: int, file: str) -> Any:
    body = _model(m.OutageUpdateIn, await asyncio.to_thread(_read, file))
    return await operator.update_outage(outage_id, body.changes())


async def _export(operator: Operator, args: argparse.Namespace) -> int:
    since, until = _time(args.since, "since"), _time(args.until, "until")
    assert since is not None
    readings: list[ReadingExport] = []
    after_id = 0
    while True:  # every page: the file is for billing, not for a screen
        page = await operator.submitted_readings(since, until, after_id, EXPORT_PAGE)
        readings.extend(page)
        if len(page) < EXPORT_PAGE:
            break
        after_id = page[-1].id
    if args.format == "csv":
        text = readings_csv(readings)
    else:
        text = json.dumps(
            [json.loads(m.ReadingOut.of(reading).model_dump_json()) for reading in readings],
            ensure_ascii=False,
            indent=2,
        )
    await asyncio.to_thread(_write, args.output, text)
    print(f"kabinet: {len(readings)} readings exported", file=sys.stderr)
    return 0


def _write(name: str, text: str) -> None:
    out: TextIO
    if name == "-":
        sys.stdout.write(text)
        return
    with open(name, "w", encoding="utf-8", newline="") as out:
        out.write(text)
