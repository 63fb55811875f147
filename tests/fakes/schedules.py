"""The schedule store port in memory (versions, settings, pushes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from core.ports import AbstractScheduleStore
from core.schedules import DaySchedule, ScheduleSettings
from tests.fakes.data import FakeRepo
from tests.fakes.outbox import FakeOutbox


class FakeScheduleStore(FakeRepo, AbstractScheduleStore):
    """Schedule versions and settings beside FakeData; pushes through FakeOutbox's rules
    (the text in the person's language, as the SQL CASE picks it)."""

    @property
    def _versions(self) -> list[DaySchedule]:
        return self.data.schedule_versions

    @property
    def _settings(self) -> dict[int, ScheduleSettings]:
        return self.data.schedule_settings

    async def latest(self, group: str, day: date) -> DaySchedule | None:
        found = [s for s in self._versions if s.group == group and s.day == day]
        return max(found, key=lambda s: s.version) if found else None

    async def add(self, schedule: DaySchedule) -> DaySchedule:
        self._versions.append(schedule)
        return schedule

    async def confirm(self, schedule: DaySchedule, at: datetime) -> None:
        self._versions[:] = [
            replace(s, confirmed_at=at)
            if (s.group, s.day, s.version) == (schedule.group, schedule.day, schedule.version)
            else s
            for s in self._versions
        ]

    async def latest_for_days(
        self, days: Sequence[date], groups: Sequence[str] | None = None
    ) -> Sequence[DaySchedule]:
        keys = {(s.group, s.day) for s in self._versions if s.day in days}
        if groups is not None:
            keys = {key for key in keys if key[0] in groups}
        found = [await self.latest(group, day) for group, day in sorted(keys)]
        return [s for s in found if s is not None]

    async def settings(self, person_id: int) -> ScheduleSettings:
        return self._settings.get(person_id, ScheduleSettings())

    async def save_settings(self, person_id: int, settings: ScheduleSettings) -> None:
        self._settings[person_id] = settings

    def _members(self, group: str) -> set[int]:
        hit = {a.id for a in self.data.accounts.values() if a.outage_group == group}
        return {person for (person, account) in self.data.links if account in hit}

    async def _push(self, people: set[int], event, subject, texts, now) -> int:  # type: ignore[no-untyped-def]
        outbox = FakeOutbox(self.data)
        queued = 0
        for person_id in sorted(people):
            person = self.data.persons.get(person_id)
            language = ((person.locale if person else None) or "uk")[:2]
            body = texts.get(language) or texts.get("uk") or next(iter(texts.values()))
            queued += await outbox._add(
                person_id, event, subject, "outages_planned", {"kind": "text", "text": body}, now
            )
        return queued

    async def enqueue_group(self, group, event, subject, texts, now) -> int:  # type: ignore[no-untyped-def]
        return await self._push(self._members(group), event, subject, texts, now)

    async def enqueue_reminder(  # type: ignore[no-untyped-def]
        self, group, event, subject, texts, now, *, minutes_left, before_on, local_minute
    ) -> int:
        people = set()
        for person_id in self._members(group):
            settings = await self.settings(person_id)
            low, high = settings.quiet_from, settings.quiet_to
            quiet = (
                low is not None
                and high is not None
                and (low <= local_minute < high if low < high else not high <= local_minute < low)
            )
            if (
                settings.remind_minutes > 0
                and minutes_left <= settings.remind_minutes
                and not quiet
                and (settings.remind_on or not before_on)
            ):
                people.add(person_id)
        return await self._push(people, event, subject, texts, now)
