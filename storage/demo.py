"""Demo data: reference tables, tariffs and consumers with two years of consistent history.

Everything is generated deterministically (seeded by account number and period), so a second
run finds every row already there and inserts nothing, and a run with a later `now` adds just
the months billed since. Rows go in through Core inserts with ON CONFLICT DO NOTHING.

The history of one account, per billed period P (billed once `now` passed 00:00 Europe/Kyiv
on the 6th of the month after P):
- a submitted reading inside P's reading window (last 2 days of P, first 3 of P+1);
- the billing reading of P, taken on the 1st of P+1 with the same values;
- consumption per zone = this billing reading minus the previous one;
- a bill issued on the 5th of P+1: charged = Σ kWh × the rate in force on the 1st of P+1,
  amount due = charged minus what the balance already covers (or plus the debt);
- usually a payment a few days later (only if that is not after `now`).
The balance is opening + Σ payments − Σ charged, and every amount due follows from it.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from stdnum import iban
from stdnum.eu import eic
from stdnum.ua import edrpou

from core.model import ReadingSource, TariffPlan, TariffRate, Zone
from storage.addresses import street_key
from storage.orm import (
    AccountRow,
    BillingReadingRow,
    BillRow,
    ConsumptionRow,
    DsoRow,
    MeterRow,
    OutageRow,
    OutageTargetRow,
    PaymentRow,
    RegionRow,
    SubmittedReadingRow,
    SupplierRow,
    TariffRateRow,
)
from storage.repositories import dialect_insert

BUSINESS_ZONE = "Europe/Kyiv"
HISTORY_MONTHS = 24
EXTRA_CHUNK = 2000
PAYMENT_PROVIDER = "easypay"
COUNT_KEYS = (
    "regions",
    "dsos",
    "suppliers",
    "tariff_rates",
    "accounts",
    "meters",
    "submitted_readings",
    "billing_readings",
    "consumption",
    "bills",
    "payments",
    "outages",
)

KOPECK = Decimal("0.01")

# Household price with VAT by validity period; zone prices are multiples of it.
_HOUSEHOLD_PRICES: tuple[tuple[date, date | None, Decimal], ...] = (
    (date(2021, 1, 1), date(2023, 5, 31), Decimal("1.44")),
    (date(2023, 6, 1), date(2024, 5, 31), Decimal("2.64")),
    (date(2024, 6, 1), None, Decimal("4.32")),
)
_ZONE_FACTORS: dict[TariffPlan, dict[Zone, Decimal]] = {
    TariffPlan.SINGLE: {Zone.DAY: Decimal("1")},
    TariffPlan.TWO_ZONE: {Zone.DAY: Decimal("1"), Zone.NIGHT: Decimal("0.5")},
    TariffPlan.THREE_ZONE: {
        Zone.PEAK: Decimal("1.5"),
        Zone.HALF_PEAK: Decimal("1"),
        Zone.NIGHT: Decimal("0.4"),
    },
}
# Typical share of each zone in a month's kWh.
_ZONE_SHARES: dict[TariffPlan, dict[Zone, float]] = {
    TariffPlan.SINGLE: {Zone.DAY: 1.0},
    TariffPlan.TWO_ZONE: {Zone.DAY: 0.62, Zone.NIGHT: 0.38},
    TariffPlan.THREE_ZONE: {Zone.PEAK: 0.22, Zone.HALF_PEAK: 0.43, Zone.NIGHT: 0.35},
}
_SOURCES = (
    (ReadingSource.TELEGRAM, 3),
    (ReadingSource.VIBER, 2),
    (ReadingSource.MESSENGER, 1),
    (ReadingSource.CABINET, 3),
    (ReadingSource.CONTROLLER, 1),
    (ReadingSource.INSPECTION, 1),
)


def demo_tariff_rates() -> list[TariffRate]:
    """The dated rates the demo stores, for every plan and zone."""
    return [
        TariffRate(
            plan=plan,
            zone=zone,
            price=(base * factor).quantize(Decimal("0.0001")),
            valid_from=valid_from,
            valid_to=valid_to,
        )
        for plan, factors in _ZONE_FACTORS.items()
        for zone, factor in factors.items()
        for valid_from, valid_to, base in _HOUSEHOLD_PRICES
    ]


@dataclass(frozen=True, order=True)
class _Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: date) -> _Month:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return (self.next().first_day - self.first_day).days

    def next(self) -> _Month:
        return _Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> _Month:
        return _Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def plus(self, months: int) -> _Month:
        index = self.year * 12 + self.month - 1 + months
        return _Month(index // 12, index % 12 + 1)


def last_billed_period(now: datetime, business_zone: ZoneInfo) -> str:
    """The newest period billed at `now` (billing runs at 00:00 on the 6th, Kyiv time)."""
    return _last_billed(now, business_zone).label


def _last_billed(now: datetime, business_zone: ZoneInfo) -> _Month:
    local = now.astimezone(business_zone)
    month = _Month.of(local.date()).previous()
    billing_starts = datetime.combine(month.next().first_day.replace(day=6), time(), business_zone)
    return month if now >= billing_starts else month.previous()


@dataclass(frozen=True)
class _Consumer:
    """Everything that identifies one demo consumer; the history follows from it."""

    number: str
    eic: str
    holder_name: str
    settlement: str
    street: str
    building: str
    apartment: str
    outage_group: str
    dso: int  # index into _DSOS
    supplier: int  # index into _SUPPLIERS
    plan: TariffPlan
    meter_serial: str
    meter_type: str
    installed_on: date
    install_readings: Mapping[Zone, int]
    monthly_kwh: int
    seasonality: float
    payer: str  # a key of _PAYERS
    opening_balance: Decimal
    contract_number: str
    digit_count: int = 6


# (probability of skipping a payment, probability of rounding it up)
_PAYERS = {"punctual": (0.0, 0.15), "generous": (0.0, 0.6), "forgetful": (0.3, 0.1)}

_REGIONS = ("м. Київ", "Київська область")
_DSOS = (
    (0, "ПрАТ «Демо Столичні Електромережі»", "ДСЕМ"),
    (1, "ПрАТ «Умовне Обленерго»", "УОЕ"),
)
_SUPPLIERS = (
    ("ТОВ «Демо Енергозбут»", "322313", "0000026007233566001", "3291007"),
    ("ТОВ «Умовна Енергопостачальна Компанія»", "305299", "0000026003000123456", "4120562"),
)
_STREETS: dict[str, tuple[int, tuple[str, ...]]] = {
    "Київ": (
        0,
        (
            "вул. Кузьми Скрябіна",
            "просп. Перемоги",
            "вул. Велика Васильківська",
            "бул. Лесі Українки",
            "вул. Січових Стрільців",
        ),
    ),
    "Бровари": (1, ("вул. Героїв України", "вул. Київська")),
    "Бориспіль": (1, ("вул. Київський Шлях", "вул. Глібова")),
    "Ірпінь": (1, ("вул. Університетська", "вул. Соборна")),
    "Біла Церква": (1, ("бул. Олександрійський", "вул. Ярослава Мудрого")),
}
_SURNAMES = (
    "Шевченко",
    "Коваленко",
    "Бондаренко",
    "Ткаченко",
    "Кравченко",
    "Олійник",
    "Мельник",
    "Поліщук",
    "Савчук",
    "Лисенко",
    "Мороз",
    "Павленко",
    "Левченко",
    "Марченко",
    "Руденко",
)
_MALE = (
    ("Іван", "Іванович"),
    ("Петро", "Миколайович"),
    ("Андрій", "Петрович"),
    ("Олег", "Васильович"),
    ("Микола", "Степанович"),
    ("Тарас", "Олегович"),
)
_FEMALE = (
    ("Олена", "Миколаївна"),
    ("Марія", "Петрівна"),
    ("Оксана", "Іванівна"),
    ("Наталія", "Василівна"),
    ("Ганна", "Андріївна"),
    ("Ірина", "Олегівна"),
)
_GROUPS = tuple(f"{queue}.{sub}" for queue in range(1, 7) for sub in (1, 2))
_METER_TYPES = {
    TariffPlan.SINGLE: ("ЛЕО", "NIK 2102", "GAMA 100"),
    TariffPlan.TWO_ZONE: ("NIK 2303 ARP3",),
    TariffPlan.THREE_ZONE: ("GAMA 300",),
}


def _seeded(seed: int | str) -> random.Random:
    # Reproducible on purpose: the same seed must give the same demo data on every run.
    return random.Random(seed)  # noqa: S311 - demo data, not secrets


def make_eic(body: str) -> str:
    """A 16-character EIC: the 15-character body and its ENTSO-E check character."""
    return body + eic.calc_check_digit(body)


def _eic_for(serial: int, first_digits: Iterable[int]) -> str:
    # A "-" check character is valid but confusing to type: use the next body instead.
    for digit in first_digits:
        candidate = make_eic(f"62Z{digit}{serial:011d}")
        if not candidate.endswith("-"):
            return candidate
    raise ValueError(f"no EIC without a dash for {serial}")


def _person_name(rng: random.Random) -> str:
    surname = rng.choice(_SURNAMES)
    first, patronymic = rng.choice(_MALE if rng.random() < 0.5 else _FEMALE)
    return f"{surname} {first} {patronymic}"


def demo_consumers() -> list[_Consumer]:
    """The two consumers of the manual, then 60 generated ones over both DSOs."""
    consumers = [
        _Consumer(
            number="2010000232",
            eic="62Z000000000232T",
            holder_name="Іваненко Іван Іванович",
            settlement="Київ",
            street="вул. Кузьми Скрябіна",
            building="39",
            apartment="",
            outage_group="3.2",
            dso=0,
            supplier=0,
            plan=TariffPlan.SINGLE,
            meter_serial="0123456",
            meter_type="ЛЕО",
            installed_on=date(2019, 11, 1),
            install_readings={Zone.DAY: 4920},
            monthly_kwh=175,
            seasonality=0.25,
            payer="punctual",
            opening_balance=Decimal("0.00"),
            contract_number="ДСЕМ-2010000232",
        ),
        _Consumer(
            number="2010000777",
            eic="62Z000000000777O",
            holder_name="Петренко Олена Миколаївна",
            settlement="Київ",
            street="просп. Перемоги",
            building="12",
            apartment="45",
            outage_group="1.1",
            dso=0,
            supplier=0,
            plan=TariffPlan.TWO_ZONE,
            meter_serial="2303777",
            meter_type="NIK 2303 ARP3",
            installed_on=date(2020, 3, 15),
            install_readings={Zone.DAY: 10250, Zone.NIGHT: 4310},
            monthly_kwh=320,
            seasonality=0.3,
            payer="generous",
            opening_balance=Decimal("25.40"),
            contract_number="ДСЕМ-2010000777",
        ),
    ]
    rng = _seeded(20_10_000_232)  # fixed: the same 60 consumers every time
    settlements = list(_STREETS)
    for index in range(60):
        settlement = settlements[index % len(settlements)]
        dso, streets = _STREETS[settlement]
        plan_roll = rng.random()
        plan = (
            TariffPlan.THREE_ZONE
            if plan_roll < 0.08
            else TariffPlan.TWO_ZONE
            if plan_roll < 0.25
            else TariffPlan.SINGLE
        )
        number = f"20100{1000 + index:05d}" if dso == 0 else f"41{200_000 + index:06d}"
        zones = plan.zones
        in_flat = rng.random() < 0.6
        consumers.append(
            _Consumer(
                number=number,
                eic=_eic_for(10_000 + index, (dso + 1, dso + 5, 9)),
                holder_name=_person_name(rng),
                settlement=settlement,
                street=rng.choice(streets),
                building=str(rng.randint(1, 120)) + rng.choice(("", "", "", "А", "Б")),
                apartment=str(rng.randint(1, 180)) if in_flat else "",
                outage_group=rng.choice(_GROUPS),
                dso=dso,
                supplier=index % 4 % 2,
                plan=plan,
                meter_serial=f"{rng.randint(0, 99_999_999):08d}",
                meter_type=rng.choice(_METER_TYPES[plan]),
                installed_on=date(rng.randint(2012, 2020), rng.randint(1, 12), rng.randint(1, 28)),
                install_readings={zone: rng.randint(0, 30_000) for zone in zones},
                monthly_kwh=rng.randint(140, 200)
                if plan is TariffPlan.SINGLE
                else rng.randint(260, 420),
                seasonality=rng.uniform(0.15, 0.3),
                payer=rng.choices(("punctual", "generous", "forgetful"), (6, 2, 2))[0],
                opening_balance=rng.choice(
                    (Decimal("0.00"), Decimal("0.00"), Decimal("15.20"), Decimal("-84.96"))
                ),
                contract_number=f"{_DSOS[dso][2]}-{number}",
            )
        )
    return consumers


def _rates_by_zone(rates: Sequence[TariffRate], plan: TariffPlan, on: date) -> dict[Zone, Decimal]:
    prices = {
        rate.zone: rate.price
        for rate in rates
        if rate.plan is plan
        and rate.valid_from <= on
        and (rate.valid_to is None or on <= rate.valid_to)
    }
    missing = set(plan.zones) - set(prices)
    if missing:
        raise ValueError(f"no {plan} rate in force on {on} for {sorted(missing)}")
    return prices


def _charge(kwh: Mapping[Zone, int], prices: Mapping[Zone, Decimal]) -> Decimal:
    total = sum((Decimal(value) * prices[zone] for zone, value in kwh.items()), Decimal(0))
    return total.quantize(KOPECK, rounding=ROUND_HALF_UP)


def _monthly_kwh(consumer: _Consumer, month: _Month) -> dict[Zone, int]:
    """kWh per zone of one month: seasonal, with noise seeded by account and period."""
    rng = _seeded(f"{consumer.number}/kwh/{month.label}")
    season = 1 + consumer.seasonality * math.cos(2 * math.pi * (month.month - 1) / 12)
    total = consumer.monthly_kwh * season * rng.uniform(0.88, 1.12)
    if month == _Month.of(consumer.installed_on):
        # Installed mid-month: only the days it was in service count.
        total *= (month.days - consumer.installed_on.day + 1) / month.days
    shares = _ZONE_SHARES[consumer.plan]
    zones = consumer.plan.zones
    values: dict[Zone, int] = {}
    for zone in zones[:-1]:
        values[zone] = round(total * shares[zone] * rng.uniform(0.93, 1.07))
    values[zones[-1]] = max(0, round(total) - sum(values.values()))
    return values


def _local(day: date, hour: int, minute: int, business_zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), business_zone)


@dataclass
class _History:
    submitted: list[dict[str, Any]]
    billing: list[dict[str, Any]]
    consumption: list[dict[str, Any]]
    bills: list[dict[str, Any]]
    payments: list[dict[str, Any]]


def _history(
    consumer: _Consumer,
    account_id: int,
    meter_id: int,
    opening_balance: Decimal,
    first: _Month,
    last: _Month,
    now: datetime,
    rates: Sequence[TariffRate],
    business_zone: ZoneInfo,
) -> _History:
    """Rows of the periods first..last; a pure function of its arguments."""
    history = _History([], [], [], [], [])
    modulus = 10**consumer.digit_count
    readings = dict(consumer.install_readings)
    month = _Month.of(consumer.installed_on)
    while month < first:
        for zone, used in _monthly_kwh(consumer, month).items():
            readings[zone] = (readings[zone] + used) % modulus
        month = month.next()

    sources = [source for source, _ in _SOURCES]
    weights = [weight for _, weight in _SOURCES]
    skip_probability, roundup_probability = _PAYERS[consumer.payer]
    balance = opening_balance
    month = first
    while month <= last:
        following = month.next()
        rng = _seeded(f"{consumer.number}/period/{month.label}")
        # Draw every random value whatever `now` is, so earlier periods never change.
        source = rng.choices(sources, weights)[0]
        window_days = [month.next().first_day - timedelta(days=n) for n in (2, 1)] + [
            following.first_day + timedelta(days=n) for n in (0, 1, 2)
        ]
        taken_at = _local(
            rng.choice(window_days), rng.randint(8, 21), rng.randint(0, 59), business_zone
        )
        pay_roll, roundup_roll = rng.random(), rng.random()
        pay_delay, pay_hour, pay_minute = rng.randint(1, 10), rng.randint(8, 22), rng.randint(0, 59)

        kwh = _monthly_kwh(consumer, month)
        readings = {zone: (readings[zone] + kwh[zone]) % modulus for zone in consumer.plan.zones}
        values = {zone.value: value for zone, value in readings.items()}
        common = {"account_id": account_id}
        history.submitted.append(
            common
            | {
                "meter_id": meter_id,
                "taken_at": taken_at,
                "values": values,
                "source": source.value,
                "identity_id": None,
                "photo_id": None,
            }
        )
        for zone, value in readings.items():
            history.billing.append(
                common
                | {
                    "meter_id": meter_id,
                    "period": month.label,
                    "zone": zone.value,
                    "value": value,
                    "taken_on": following.first_day,
                    "source": source.value,
                }
            )
            history.consumption.append(
                common | {"period": month.label, "zone": zone.value, "kwh": kwh[zone]}
            )

        charged = _charge(kwh, _rates_by_zone(rates, consumer.plan, following.first_day))
        amount_due = max(Decimal("0.00"), charged - balance).quantize(KOPECK)
        balance -= charged
        issued_on = following.first_day.replace(day=5)
        history.bills.append(
            common
            | {
                "period": month.label,
                "issued_on": issued_on,
                "charged": charged,
                "amount_due": amount_due,
                "kwh": sum(kwh.values()),
                "pdf_ref": None,
            }
        )

        amount = amount_due
        if roundup_roll < roundup_probability:
            amount = (amount / 50).to_integral_value(rounding=ROUND_CEILING) * 50
        paid_at = _local(issued_on + timedelta(days=pay_delay), pay_hour, pay_minute, business_zone)
        if amount > 0 and pay_roll >= skip_probability and paid_at <= now:
            amount = amount.quantize(KOPECK)
            balance += amount
            history.payments.append(
                common
                | {
                    "amount": amount,
                    "paid_at": paid_at,
                    "provider": PAYMENT_PROVIDER,
                    "provider_txn_id": f"demo-{consumer.number}-{month.label}",
                }
            )
        month = following
    return history


async def _insert_new(connection: AsyncConnection, table: Table, rows: Sequence[dict]) -> int:
    """Insert rows, skipping those a unique key already holds; how many were new."""
    if not rows:
        return 0
    statement = (
        dialect_insert(connection.dialect.name, table)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )
    result = await connection.execute(statement, list(rows))
    return len(result.all())


async def _bulk_insert(connection: AsyncConnection, table: Table, rows: Sequence[dict]) -> None:
    """Insert many rows fast: executemany on SQLite, COPY on PostgreSQL.

    asyncpg's executemany still runs the INSERT once per row on the server; COPY streams
    all rows in one command, inside the same transaction.
    """
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        await connection.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    records = [
        tuple(json.dumps(row[name]) if name in json_columns else row[name] for name in columns)
        for row in rows
    ]
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # asyncpg's connection: the dialect is postgresql
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


async def _ids_by(connection: AsyncConnection, table: Table, key: str) -> dict[Any, int]:
    rows = await connection.execute(select(table.c[key], table.c.id))
    return {value: row_id for value, row_id in rows}


@dataclass(frozen=True)
class _References:
    dso_ids: tuple[int, ...]
    supplier_ids: tuple[int, ...]


async def _seed_references(connection: AsyncConnection, counts: Counter[str]) -> _References:
    regions = RegionRow.__table__
    counts["regions"] += await _insert_new(connection, regions, [{"name": n} for n in _REGIONS])
    region_ids = await _ids_by(connection, regions, "name")
    dsos = DsoRow.__table__
    counts["dsos"] += await _insert_new(
        connection,
        dsos,
        [
            {"region_id": region_ids[_REGIONS[region]], "name": name, "short_name": short}
            for region, name, short in _DSOS
        ],
    )
    dso_ids = await _ids_by(connection, dsos, "name")
    suppliers = SupplierRow.__table__
    supplier_rows = []
    for name, bank_code, account, edrpou_body in _SUPPLIERS:
        bban = bank_code + account
        check = iban.calc_check_digits(f"UA00{bban}")
        supplier_rows.append(
            {
                "name": name,
                "iban": f"UA{check}{bban}",
                "edrpou": edrpou_body + edrpou.calc_check_digit(edrpou_body),
            }
        )
    counts["suppliers"] += await _insert_new(connection, suppliers, supplier_rows)
    supplier_ids = await _ids_by(connection, suppliers, "name")
    return _References(
        dso_ids=tuple(dso_ids[name] for _, name, _ in _DSOS),
        supplier_ids=tuple(supplier_ids[name] for name, *_ in _SUPPLIERS),
    )


async def _seed_tariffs(
    connection: AsyncConnection, rates: Sequence[TariffRate], counts: Counter[str]
) -> None:
    counts["tariff_rates"] += await _insert_new(
        connection,
        TariffRateRow.__table__,
        [
            {
                "plan": rate.plan.value,
                "zone": rate.zone.value,
                "price": rate.price,
                "valid_from": rate.valid_from,
                "valid_to": rate.valid_to,
            }
            for rate in rates
        ],
    )


def _account_values(consumer: _Consumer, refs: _References) -> dict[str, Any]:
    return {
        "number": consumer.number,
        "eic": consumer.eic,
        "holder_name": consumer.holder_name,
        "settlement": consumer.settlement,
        "street": consumer.street,
        "street_key": street_key(consumer.street),
        "building": consumer.building,
        "apartment": consumer.apartment,
        "outage_group": consumer.outage_group,
        "dso_id": refs.dso_ids[consumer.dso],
        "supplier_id": refs.supplier_ids[consumer.supplier],
        "contract_number": consumer.contract_number,
        "contract_date": consumer.installed_on,
        "tariff_plan": consumer.plan.value,
        "opening_balance": consumer.opening_balance,
    }


def _meter_values(consumer: _Consumer, account_id: int) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "serial": consumer.meter_serial,
        "type_name": consumer.meter_type,
        "zones": [zone.value for zone in consumer.plan.zones],
        "digit_count": consumer.digit_count,
        "installed_on": consumer.installed_on,
        "install_readings": {
            zone.value: value for zone, value in consumer.install_readings.items()
        },
        "removed_on": None,
    }


async def _seed_consumer(
    connection: AsyncConnection,
    consumer: _Consumer,
    refs: _References,
    now: datetime,
    last: _Month,
    rates: Sequence[TariffRate],
    business_zone: ZoneInfo,
    counts: Counter[str],
) -> None:
    accounts, meters = AccountRow.__table__, MeterRow.__table__
    counts["accounts"] += await _insert_new(connection, accounts, [_account_values(consumer, refs)])
    account_id, opening_balance = (
        await connection.execute(
            select(accounts.c.id, accounts.c.opening_balance).where(accounts.c.eic == consumer.eic)
        )
    ).one()
    meter_id = await connection.scalar(
        select(meters.c.id)
        .where(meters.c.account_id == account_id, meters.c.removed_on.is_(None))
        .limit(1)
    )
    if meter_id is None:
        meter_id = await connection.scalar(
            meters.insert().values(_meter_values(consumer, account_id)).returning(meters.c.id)
        )
        counts["meters"] += 1

    bills, billing = BillRow.__table__, BillingReadingRow.__table__
    earliest = await connection.scalar(
        select(bills.c.period).where(bills.c.account_id == account_id).order_by(bills.c.period)
    )
    first = (
        _Month(int(earliest[:4]), int(earliest[5:7])) if earliest else last.plus(1 - HISTORY_MONTHS)
    )
    first = max(first, _Month.of(consumer.installed_on).next())
    if first > last:
        return
    history = _history(
        consumer, account_id, meter_id, opening_balance, first, last, now, rates, business_zone
    )
    billed_before = set(
        await connection.scalars(
            select(billing.c.period).where(billing.c.account_id == account_id).distinct()
        )
    )
    # Submitted readings have no natural key: add them only with their period's first billing.
    new_submitted = [
        row
        for row, bill in zip(history.submitted, history.bills, strict=True)
        if bill["period"] not in billed_before
    ]
    counts["submitted_readings"] += await _insert_new(
        connection, SubmittedReadingRow.__table__, new_submitted
    )
    counts["billing_readings"] += await _insert_new(connection, billing, history.billing)
    counts["consumption"] += await _insert_new(
        connection, ConsumptionRow.__table__, history.consumption
    )
    counts["bills"] += await _insert_new(connection, bills, history.bills)
    counts["payments"] += await _insert_new(connection, PaymentRow.__table__, history.payments)


async def seed_demo(
    engine: AsyncEngine, now: datetime, *, extra_accounts: int = 0
) -> dict[str, int]:
    """Load the demo data into a migrated database; counts of the rows it created.

    `now` (timezone-aware) decides which periods are billed: history runs up to the last
    period billed at `now` and never includes a reading in the window `now` is in.

    Idempotent: a second run with the same `now` creates nothing; a later `now` adds the
    periods billed since. `extra_accounts` adds that many synthetic accounts (numbers
    3000000001, 3000000002, ...) with the last three billed periods, for benchmarks.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    business_zone = ZoneInfo(BUSINESS_ZONE)
    last = _last_billed(now, business_zone)
    rates = demo_tariff_rates()
    counts: Counter[str] = Counter({key: 0 for key in COUNT_KEYS})
    async with engine.begin() as connection:
        refs = await _seed_references(connection, counts)
        await _seed_tariffs(connection, rates, counts)
        for consumer in demo_consumers():
            await _seed_consumer(
                connection, consumer, refs, now, last, rates, business_zone, counts
            )
        await _seed_outages(connection, refs, now, business_zone, counts)
    if extra_accounts > 0:
        await _seed_extra_accounts(
            engine, extra_accounts, refs, now, last, rates, business_zone, counts
        )
    return dict(counts)


