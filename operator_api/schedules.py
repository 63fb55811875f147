"""Outage schedules for the operator: publish or replace schedules of groups and days
(JSON), import the community hourly layout, read a stored schedule; API and CLI alike.

Idempotent: the same schedule again creates no version and queues no push (it only counts
as the source confirming its data); different slots make a new version, pushed to the
group's people as a change. Push texts come from the bot's catalogues, loaded once, on
first use, off the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.i18n import Catalogues
from bot.pushes import push_texts
from core.records import DaySchedule
from core.schedules import (
    PublishOutcome,
    ScheduleDraft,
    ScheduleInvalid,
    parse_hourly_document,
    publish_schedules,
    slots_from_intervals,
)
from operator_api import models as m
from operator_api import strict_json
from operator_api.operations import Operator, OperatorError, bad_request, not_found

_catalogues: dict[str, Catalogues] = {}


async def _texts(operator: Operator) -> Any:
    if "loaded" not in _catalogues:
        # Reading the .po files is file I/O: not on the event loop.
        _catalogues["loaded"] = await asyncio.to_thread(Catalogues)
    return push_texts(_catalogues["loaded"], operator.zone)


def drafts_of(body: m.SchedulesIn, now: datetime) -> list[ScheduleDraft]:
    """Drafts for every (group, day) of a publication; 400 on nonsense."""
    drafts = []
    for index, item in enumerate(body.schedules):
        try:
            slots = item.slots or slots_from_intervals(
                {"from": i.from_, "to": i.to, "state": i.state} for i in item.intervals or ()
            )
        except ScheduleInvalid as error:
            raise bad_request(str(error), f"schedules.{index}.intervals") from None
        for group in item.groups:
            drafts.append(ScheduleDraft(group, item.day, slots, item.published_at or now))
    return drafts


async def publish(operator: Operator, drafts: list[ScheduleDraft]) -> m.SchedulesPublishOut:
    """Store the drafts in one transaction and queue pushes for real changes."""
    texts = await _texts(operator)
    async with operator.uow_factory() as uow:
        try:
            outcome = await publish_schedules(
                uow, drafts, operator.clock.now(), operator.zone, texts
            )
        except ScheduleInvalid as error:
            raise bad_request(str(error), "schedules") from None
        await uow.commit()
    return _out(outcome)


async def import_hourly(operator: Operator, document: dict) -> m.SchedulesPublishOut:
    """The community hourly layout, published like any schedule."""
    try:
        drafts = parse_hourly_document(document, operator.zone, operator.clock.now())
    except ScheduleInvalid as error:
        raise bad_request(str(error), "days") from None
    return await publish(operator, drafts)


async def latest(operator: Operator, group: str, day: date) -> m.ScheduleOut:
    """The newest version of a group's day."""
    async with operator.uow_factory() as uow:
        schedule = await uow.schedules.latest(group, day)
    if schedule is None:
        raise not_found("schedule")
    return _schedule_out(schedule)


def _ref(schedule: DaySchedule) -> m.ScheduleRefOut:
    return m.ScheduleRefOut(group=schedule.group, day=schedule.day, version=schedule.version)


def _out(outcome: PublishOutcome) -> m.SchedulesPublishOut:
    return m.SchedulesPublishOut(
        created=[_ref(s) for s in outcome.created],
        unchanged=[_ref(s) for s in outcome.unchanged],
        queued=outcome.queued,
    )


def _schedule_out(schedule: DaySchedule) -> m.ScheduleOut:
    return m.ScheduleOut(
        group=schedule.group,
        day=schedule.day,
        version=schedule.version,
        slots=schedule.slots,
        published_at=schedule.published_at,
        confirmed_at=schedule.as_of,
    )


# --- CLI -------------------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    """`kabinet schedule publish FILE` and `kabinet schedule import FILE`."""
    schedule = commands.add_parser("schedule", help="publish or import outage schedules")
    actions = schedule.add_subparsers(dest="action", required=True)
    publish_cmd = actions.add_parser("publish", help="FILE: the JSON of POST /api/v1/schedules")
    publish_cmd.add_argument("file")
    imp = actions.add_parser("import", help="FILE: the hourly yes/no/maybe-per-group layout")
    imp.add_argument("file")


async def run(session: AbstractAsyncContextManager[Operator], args: argparse.Namespace) -> int:
    """Run `kabinet schedule ...` on the operator `session` opens; the exit code (0 done,
    1 refused, 2 unusable input)."""
    try:
        content = await asyncio.to_thread(_read, args.file)
        document = strict_json.loads(content)
        body = m.SchedulesIn.model_validate(document) if args.action == "publish" else None
        hourly = m.ScheduleHourlyIn.model_validate(document) if body is None else None
    except (OSError, ValueError, ValidationError) as error:
        print(f"kabinet: unusable input: {error}", file=sys.stderr)
        return 2
    try:
        async with session as operator:
            if body is not None:
                out = await publish(operator, drafts_of(body, operator.clock.now()))
            else:
                assert hourly is not None
                out = await import_hourly(operator, hourly.model_dump(mode="json"))
        print(out.model_dump_json(indent=2))
        return 0
    except OperatorError as error:
        print(f"kabinet: {error.message}", file=sys.stderr)
        for problem in error.problems:
            print(f"{problem.field or 'input'}: {problem.reason}", file=sys.stderr)
        return 1


def _read(name: str) -> bytes:
    return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
