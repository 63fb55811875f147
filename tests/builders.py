"""Small, explicit test data for the fakes: tariffs, an account with a meter and history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from core.model import (
    Account,
    Address,
    Bill,
    BillingReading,
    Consumption,
    Meter,
    Payment,
    ReadingSource,
    TariffPlan,
    TariffRate,
    Zone,
)
from tests.fakes import FakeData

BASE_PRICE = Decimal("4.32")
MULTIPLIERS = {
    TariffPlan.SINGLE: {Zone.DAY: Decimal("1")},
    TariffPlan.TWO_ZONE: {Zone.DAY: Decimal("1"), Zone.NIGHT: Decimal("0.5")},
    TariffPlan.THREE_ZONE: {
        Zone.PEAK: Decimal("1.5"),
        Zone.HALF_PEAK: Decimal("1"),
        Zone.NIGHT: Decimal("0.4"),
    },
}


def add_tariffs(data: FakeData) -> None:
    """The household tariff from 2024-06-01 for all plans, and an older one before it."""
    for plan, zones in MULTIPLIERS.items():
        for zone, factor in zones.items():
            data.rates.append(
                TariffRate(
                    plan, zone, Decimal("2.64") * factor, date(2023, 6, 1), date(2024, 5, 31)
                )
            )
            data.rates.append(TariffRate(plan, zone, BASE_PRICE * factor, date(2024, 6, 1)))


def add_account(
    data: FakeData,
    *,
    number: str = "2010000232",
    eic: str = "62Z000000000232T",
    plan: TariffPlan = TariffPlan.SINGLE,
    last_values: dict[Zone, int] | None = None,
    monthly: dict[Zone, int] | None = None,
    last_period: str = "2026-10",
    digit_count: int = 6,
) -> Account:
    """An account with a meter and 12 billed months ending at `last_period`."""
    account = Account(
        id=data.next_id(),
        number=number,
        eic=eic,
        holder_name="Іваненко Іван Іванович",
        address=Address("Київ", "вул. Кузьми Скрябіна", "39"),
        dso_id=1,
        supplier_id=1,
        tariff_plan=plan,
        outage_group="3.2",
    )
    data.accounts[account.id] = account
    zones = plan.zones
    last_values = last_values or {zone: 8350 for zone in zones}
    monthly = monthly or {zone: 150 for zone in zones}
    meter = Meter(
        id=data.next_id(),
        account_id=account.id,
        serial="0123456",
        type_name="ЛЕО",
        zones=zones,
        digit_count=digit_count,
        installed_on=date(2019, 11, 1),
        install_readings={zone: 1000 for zone in zones},
    )
    data.meters.append(meter)
    year, month = (int(part) for part in last_period.split("-"))
    for back in range(12):
        y, m = year, month - back
        while m < 1:
            y, m = y - 1, m + 12
        period = f"{y:04d}-{m:02d}"
        next_first = date(y + (m == 12), m % 12 + 1, 1)
        values = {zone: last_values[zone] - back * monthly[zone] for zone in zones}
        data.billing_readings.append(
            BillingReading(account.id, meter.id, period, next_first, values, ReadingSource.CABINET)
        )
        for zone in zones:
            data.consumption.append(Consumption(account.id, period, zone, monthly[zone]))
        charged = Decimal("648.00")
        data.bills.append(
            Bill(
                data.next_id(),
                account.id,
                period,
                next_first.replace(day=5),
                charged,
                charged,
                sum(monthly.values()),
            )
        )
        data.payments.append(
            Payment(
                data.next_id(),
                account.id,
                charged,
                datetime(next_first.year, next_first.month, 9, 10, tzinfo=UTC),
                "easypay",
                f"tx-{account.id}-{period}",
            )
        )
    return account