@dataclass(frozen=True)
class _DemoOutage:
    kind: str
    dso: int
    starts_in: timedelta  # from `now`
    lasts: timedelta | None
    reason: str
    group: str | None = None
    settlement: str | None = None
    street: str | None = None
    buildings: tuple[str, ...] = ()


def _demo_outages() -> list[_DemoOutage]:
    """Outages around `now` that hit the manual's two accounts and a few others."""
    return [
        _DemoOutage(
            "planned",
            0,
            timedelta(days=2),
            timedelta(hours=7),
            "Планові ремонтні роботи на ТП-1234",
            group="3.2",
        ),
        _DemoOutage(
            "planned",
            0,
            timedelta(days=5),
            timedelta(hours=6),
            "Заміна опор ПЛ-0,4 кВ",
            settlement="Київ",
            street="вул. Кузьми Скрябіна",
            buildings=("37", "39", "41"),
        ),
        _DemoOutage(
            "emergency",
            0,
            timedelta(hours=-2),
            timedelta(hours=4),
            "Пошкодження кабельної лінії",
            settlement="Київ",
            street="просп. Перемоги",
        ),
        _DemoOutage(
            "planned",
            1,
            timedelta(days=3),
            timedelta(hours=8),
            "Обслуговування обладнання підстанції",
            group="2.1",
        ),
    ]


