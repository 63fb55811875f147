"""Meter readings: when they are taken, how they are written, and what they mean.

Rules (manual §6.3, DESIGN.md §1): readings are accepted in the last days of a month and
the first days of the next (Europe/Kyiv), one whole number per zone, never below the
previous reading unless the counter rolled over, and an implausible jump is confirmed.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.errors import (
    NoMeter,
    OutsideReadingWindow,
    ReadingBelowPrevious,
    ReadingFormatInvalid,
    ReadingTooLong,
)
from core.model import (
    Account,
    BillingReading,
    Consumption,
    Meter,
    Readings,
    ReadingSource,
    SubmittedReading,
    TariffRate,
    Zone,
)
from core.money import charge_for
from core.photo_reading import ReadingPrior
from core.ports import AbstractUnitOfWork


@dataclass(frozen=True)
class ReadingRules:
    """The configurable parts of the reading rules."""

    last_days: int = 2
    first_days: int = 3
    timezone: str = "Europe/Kyiv"
    jump_factor: int = 3
    jump_floor_kwh: int = 1000

    @property
    def zone(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Window:
    """A reading window: inclusive first and last calendar day."""

    opens: date
    closes: date

    def contains(self, day: date) -> bool:
        """Whether `day` falls inside the window."""
        return self.opens <= day <= self.closes


def _window_after_month(year: int, month: int, rules: ReadingRules) -> Window:
    last = calendar.monthrange(year, month)[1]
    opens = date(year, month, last) - timedelta(days=rules.last_days - 1)
    first_of_next = date(year, month, last) + timedelta(days=1)
    closes = first_of_next + timedelta(days=rules.first_days - 1)
    return Window(opens, closes)


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def current_window(moment: datetime, rules: ReadingRules) -> Window | None:
    """The window `moment` is in (local business date), or None."""
    today = moment.astimezone(rules.zone).date()
    for year, month in ((today.year, today.month), _previous_month(today.year, today.month)):
        window = _window_after_month(year, month, rules)
        if window.contains(today):
            return window
    return None


def next_window(moment: datetime, rules: ReadingRules) -> Window:
    """The window `moment` is in, or the next one to open."""
    window = current_window(moment, rules)
    if window is not None:
        return window
    today = moment.astimezone(rules.zone).date()
    return _window_after_month(today.year, today.month, rules)


def latest_window(moment: datetime, rules: ReadingRules) -> Window:
    """The window `moment` is in, or the last one that closed before it."""
    window = current_window(moment, rules)
    if window is not None:
        return window
    today = moment.astimezone(rules.zone).date()
    # Outside a window, the one after last month has closed (it ends early this month).
    return _window_after_month(*_previous_month(today.year, today.month), rules)


def window_start(window: Window, rules: ReadingRules) -> datetime:
    """The first instant of the window, timezone-aware."""
    return datetime.combine(window.opens, datetime.min.time(), rules.zone)


def window_end(window: Window, rules: ReadingRules) -> datetime:
    """The first instant after the window."""
    return datetime.combine(window.closes + timedelta(days=1), datetime.min.time(), rules.zone)


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")
_WHOLE = re.compile(r"(\d+)(?:[.,]0+)?")


def parse_reading(text: str) -> int:
    """A whole number of kWh from what a person typed.

    Spaces inside ("8 350") and a trailing ",0" are tolerated because meters and bills
    print them; anything else (letters, decimals, signs) is refused.
    """
    compact = _SPACES.sub("", text.strip())
    match = _WHOLE.fullmatch(compact)
    if not match or len(match.group(1)) > 9:
        raise ReadingFormatInvalid(text)
    return int(match.group(1))


_BETWEEN_VALUES = re.compile(r"\s*(?:[/;|\n]|,\s)\s*")
_GROUPED = re.compile(r"\d{1,3}(?:\s\d{3})+")


def parse_readings(text: str) -> list[int]:
    """One or more whole numbers of kWh: the zones of a meter may come in one message.

    Values are separated by "/", ";", "|", a line break or ", " ("8480 / 4200"); spaces
    alone separate them only where they cannot be a thousands separator ("8480 4200",
    but "8 480" is one number). Raises ReadingFormatInvalid like `parse_reading`.
    """
    stripped = text.strip()
    parts = [part for part in _BETWEEN_VALUES.split(stripped) if part]
    if len(parts) == 1 and not _GROUPED.fullmatch(stripped) and len(stripped.split()) > 1:
        parts = stripped.split()
    if not parts:
        raise ReadingFormatInvalid(text)
    return [parse_reading(part) for part in parts]


@dataclass(frozen=True)
class ReadingEvaluation:
    """What a set of readings means: consumption and charge, and what looks suspicious."""

    values: Readings
    baseline: Readings
    baseline_date: date | None
    consumption: Readings
    charge: Decimal
    rates: tuple[TariffRate, ...]
    rolled_over: tuple[Zone, ...] = ()
    implausible: tuple[Zone, ...] = ()
    replaces: SubmittedReading | None = None
    plausible_max: Readings = field(default_factory=dict)

    @property
    def total_kwh(self) -> int:
        """Consumption over all zones."""
        return sum(self.consumption.values())

    @property
    def needs_confirmation(self) -> bool:
        """A jump above the plausible maximum must be confirmed before it is stored."""
        return bool(self.implausible)


@dataclass(frozen=True)
class Baseline:
    """The reading that consumption is counted from, and where it came from."""

    values: Readings
    on: date | None


def baseline_for(
    meter: Meter,
    latest_billing: BillingReading | None,
    earlier_submitted: Sequence[SubmittedReading],
) -> Baseline:
    """The most recent reading before the current window, per zone of the meter.

    A submitted reading from an earlier window that billing has not settled yet is newer
    than the last billing reading, so it counts; with neither, the install readings do.
    """
    candidates: list[tuple[date, Readings]] = [(meter.installed_on, dict(meter.install_readings))]
    if latest_billing is not None and latest_billing.meter_id == meter.id:
        candidates.append((latest_billing.taken_on, dict(latest_billing.values)))
    for reading in earlier_submitted:
        if reading.meter_id == meter.id:
            candidates.append((reading.taken_at.date(), dict(reading.values)))
    on, values = max(candidates, key=lambda item: item[0])
    return Baseline({zone: values.get(zone, 0) for zone in meter.zones}, on)


def plausible_maximum(
    meter: Meter, last_year: Sequence[Consumption], rules: ReadingRules
) -> Readings:
    """Per zone: `jump_factor` × the largest monthly consumption of the last year, ≥ floor."""
    largest: dict[Zone, int] = {}
    for row in last_year:
        largest[row.zone] = max(largest.get(row.zone, 0), row.kwh)
    return {
        zone: max(rules.jump_floor_kwh, rules.jump_factor * largest.get(zone, 0))
        for zone in meter.zones
    }


def evaluate(
    meter: Meter,
    values: Mapping[Zone, int],
    baseline: Baseline,
    rates: Sequence[TariffRate],
    plausible_max: Mapping[Zone, int],
) -> ReadingEvaluation:
    """Consumption and charge for `values`; raises when a value cannot be right."""
    consumption: dict[Zone, int] = {}
    rolled: list[Zone] = []
    implausible: list[Zone] = []
    for zone in meter.zones:
        value = values[zone]
        if len(str(value)) > meter.digit_count:
            raise ReadingTooLong(meter.digit_count)
        previous = baseline.values[zone]
        used = value - previous
        if used < 0:
            wrapped = value + meter.rollover_modulus - previous
            # A roll-over is only believable when the wrapped amount is a plausible month.
            if wrapped > plausible_max[zone]:
                raise ReadingBelowPrevious(zone, previous)
            used = wrapped
            rolled.append(zone)
        elif used > plausible_max[zone]:
            implausible.append(zone)
        consumption[zone] = used
    return ReadingEvaluation(
        values={zone: values[zone] for zone in meter.zones},
        baseline=dict(baseline.values),
        baseline_date=baseline.on,
        consumption=consumption,
        charge=charge_for(consumption, rates),
        rates=tuple(rates),
        rolled_over=tuple(rolled),
        implausible=tuple(implausible),
        plausible_max=dict(plausible_max),
    )


def _period_months_back(moment: date, months: int) -> str:
    year, month = moment.year, moment.month
    for _ in range(months):
        year, month = _previous_month(year, month)
    return f"{year:04d}-{month:02d}"


async def open_window_or_raise(moment: datetime, rules: ReadingRules) -> Window:
    """The current window, or OutsideReadingWindow naming the next one."""
    window = current_window(moment, rules)
    if window is None:
        upcoming = next_window(moment, rules)
        raise OutsideReadingWindow(upcoming.opens, upcoming.closes)
    return window


async def estimate_reading(
    uow: AbstractUnitOfWork,
    account: Account,
    values: Mapping[Zone, int],
    now: datetime,
    rules: ReadingRules,
    window: Window | None = None,
) -> ReadingEvaluation:
    """Consumption and charge for `values` now, storing nothing ("Розрахувати").

    Inside a window, readings already submitted in it are the ones a submission would
    replace, so they are not the baseline; outside, every earlier reading counts.
    """
    meter = await uow.meters.in_service(account.id)
    if meter is None:
        raise NoMeter(account.number)
    before = window_start(window, rules) if window is not None else now
    earlier = await uow.readings.submitted(account.id, until=before)
    latest_billing = await uow.readings.latest_billing(account.id)
    baseline = baseline_for(meter, latest_billing, earlier[:1])
    local_today = now.astimezone(rules.zone).date()
    last_year = await uow.readings.consumption(
        account.id, since_period=_period_months_back(local_today, 12)
    )
    rates = await uow.tariffs.rates_in_force(account.tariff_plan, local_today)
    plausible = plausible_maximum(meter, last_year, rules)
    evaluation = evaluate(meter, values, baseline, rates, plausible)
    if window is None:
        return evaluation
    replaces = await _meter_reading_in(uow, account.id, meter, window, rules)
    return replace(evaluation, replaces=replaces) if replaces else evaluation


async def reading_in_window(
    uow: AbstractUnitOfWork, account: Account, window: Window, rules: ReadingRules
) -> SubmittedReading | None:
    """The reading submitted for the account's meter in `window` (the one that counts).

    While the window is open, submitting again replaces it (see `submit_reading`).
    """
    meter = await uow.meters.in_service(account.id)
    if meter is None:
        return None
    return await _meter_reading_in(uow, account.id, meter, window, rules)


async def _meter_reading_in(
    uow: AbstractUnitOfWork, account_id: int, meter: Meter, window: Window, rules: ReadingRules
) -> SubmittedReading | None:
    in_window = await uow.readings.submitted(
        account_id, since=window_start(window, rules), until=window_end(window, rules)
    )
    return next((reading for reading in in_window if reading.meter_id == meter.id), None)


async def photo_prior(
    uow: AbstractUnitOfWork, account: Account, zone: Zone, now: datetime, rules: ReadingRules
) -> ReadingPrior | None:
    """What the meter can show next in `zone`: digit count, previous reading, largest jump."""
    meter = await uow.meters.in_service(account.id)
    if meter is None or zone not in meter.zones:
        return None
    window = current_window(now, rules)
    before = window_start(window, rules) if window is not None else now
    earlier = await uow.readings.submitted(account.id, until=before)
    baseline = baseline_for(meter, await uow.readings.latest_billing(account.id), earlier[:1])
    local_today = now.astimezone(rules.zone).date()
    last_year = await uow.readings.consumption(
        account.id, since_period=_period_months_back(local_today, 12)
    )
    plausible = plausible_maximum(meter, last_year, rules)
    return ReadingPrior(
        previous=baseline.values[zone], digit_count=meter.digit_count, max_increase=plausible[zone]
    )


async def check_reading(
    uow: AbstractUnitOfWork,
    account: Account,
    values: Mapping[Zone, int],
    now: datetime,
    rules: ReadingRules,
) -> ReadingEvaluation:
    """Evaluate readings for submission now: the window must be open."""
    window = await open_window_or_raise(now, rules)
    return await estimate_reading(uow, account, values, now, rules, window)


async def submit_reading(
    uow: AbstractUnitOfWork,
    account: Account,
    values: Mapping[Zone, int],
    now: datetime,
    rules: ReadingRules,
    source: ReadingSource,
    identity_id: int | None,
    confirmed: bool = False,
    evidence: Callable[[], Awaitable[int | None]] | None = None,
) -> tuple[ReadingEvaluation, SubmittedReading | None]:
    """Check and store a reading; a second one in the same window replaces the first.

    Returns the evaluation and the stored reading, or None as the stored reading when the
    jump needs confirmation first (nothing is written then). `evidence` keeps the photo
    the values were read from and returns its id; it is called only once the reading is
    going to be stored, so a jump still to be confirmed keeps no photo yet.
    """
    evaluation = await check_reading(uow, account, values, now, rules)
    if evaluation.needs_confirmation and not confirmed:
        return evaluation, None
    photo_id = await evidence() if evidence is not None else None
    meter = await uow.meters.in_service(account.id)
    assert meter is not None  # check_reading raised otherwise
    if evaluation.replaces is not None and evaluation.replaces.id is not None:
        await uow.readings.remove_submitted(evaluation.replaces.id)
    stored = await uow.readings.add_submitted(
        SubmittedReading(
            id=None,
            account_id=account.id,
            meter_id=meter.id,
            taken_at=now,
            values=dict(evaluation.values),
            source=source,
            identity_id=identity_id,
            photo_id=photo_id,
        )
    )
    return evaluation, stored
