"""The reading rules: window, parsing, baseline, roll-over, plausibility, charge."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.errors import ReadingBelowPrevious, ReadingFormatInvalid, ReadingTooLong
from core.model import Consumption, Meter, TariffPlan, TariffRate, Zone
from core.money import charge_for, zone_charges
from core.readings import (
    Baseline,
    ReadingRules,
    current_window,
    evaluate,
    latest_window,
    next_window,
    parse_reading,
    parse_readings,
    plausible_maximum,
)

KYIV = ZoneInfo("Europe/Kyiv")
RULES = ReadingRules()


def kyiv(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV)


@pytest.mark.parametrize(
    ("moment", "opens", "closes"),
    [
        (kyiv(2026, 11, 29, 0, 0), date(2026, 11, 29), date(2026, 12, 3)),
        (kyiv(2026, 12, 3, 23, 59), date(2026, 11, 29), date(2026, 12, 3)),
        (kyiv(2026, 2, 27, 12), date(2026, 2, 27), date(2026, 3, 3)),
        (kyiv(2024, 2, 28, 12), date(2024, 2, 28), date(2024, 3, 3)),
        (kyiv(2027, 1, 1, 8), date(2026, 12, 30), date(2027, 1, 3)),
    ],
)
def test_inside_the_window(moment: datetime, opens: date, closes: date) -> None:
    window = current_window(moment, RULES)
    assert window is not None
    assert (window.opens, window.closes) == (opens, closes)


def test_window_uses_kyiv_time_not_utc() -> None:
    # 22:30 UTC on 28 Nov is already 29 Nov in Kyiv (UTC+2).
    assert current_window(datetime.fromisoformat("2026-11-28T22:30:00+00:00"), RULES) is not None
    assert current_window(datetime.fromisoformat("2026-11-28T21:30:00+00:00"), RULES) is None


def test_outside_the_window_names_the_next_one() -> None:
    moment = kyiv(2026, 12, 4, 0, 0)
    assert current_window(moment, RULES) is None
    upcoming = next_window(moment, RULES)
    assert (upcoming.opens, upcoming.closes) == (date(2026, 12, 30), date(2027, 1, 3))


def test_window_is_configurable() -> None:
    rules = ReadingRules(last_days=5, first_days=1)
    window = current_window(kyiv(2026, 11, 26, 9), rules)
    assert window is not None and window.closes == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("text", "value"), [("8350", 8350), (" 8 350 ", 8350), ("8350,0", 8350), ("0042", 42)]
)
def test_parse_accepts_whole_numbers(text: str, value: int) -> None:
    assert parse_reading(text) == value


@pytest.mark.parametrize("text", ["", "abc", "83a0", "8350,5", "-10", "1e5", "12.3.4"])
def test_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(ReadingFormatInvalid):
        parse_reading(text)


def meter(zones: tuple[Zone, ...] = (Zone.DAY,), digits: int = 6) -> Meter:
    return Meter(1, 1, "S", "ЛЕО", zones, digits, date(2019, 11, 1), {z: 0 for z in zones})


RATES = [TariffRate(TariffPlan.SINGLE, Zone.DAY, Decimal("4.32"), date(2024, 6, 1))]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("8480", [8480]),
        ("8 480", [8480]),
        ("1 234 567", [1234567]),
        ("8480 / 4200", [8480, 4200]),
        ("8480/4200", [8480, 4200]),
        ("8480; 4200", [8480, 4200]),
        ("8480, 4200", [8480, 4200]),
        ("8480\n4200", [8480, 4200]),
        ("8480 4200", [8480, 4200]),
        ("8480 420", [8480, 420]),
        ("8480,0", [8480]),
        ("9 100 / 4 200 / 1 300", [9100, 4200, 1300]),
    ],
)
def test_several_zones_in_one_message(text: str, values: list[int]) -> None:
    assert parse_readings(text) == values


@pytest.mark.parametrize("text", ["", "8480 / abc", "день", "8480 //"])
def test_several_zones_refuse_anything_else(text: str) -> None:
    with pytest.raises(ReadingFormatInvalid):
        parse_readings(text)


@pytest.mark.parametrize(
    ("moment", "opens", "closes"),
    [
        (kyiv(2026, 11, 30, 12), date(2026, 11, 29), date(2026, 12, 3)),  # inside: this one
        (kyiv(2026, 12, 10, 12), date(2026, 11, 29), date(2026, 12, 3)),  # the one before
        (kyiv(2026, 11, 15, 12), date(2026, 10, 30), date(2026, 11, 3)),
        (kyiv(2027, 1, 4, 0, 0), date(2026, 12, 30), date(2027, 1, 3)),
    ],
)
def test_latest_window(moment: datetime, opens: date, closes: date) -> None:
    window = latest_window(moment, RULES)
    assert (window.opens, window.closes) == (opens, closes)


def test_consumption_and_charge() -> None:
    result = evaluate(
        meter(), {Zone.DAY: 8480}, Baseline({Zone.DAY: 8350}, None), RATES, {Zone.DAY: 1000}
    )
    assert result.consumption == {Zone.DAY: 130}
    assert result.charge == Decimal("561.60")
    assert not result.needs_confirmation


def test_lower_reading_is_refused() -> None:
    with pytest.raises(ReadingBelowPrevious) as refused:
        evaluate(
            meter(), {Zone.DAY: 8000}, Baseline({Zone.DAY: 8350}, None), RATES, {Zone.DAY: 1000}
        )
    assert refused.value.previous == 8350


def test_rollover_of_a_meter_with_that_many_digits() -> None:
    result = evaluate(
        meter(digits=5), {Zone.DAY: 120}, Baseline({Zone.DAY: 99950}, None), RATES, {Zone.DAY: 1000}
    )
    assert result.consumption == {Zone.DAY: 170}
    assert result.rolled_over == (Zone.DAY,)


def test_more_digits_than_the_meter_has() -> None:
    with pytest.raises(ReadingTooLong):
        evaluate(
            meter(digits=5),
            {Zone.DAY: 123456},
            Baseline({Zone.DAY: 99950}, None),
            RATES,
            {Zone.DAY: 1000},
        )


def test_implausible_jump_needs_confirmation() -> None:
    result = evaluate(
        meter(), {Zone.DAY: 9500}, Baseline({Zone.DAY: 8350}, None), RATES, {Zone.DAY: 1000}
    )
    assert result.needs_confirmation and result.implausible == (Zone.DAY,)


def test_plausible_maximum_is_three_times_the_largest_month_with_a_floor() -> None:
    rows = [Consumption(1, "2026-01", Zone.DAY, 450), Consumption(1, "2026-02", Zone.DAY, 200)]
    assert plausible_maximum(meter(), rows, RULES) == {Zone.DAY: 1350}
    assert plausible_maximum(meter(), [], RULES) == {Zone.DAY: 1000}


def test_two_zone_night_is_half_price() -> None:
    rates = [
        TariffRate(TariffPlan.TWO_ZONE, Zone.DAY, Decimal("4.32"), date(2024, 6, 1)),
        TariffRate(TariffPlan.TWO_ZONE, Zone.NIGHT, Decimal("2.16"), date(2024, 6, 1)),
    ]
    assert charge_for({Zone.DAY: 100, Zone.NIGHT: 100}, rates) == Decimal("648.00")
    # Each zone's line, as the reading's answer writes the sum out.
    assert zone_charges({Zone.DAY: 100, Zone.NIGHT: 51}, rates) == {
        Zone.DAY: Decimal("432.00"),
        Zone.NIGHT: Decimal("110.16"),
    }


def test_zone_lines_of_a_three_zone_tariff_add_up() -> None:
    rates = [
        TariffRate(TariffPlan.THREE_ZONE, Zone.PEAK, Decimal("6.48"), date(2024, 6, 1)),
        TariffRate(TariffPlan.THREE_ZONE, Zone.HALF_PEAK, Decimal("4.32"), date(2024, 6, 1)),
        TariffRate(TariffPlan.THREE_ZONE, Zone.NIGHT, Decimal("1.728"), date(2024, 6, 1)),
    ]
    used = {Zone.PEAK: 41, Zone.HALF_PEAK: 87, Zone.NIGHT: 53}
    lines = zone_charges(used, rates)
    assert lines[Zone.NIGHT] == Decimal("91.58")  # 53 × 1.728 = 91.584
    assert sum(lines.values()) == charge_for(used, rates)


def test_a_zone_without_a_rate_never_prices_at_zero() -> None:
    with pytest.raises(KeyError):
        charge_for({Zone.NIGHT: 10}, RATES)