async def _seed_outages(
    connection: AsyncConnection,
    refs: _References,
    now: datetime,
    business_zone: ZoneInfo,
    counts: Counter[str],
) -> None:
    """A few outages around `now`, one row each however often the demo runs: a run at
    another clock moves them to the new `now` instead of adding more."""
    outages, targets = OutageRow.__table__, OutageTargetRow.__table__
    # Earlier versions keyed the demo's outages by the day of `now` and added a set per
    # day ("demo-2026-11-29-1"): drop those, the ones below replace them.
    stale = select(outages.c.id).where(outages.c.external_id.like("demo-____-__-__-%"))
    await connection.execute(targets.delete().where(targets.c.outage_id.in_(stale)))
    await connection.execute(
        outages.delete().where(outages.c.external_id.like("demo-____-__-__-%"))
    )
    local_now = now.astimezone(business_zone)
    # Whole hours read better than the demo clock's minutes.
    base = local_now.replace(minute=0, second=0, microsecond=0)
    for number, outage in enumerate(_demo_outages(), start=1):
        external_id = f"demo-{number}"
        starts_at = base + outage.starts_in
        times = {
            "starts_at": starts_at,
            "ends_at": starts_at + outage.lasts if outage.lasts else None,
            "published_at": (
                now - timedelta(hours=1) if starts_at > now else starts_at + timedelta(minutes=10)
            ),
            "updated_at": now - timedelta(minutes=30),
            "cancelled": False,
            "restored_at": None,
        }
        existing = await connection.scalar(
            select(outages.c.id).where(outages.c.external_id == external_id)
        )
        if existing is not None:
            await connection.execute(
                outages.update().where(outages.c.id == existing).values(**times)
            )
            continue
        outage_id = await connection.scalar(
            outages.insert()
            .values(
                kind=outage.kind,
                dso_id=refs.dso_ids[outage.dso],
                external_id=external_id,
                reason=outage.reason,
                **times,
            )
            .returning(outages.c.id)
        )
        await connection.execute(
            targets.insert().values(
                outage_id=outage_id,
                outage_group=outage.group,
                settlement=outage.settlement,
                street=outage.street,
                street_key=street_key(outage.street) if outage.street else None,
                buildings=list(outage.buildings),
            )
        )
        counts["outages"] += 1


