"""The demo seed: the manual's accounts with a history that adds up, idempotent, extendable."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum.eu import eic

from core.model import TariffPlan, Zone
from storage.demo import extra_account_number, seed_demo
from storage.orm import AccountRow, BillRow, OutageRow, PaymentRow
from storage.uow import SqlAlchemyUnitOfWork, SqlAlchemyUnitOfWorkFactory

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # inside a window
WINDOW_OPENED = datetime(2026, 11, 29, 0, 0, tzinfo=KYIV)


async def _check_history_adds_up(uow: SqlAlchemyUnitOfWork, account_id: int) -> None:
    """Readings continue from the meter, consumption is their difference, dues follow."""
    account = await uow.accounts.get(account_id)
    meter = await uow.meters.in_service(account_id)
    assert account is not None and meter is not None
    billing = list(reversed(await uow.readings.billing(account_id)))  # oldest first
    consumption = await uow.readings.consumption(account_id)
    kwh = {(c.period, c.zone): c.kwh for c in consumption}
    assert set(meter.zones) == set(account.tariff_plan.zones)
    for zone in meter.zones:
        first = billing[0]
        assert first.values[zone] - kwh[(first.period, zone)] >= meter.install_readings[zone]
        for before, after in pairwise(billing):
            assert after.values[zone] - before.values[zone] == kwh[(after.period, zone)]
            assert kwh[(after.period, zone)] >= 0

    bills = list(reversed(await uow.billing.bills(account_id)))
    payments = await uow.billing.payments(account_id)
    assert [b.period for b in bills] == [b.period for b in billing]
    charged_before = Decimal("0.00")
    for bill in bills:
        issued = datetime.combine(bill.issued_on, time(), KYIV)
        paid_before = sum((p.amount for p in payments if p.paid_at < issued), Decimal("0.00"))
        balance_before = account.opening_balance + paid_before - charged_before
        assert bill.amount_due == max(Decimal("0.00"), bill.charged - balance_before)
        assert bill.kwh == sum(kwh[(bill.period, zone)] for zone in meter.zones)
        charged_before += bill.charged
        rates = await uow.tariffs.rates_in_force(account.tariff_plan, bill.issued_on.replace(day=1))
        expected = sum(
            (Decimal(kwh[(bill.period, rate.zone)]) * rate.price for rate in rates),
            Decimal("0"),
        ).quantize(Decimal("0.01"))
        assert bill.charged == expected
    charged, paid = await uow.billing.totals(account_id)
    assert charged == charged_before
    assert paid == sum((p.amount for p in payments), Decimal("0.00"))


async def test_demo_seed_contents(
    engine: AsyncEngine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    counts = await seed_demo(engine, NOW)
    assert counts["accounts"] >= 52 and counts["meters"] == counts["accounts"]
    assert counts["bills"] == 24 * counts["accounts"]
    assert counts["submitted_readings"] == counts["bills"]
    assert counts["dsos"] == 2 and counts["tariff_rates"] == 18

    async with uow_factory() as uow:
        account = await uow.accounts.find("2010000232", "62Z000000000232T")
        assert account is not None
        assert account.holder_name == "Іваненко Іван Іванович"
        assert (account.address.street, account.address.building) == ("вул. Кузьми Скрябіна", "39")
        assert account.tariff_plan is TariffPlan.SINGLE
        meter = await uow.meters.in_service(account.id)
        assert meter is not None
        assert (meter.type_name, meter.installed_on) == ("ЛЕО", date(2019, 11, 1))
        assert meter.install_readings == {Zone.DAY: 4920} and meter.digit_count == 6

        bills = await uow.billing.bills(account.id)
        assert len(bills) == 24
        assert (bills[0].period, bills[-1].period) == ("2026-10", "2024-11")
        latest = await uow.readings.latest_billing(account.id)
        assert latest is not None and latest.period == "2026-10"
        assert latest.taken_on == date(2026, 11, 1)
        assert latest.values[Zone.DAY] > 4920
        await _check_history_adds_up(uow, account.id)
        # The consumer submits this window's reading themselves.
        assert await uow.readings.submitted(account.id, since=WINDOW_OPENED) == []
        assert len(await uow.readings.submitted(account.id)) == 24
        assert (await uow.billing.payments(account.id))[0].provider == "easypay"

        two_zone = await uow.accounts.find("2010000777", "62Z000000000777O")
        assert two_zone is not None and two_zone.tariff_plan is TariffPlan.TWO_ZONE
        two_zone_meter = await uow.meters.in_service(two_zone.id)
        assert two_zone_meter is not None
        assert two_zone_meter.zones == (Zone.DAY, Zone.NIGHT)
        await _check_history_adds_up(uow, two_zone.id)
        rates = await uow.tariffs.rates_in_force(TariffPlan.TWO_ZONE, date(2026, 11, 1))
        assert [(r.zone, r.price) for r in rates] == [
            (Zone.DAY, Decimal("4.32")),
            (Zone.NIGHT, Decimal("2.16")),
        ]
        three = await uow.tariffs.rates_in_force(TariffPlan.THREE_ZONE, date(2024, 1, 1))
        assert [(r.zone, r.price) for r in three] == [
            (Zone.PEAK, Decimal("3.96")),
            (Zone.HALF_PEAK, Decimal("2.64")),
            (Zone.NIGHT, Decimal("1.056")),
        ]
        single_2022 = await uow.tariffs.rates_in_force(TariffPlan.SINGLE, date(2022, 6, 1))
        assert [r.price for r in single_2022] == [Decimal("1.44")]

        rows = (await uow.session.scalars(select(AccountRow))).all()
        assert len({row.dso_id for row in rows}) == 2
        assert len({row.settlement for row in rows}) >= 4
        assert len({row.street for row in rows}) >= 8
        assert len({row.outage_group for row in rows}) >= 6
        assert {row.tariff_plan for row in rows} == {"single", "two_zone", "three_zone"}
        assert all(eic.is_valid(row.eic) for row in rows)
        for row in rows[2:8]:
            await _check_history_adds_up(uow, row.id)
        in_debt = 0
        for row in rows:
            charged, paid = await uow.billing.totals(row.id)
            in_debt += row.opening_balance + paid - charged < 0
            window = await uow.readings.submitted(row.id, since=WINDOW_OPENED)
            assert window == []
        assert in_debt >= 1

    again = await seed_demo(engine, NOW)
    assert set(again.values()) == {0}


async def test_demo_outages_around_the_clock(
    engine: AsyncEngine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    counts = await seed_demo(engine, NOW)
    assert counts["outages"] == 4
    async with uow_factory() as uow:
        single = await uow.accounts.find("2010000232", "62Z000000000232T")
        two_zone = await uow.accounts.find("2010000777", "62Z000000000777O")
        assert single is not None and two_zone is not None
        for_single = await uow.outages.affecting(single, NOW)
        assert [(o.kind.value, o.starts_at > NOW) for o in for_single] == [
            ("planned", True),
            ("planned", True),
        ]
        assert {o.targets[0].outage_group for o in for_single} == {"3.2", None}
        [emergency] = await uow.outages.affecting(two_zone, NOW)
        assert emergency.kind.value == "emergency"
        assert emergency.starts_at < NOW < emergency.ends_at
        updated = await uow.outages.last_update(single.dso_id)
        assert updated is not None and updated <= NOW
    assert (await seed_demo(engine, NOW))["outages"] == 0

    # The demo run at other clocks (a week later, a day earlier): the same four outages,
    # moved around the new clock, never a pile of copies.
    for later in (NOW + timedelta(days=7), NOW - timedelta(days=1)):
        assert (await seed_demo(engine, later))["outages"] == 0
        async with uow_factory() as uow:
            assert single is not None
            moved = await uow.outages.affecting(single, later)
            assert [(o.kind.value, o.starts_at - later > timedelta(days=1)) for o in moved] == [
                ("planned", True),
                ("planned", True),
            ]
    async with engine.connect() as connection:
        total = await connection.scalar(select(func.count()).select_from(OutageRow))
    assert total == 4


async def test_a_later_clock_adds_the_months_billed_since(
    engine: AsyncEngine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    await seed_demo(engine, NOW)
    async with uow_factory() as uow:
        account = await uow.accounts.find("2010000232", "62Z000000000232T")
        assert account is not None
        before = await uow.billing.bills(account.id)
        payments_before = await uow.billing.payments(account.id)

    later = datetime(2027, 1, 6, 0, 0, tzinfo=KYIV)  # 2026-12 is billed from this moment
    counts = await seed_demo(engine, later)
    assert counts["accounts"] == 0 and counts["bills"] == 2 * 62

    async with uow_factory() as uow:
        after = await uow.billing.bills(account.id)
        assert [b.period for b in after[:2]] == ["2026-12", "2026-11"]
        assert after[2:] == before  # history is not rewritten
        latest = await uow.readings.latest_billing(account.id)
        assert latest is not None and latest.period == "2026-12"
        await _check_history_adds_up(uow, account.id)
        payments = await uow.billing.payments(account.id)
        assert payments[-len(payments_before) :] == payments_before
        submitted = await uow.readings.submitted(account.id)
        assert submitted[0].taken_at < datetime(2027, 1, 4, tzinfo=KYIV)  # 2026-12's window
        assert len(submitted) == 26
    assert set((await seed_demo(engine, later)).values()) == {0}


async def test_extra_accounts_for_benchmarks(
    engine: AsyncEngine, uow_factory: SqlAlchemyUnitOfWorkFactory
) -> None:
    counts = await seed_demo(engine, NOW, extra_accounts=25)
    assert counts["accounts"] == 62 + 25
    more = await seed_demo(engine, NOW, extra_accounts=40)
    assert more["accounts"] == 15 and more["bills"] == 45 and more["payments"] == 15
    assert more["submitted_readings"] == 0

    async with uow_factory() as uow:
        numbers = (
            await uow.session.scalars(select(AccountRow.number).where(AccountRow.number.like("3%")))
        ).all()
        assert sorted(numbers) == [extra_account_number(i) for i in range(1, 41)]
        rows = (
            await uow.session.scalars(select(AccountRow).where(AccountRow.number.like("3%")))
        ).all()
        assert all(eic.is_valid(row.eic) for row in rows)
        assert len({row.dso_id for row in rows}) == 2
        assert len({row.outage_group for row in rows}) >= 6
        sample = rows[9]
        account = await uow.accounts.find(sample.number, sample.eic.lower())
        assert account is not None
        bills = await uow.billing.bills(account.id)
        assert [b.period for b in bills] == ["2026-10", "2026-09", "2026-08"]
        assert len(await uow.billing.payments(account.id)) == 1
        await _check_history_adds_up(uow, account.id)
        charged, paid = await uow.billing.totals(account.id)
        assert account.opening_balance + paid - charged == -bills[0].charged
        total_bills = await uow.session.scalar(
            select(func.count())
            .select_from(BillRow)
            .join(AccountRow)
            .where(AccountRow.number.like("3%"))
        )
        assert total_bills == 40 * 3
        latest_payment = await uow.session.scalar(select(func.max(PaymentRow.paid_at)))
        assert latest_payment is not None and latest_payment <= NOW.astimezone(UTC)