# --- synthetic accounts for benchmarks -----------------------------------------------------


def extra_account_number(index: int) -> str:
    """The account number of the index-th (1-based) synthetic benchmark account."""
    return f"3{index:09d}"


def _extra_consumer(index: int) -> _Consumer:
    rng = _seeded(index)
    settlements = list(_STREETS)
    settlement = settlements[index % len(settlements)]
    dso, streets = _STREETS[settlement]
    plan = (
        TariffPlan.THREE_ZONE
        if index % 20 == 0
        else TariffPlan.TWO_ZONE
        if index % 10 == 0
        else TariffPlan.SINGLE
    )
    number = extra_account_number(index)
    surname = _SURNAMES[index % len(_SURNAMES)]
    first, patronymic = (_MALE if index % 2 else _FEMALE)[index // 2 % 6]
    return _Consumer(
        number=number,
        eic=_eic_for(index, (3, 4, 5, 6, 7)),
        holder_name=f"{surname} {first} {patronymic}",
        settlement=settlement,
        street=streets[index // len(settlements) % len(streets)],
        building=str(1 + index % 150),
        apartment=str(1 + index // 150 % 200) if index % 3 else "",
        outage_group=_GROUPS[index % len(_GROUPS)],
        dso=dso,
        supplier=index % 2,
        plan=plan,
        meter_serial=f"B{index:09d}",
        meter_type=_METER_TYPES[plan][index % len(_METER_TYPES[plan])],
        installed_on=date(2015 + index % 6, 1 + index % 12, 1 + index % 28),
        install_readings={zone: rng.randint(0, 30_000) for zone in plan.zones},
        monthly_kwh=rng.randint(120, 240) if plan is TariffPlan.SINGLE else rng.randint(260, 420),
        seasonality=0.2,
        payer="punctual",
        opening_balance=Decimal("0.00"),
        contract_number=f"{_DSOS[dso][2]}-{number}",
    )


async def _seed_extra_accounts(
    engine: AsyncEngine,
    count: int,
    refs: _References,
    now: datetime,
    last: _Month,
    rates: Sequence[TariffRate],
    business_zone: ZoneInfo,
    counts: Counter[str],
) -> None:
    """Bulk Core inserts, a transaction per chunk, so a big run can be resumed."""
    accounts, meters = AccountRow.__table__, MeterRow.__table__
    periods = [last.plus(-2), last.plus(-1), last]
    prices = {
        (plan, month): _rates_by_zone(rates, plan, month.next().first_day)
        for plan in TariffPlan
        for month in periods
    }
    for start in range(1, count + 1, EXTRA_CHUNK):
        indexes = range(start, min(start + EXTRA_CHUNK, count + 1))
        async with engine.begin() as connection:
            numbers = [extra_account_number(index) for index in indexes]
            existing = set(
                await connection.scalars(
                    select(accounts.c.number).where(accounts.c.number.in_(numbers))
                )
            )
            consumers = [
                _extra_consumer(index)
                for index in indexes
                if extra_account_number(index) not in existing
            ]
            if not consumers:
                continue
            # Plain executemany, then read the ids back: RETURNING with a guaranteed row order
            # makes SQLAlchemy fall back to one statement per row on SQLite.
            await _bulk_insert(
                connection, accounts, [_account_values(consumer, refs) for consumer in consumers]
            )
            id_by_number = dict(
                (
                    await connection.execute(
                        select(accounts.c.number, accounts.c.id).where(
                            accounts.c.number.in_([consumer.number for consumer in consumers])
                        )
                    )
                ).all()
            )
            account_ids = [id_by_number[consumer.number] for consumer in consumers]
            await _bulk_insert(
                connection,
                meters,
                [
                    _meter_values(consumer, account_id)
                    for consumer, account_id in zip(consumers, account_ids, strict=True)
                ],
            )
            meter_by_account = dict(
                (
                    await connection.execute(
                        select(meters.c.account_id, meters.c.id).where(
                            meters.c.account_id.in_(account_ids)
                        )
                    )
                ).all()
            )
            meter_ids = [meter_by_account[account_id] for account_id in account_ids]
            rows = _History([], [], [], [], [])
            for consumer, account_id, meter_id in zip(
                consumers, account_ids, meter_ids, strict=True
            ):
                _extra_history(
                    consumer, account_id, meter_id, periods, prices, business_zone, now, rows
                )
            for table, table_rows in (
                (BillingReadingRow.__table__, rows.billing),
                (ConsumptionRow.__table__, rows.consumption),
                (BillRow.__table__, rows.bills),
                (PaymentRow.__table__, rows.payments),
            ):
                await _bulk_insert(connection, table, table_rows)
            counts["accounts"] += len(consumers)
            counts["meters"] += len(consumers)
            counts["billing_readings"] += len(rows.billing)
            counts["consumption"] += len(rows.consumption)
            counts["bills"] += len(rows.bills)
            counts["payments"] += len(rows.payments)


def _extra_history(
    consumer: _Consumer,
    account_id: int,
    meter_id: int,
    periods: Sequence[_Month],
    prices: Mapping[tuple[TariffPlan, _Month], Mapping[Zone, Decimal]],
    business_zone: ZoneInfo,
    now: datetime,
    rows: _History,
) -> None:
    """Three billed periods; one payment settles the first two bills after the second.

    Opening balance 0: bill 1 is due in full, bill 2 carries bill 1 (unpaid yet), the
    payment covers both, bill 3 is due on its own and still open.
    """
    rng = _seeded(f"extra/{consumer.number}")
    readings = {
        zone: value + rng.randint(500, 20_000) for zone, value in consumer.install_readings.items()
    }
    balance = consumer.opening_balance
    for position, month in enumerate(periods):
        following = month.next()
        kwh = _monthly_kwh(consumer, month)
        for zone in consumer.plan.zones:
            readings[zone] += kwh[zone]
            rows.billing.append(
                {
                    "account_id": account_id,
                    "meter_id": meter_id,
                    "period": month.label,
                    "zone": zone.value,
                    "value": readings[zone],
                    "taken_on": following.first_day,
                    "source": ReadingSource.CABINET.value,
                }
            )
            rows.consumption.append(
                {
                    "account_id": account_id,
                    "period": month.label,
                    "zone": zone.value,
                    "kwh": kwh[zone],
                }
            )
        charged = _charge(kwh, prices[(consumer.plan, month)])
        amount_due = max(Decimal("0.00"), charged - balance)
        balance -= charged
        issued_on = following.first_day.replace(day=5)
        rows.bills.append(
            {
                "account_id": account_id,
                "period": month.label,
                "issued_on": issued_on,
                "charged": charged,
                "amount_due": amount_due,
                "kwh": sum(kwh.values()),
                "pdf_ref": None,
            }
        )
        if position == 1:
            paid_at = _local(issued_on + timedelta(days=rng.randint(1, 10)), 12, 0, business_zone)
            rows.payments.append(
                {
                    "account_id": account_id,
                    "amount": amount_due,
                    "paid_at": min(paid_at, now),
                    "provider": PAYMENT_PROVIDER,
                    "provider_txn_id": f"bench-{consumer.number}-{month.label}",
                }
            )
            balance += amount_due
