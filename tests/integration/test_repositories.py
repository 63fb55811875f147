"""Every repository method against SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.delivery import Topic
from core.model import (
    Address,
    CallCenterRequest,
    Channel,
    Consent,
    DialogState,
    FreeServiceOrder,
    NotificationPrefs,
    OrderStatus,
    OutageKind,
    Payment,
    PaymentOrder,
    Person,
    ReadingSource,
    RequestStatus,
    SubmittedReading,
    SupportRequest,
    TariffPlan,
    TurnSnapshot,
    Zone,
)
from core.notifications import notify_person
from core.ports import (
    AbstractUnitOfWork,
)
from core.privacy import attempt_key
from core.records import ScheduleSettings
from storage.orm import (
    AccountRow,
    Base,
    BillingReadingRow,
    BillRow,
    ConsumptionRow,
    DsoRow,
    MeterRow,
    OutageRow,
    OutageTargetRow,
    PaymentOrderRow,
    PersonRow,
    PhotoRow,
    RegionRow,
    SupplierRow,
    SupportRequestRow,
    TariffRateRow,
)
from storage.uow import SqlAlchemyUnitOfWork, SqlAlchemyUnitOfWorkFactory

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
KYIV_WINTER = timezone(timedelta(hours=2))


@dataclass(frozen=True)
class World:
    """Ids of the rows `world` made."""

    region_id: int
    dso_id: int
    supplier_id: int
    account_id: int
    two_zone_account_id: int
    meter_id: int
    two_zone_meter_id: int


def _account_row(number: str, eic: str, dso_id: int, supplier_id: int, **extra) -> AccountRow:
    values = {
        "holder_name": "Іваненко Іван Іванович",
        "settlement": "Київ",
        "street": "вул. Кузьми Скрябіна",
        "street_key": "кузьми скрябіна",
        "building": "39",
        "apartment": "",
        "outage_group": "3.2",
        "tariff_plan": "single",
        "contract_number": "Д-1",
        "contract_date": date(2019, 11, 1),
        "opening_balance": Decimal("12.34"),
    } | extra
    return AccountRow(number=number, eic=eic, dso_id=dso_id, supplier_id=supplier_id, **values)


@pytest.fixture
async def world(uow_factory: SqlAlchemyUnitOfWorkFactory) -> World:
    """Reference data, a single-zone and a two-zone account with meters and some history."""
    async with uow_factory() as uow:
        session = uow.session
        region = RegionRow(name="Київ")
        session.add(region)
        await session.flush()
        dso = DsoRow(region_id=region.id, name="ПрАТ «Демо Мережі»", short_name="ДМ")
        supplier = SupplierRow(
            name="ТОВ «Демо Енергозбут»", iban="UA213223130000026007233566001", edrpou="12345678"
        )
        session.add_all([dso, supplier])
        await session.flush()
        single = _account_row("2010000232", "62Z000000000232T", dso.id, supplier.id)
        two_zone = _account_row(
            "2010000777",
            "62Z000000000777O",
            dso.id,
            supplier.id,
            holder_name="Петренко Олена Миколаївна",
            street="просп. Перемоги",
            street_key="перемоги",
            building="12",
            apartment="45",
            outage_group="1.1",
            tariff_plan="two_zone",
        )
        session.add_all([single, two_zone])
        await session.flush()
        old_meter = MeterRow(
            account_id=single.id,
            serial="000001",
            type_name="СО-2",
            zones=["day"],
            digit_count=5,
            installed_on=date(2010, 1, 1),
            install_readings={"day": 0},
            removed_on=date(2019, 11, 1),
        )
        meter = MeterRow(
            account_id=single.id,
            serial="0123456",
            type_name="ЛЕО",
            zones=["day"],
            digit_count=6,
            installed_on=date(2019, 11, 1),
            install_readings={"day": 4920},
        )
        two_zone_meter = MeterRow(
            account_id=two_zone.id,
            serial="777",
            type_name="NIK 2303",
            zones=["day", "night"],
            digit_count=6,
            installed_on=date(2020, 3, 15),
            install_readings={"night": 4310, "day": 10250},
        )
        session.add_all([old_meter, meter, two_zone_meter])
        await session.flush()
        for period, taken_on, day, night in (
            ("2026-09", date(2026, 10, 1), 11000, 5000),
            ("2026-10", date(2026, 11, 1), 11200, 5100),
        ):
            session.add_all(
                [
                    BillingReadingRow(
                        account_id=two_zone.id,
                        meter_id=two_zone_meter.id,
                        period=period,
                        zone=zone,
                        value=value,
                        taken_on=taken_on,
                        source="viber",
                    )
                    for zone, value in (("night", night), ("day", day))
                ]
            )
            session.add_all(
                [
                    ConsumptionRow(account_id=two_zone.id, period=period, zone="night", kwh=100),
                    ConsumptionRow(account_id=two_zone.id, period=period, zone="day", kwh=200),
                ]
            )
        session.add_all(
            [
                BillRow(
                    account_id=single.id,
                    period="2026-09",
                    issued_on=date(2026, 10, 5),
                    charged=Decimal("648.00"),
                    amount_due=Decimal("635.66"),
                    kwh=150,
                ),
                BillRow(
                    account_id=single.id,
                    period="2026-10",
                    issued_on=date(2026, 11, 5),
                    charged=Decimal("561.60"),
                    amount_due=Decimal("561.60"),
                    kwh=130,
                    pdf_ref="bills/2026-10.pdf",
                ),
            ]
        )
        for plan, zone, price, valid_from, valid_to in (
            ("single", "day", "2.6400", date(2023, 6, 1), date(2024, 5, 31)),
            ("single", "day", "4.3200", date(2024, 6, 1), None),
            ("two_zone", "night", "2.1600", date(2024, 6, 1), None),
            ("two_zone", "day", "4.3200", date(2024, 6, 1), None),
        ):
            session.add(
                TariffRateRow(
                    plan=plan,
                    zone=zone,
                    price=Decimal(price),
                    valid_from=valid_from,
                    valid_to=valid_to,
                )
            )
        await uow.commit()
        return World(
            region_id=region.id,
            dso_id=dso.id,
            supplier_id=supplier.id,
            account_id=single.id,
            two_zone_account_id=two_zone.id,
            meter_id=meter.id,
            two_zone_meter_id=two_zone_meter.id,
        )


async def _person(uow: SqlAlchemyUnitOfWork, external_id: str = "42") -> int:
    identity = await uow.persons.create_person_with_identity(
        Channel.TELEGRAM, external_id, "Іван", "uk", T0
    )
    return identity.person_id


async def test_references(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        regions = await uow.references.regions()
        dsos = await uow.references.dsos()
        dso = await uow.references.dso(world.dso_id)
        supplier = await uow.references.supplier(world.supplier_id)
        assert [region.name for region in regions] == ["Київ"]
        assert [(d.id, d.region_id, d.short_name) for d in dsos] == [
            (world.dso_id, world.region_id, "ДМ")
        ]
        assert dso is not None and dso.name == "ПрАТ «Демо Мережі»"
        assert supplier is not None and supplier.edrpou == "12345678"
        assert supplier.iban.startswith("UA")
        assert await uow.references.dso(999_999) is None
        assert await uow.references.supplier(999_999) is None


async def test_accounts_get_and_find(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    async with uow_factory() as uow:
        account = await uow.accounts.get(world.account_id)
        assert account is not None
        assert account.number == "2010000232"
        assert account.address == Address("Київ", "вул. Кузьми Скрябіна", "39", "")
        assert account.tariff_plan is TariffPlan.SINGLE
        assert account.opening_balance == Decimal("12.34")
        assert account.contract_date == date(2019, 11, 1)
        assert account.outage_group == "3.2"
        found = await uow.accounts.find("2010000232", "62z000000000232t")
        assert found == account
        assert await uow.accounts.find("2010000232", "62Z000000000777O") is None
        assert await uow.accounts.find("2010000777", "62Z000000000232T") is None
        assert await uow.accounts.get(999_999) is None


async def test_links_and_attempts(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        person_id = await _person(uow)
        other_id = await _person(uow, "43")
        await uow.links.link(person_id, world.two_zone_account_id, T0)
        await uow.links.link(person_id, world.account_id, T0 + timedelta(minutes=1))
        await uow.links.link(person_id, world.account_id, T0 + timedelta(minutes=2))  # again
        await uow.links.link(other_id, world.account_id, T0 + timedelta(minutes=3))
        for minutes in (5, 1, 30):
            await uow.links.record_failed_attempt(["me", "acct"], T0 - timedelta(minutes=minutes))
        await uow.commit()

    async with uow_factory() as uow:
        linked = await uow.links.accounts_of(person_id)
        assert [account.number for account in linked] == ["2010000777", "2010000232"]
        assert await uow.links.is_linked(person_id, world.account_id)
        assert not await uow.links.is_linked(other_id, world.two_zone_account_id)
        assert await uow.links.is_linked(other_id, world.account_id)
        since = T0 - timedelta(minutes=10)
        for key in ("me", "acct"):
            assert await uow.links.failed_attempts_since(key, since) == [
                T0 - timedelta(minutes=5),
                T0 - timedelta(minutes=1),
            ]
        assert await uow.links.failed_attempts_since("other", since) == []
        await uow.links.unlink(person_id, world.two_zone_account_id)
        await uow.commit()

    async with uow_factory() as uow:
        assert [a.id for a in await uow.links.accounts_of(person_id)] == [world.account_id]


async def test_meters(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        meter = await uow.meters.in_service(world.account_id)
        assert meter is not None
        assert (meter.id, meter.serial, meter.type_name) == (world.meter_id, "0123456", "ЛЕО")
        assert meter.zones == (Zone.DAY,)
        assert meter.install_readings == {Zone.DAY: 4920}
        assert meter.installed_on == date(2019, 11, 1) and meter.removed_on is None
        assert meter.rollover_modulus == 1_000_000
        # The removed meter is kept: the import rules still see it, out of service.
        history = await uow.operator.meter_refs([world.account_id])
        assert [(m.serial, m.in_service) for m in history] == [("000001", False), ("0123456", True)]
        two_zone = await uow.meters.in_service(world.two_zone_account_id)
        assert two_zone is not None and two_zone.zones == (Zone.DAY, Zone.NIGHT)
        assert list(two_zone.install_readings) == [Zone.DAY, Zone.NIGHT]
        assert await uow.meters.in_service(999_999) is None


async def test_submitted_readings(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        person_id = await _person(uow)
        identity = (await uow.persons.identities(person_id))[0]
        first = await uow.readings.add_submitted(
            SubmittedReading(
                id=None,
                account_id=world.two_zone_account_id,
                meter_id=world.two_zone_meter_id,
                taken_at=T0 - timedelta(days=1),
                values={Zone.NIGHT: 5150, Zone.DAY: 11300},
                source=ReadingSource.TELEGRAM,
                identity_id=identity.id,
            )
        )
        # Kyiv-offset input is stored as the same instant and comes back in UTC.
        second = await uow.readings.add_submitted(
            SubmittedReading(
                id=None,
                account_id=world.two_zone_account_id,
                meter_id=world.two_zone_meter_id,
                taken_at=T0.astimezone(KYIV_WINTER),
                values={Zone.DAY: 11310, Zone.NIGHT: 5155},
                source=ReadingSource.CONTROLLER,
            )
        )
        assert first.id is not None and second.id is not None and first.id != second.id
        await uow.commit()

    async with uow_factory() as uow:
        readings = await uow.readings.submitted(world.two_zone_account_id)
        assert [r.id for r in readings] == [second.id, first.id]
        newest = readings[0]
        assert newest.taken_at == T0 and newest.taken_at.tzinfo is not None
        assert newest.taken_at.utcoffset() == timedelta(0)
        assert list(newest.values.items()) == [(Zone.DAY, 11310), (Zone.NIGHT, 5155)]
        assert newest.source is ReadingSource.CONTROLLER and newest.identity_id is None
        assert readings[1].identity_id == identity.id
        window = await uow.readings.submitted(
            world.two_zone_account_id, since=T0 - timedelta(hours=25), until=T0
        )
        assert [r.id for r in window] == [first.id]
        assert await uow.readings.submitted(world.account_id) == []
        await uow.readings.remove_submitted(first.id)
        await uow.commit()

    async with uow_factory() as uow:
        assert [r.id for r in await uow.readings.submitted(world.two_zone_account_id)] == [
            second.id
        ]


async def test_billing_readings_and_consumption(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    async with uow_factory() as uow:
        latest = await uow.readings.latest_billing(world.two_zone_account_id)
        assert latest is not None
        assert latest.period == "2026-10" and latest.taken_on == date(2026, 11, 1)
        assert list(latest.values.items()) == [(Zone.DAY, 11200), (Zone.NIGHT, 5100)]
        assert latest.source is ReadingSource.VIBER
        assert latest.meter_id == world.two_zone_meter_id
        all_periods = await uow.readings.billing(world.two_zone_account_id)
        assert [b.period for b in all_periods] == ["2026-10", "2026-09"]
        recent = await uow.readings.billing(world.two_zone_account_id, since_period="2026-10")
        assert [b.period for b in recent] == ["2026-10"]
        assert await uow.readings.latest_billing(world.account_id) is None
        consumption = await uow.readings.consumption(world.two_zone_account_id)
        assert [(c.period, c.zone, c.kwh) for c in consumption] == [
            ("2026-10", Zone.DAY, 200),
            ("2026-10", Zone.NIGHT, 100),
            ("2026-09", Zone.DAY, 200),
            ("2026-09", Zone.NIGHT, 100),
        ]
        since = await uow.readings.consumption(world.two_zone_account_id, since_period="2026-10")
        assert {c.period for c in since} == {"2026-10"}


async def test_bills_payments_and_totals(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    async with uow_factory() as uow:
        bills = await uow.billing.bills(world.account_id)
        assert [(b.period, b.charged, b.amount_due) for b in bills] == [
            ("2026-10", Decimal("561.60"), Decimal("561.60")),
            ("2026-09", Decimal("648.00"), Decimal("635.66")),
        ]
        assert [b.period for b in await uow.billing.bills(world.account_id, "2026-10")] == [
            "2026-10"
        ]
        bill = await uow.billing.bill(world.account_id, "2026-10")
        assert bill is not None and bill.kwh == 130 and bill.pdf_ref == "bills/2026-10.pdf"
        assert bill.issued_on == date(2026, 11, 5)
        assert await uow.billing.bill(world.account_id, "2020-01") is None
        assert await uow.billing.totals(world.two_zone_account_id) == (Decimal("0.00"),) * 2

        def payment(txn: str, amount: str, days: int) -> Payment:
            return Payment(
                id=0,
                account_id=world.account_id,
                amount=Decimal(amount),
                paid_at=T0 + timedelta(days=days),
                provider="easypay",
                provider_txn_id=txn,
            )

        assert await uow.billing.add_payment(payment("tx-1", "635.66", -40))
        assert await uow.billing.add_payment(payment("tx-2", "561.61", -10))
        await uow.commit()

    async with uow_factory() as uow:
        payments = await uow.billing.payments(world.account_id)
        assert [(p.provider_txn_id, p.amount) for p in payments] == [
            ("tx-2", Decimal("561.61")),
            ("tx-1", Decimal("635.66")),
        ]
        assert payments[0].paid_at == T0 - timedelta(days=10)
        recent = await uow.billing.payments(world.account_id, since=T0 - timedelta(days=20))
        assert [p.provider_txn_id for p in recent] == ["tx-2"]
        charged, paid = await uow.billing.totals(world.account_id)
        assert (charged, paid) == (Decimal("1209.60"), Decimal("1197.27"))
        assert isinstance(charged, Decimal) and isinstance(paid, Decimal)


async def test_payment_dedup_keeps_the_transaction_usable(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    payment = Payment(
        id=0,
        account_id=world.account_id,
        amount=Decimal("100.00"),
        paid_at=T0,
        provider="easypay",
        provider_txn_id="dup-1",
    )
    async with uow_factory() as uow:
        assert await uow.billing.add_payment(payment)
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.billing.add_payment(payment)
        # The same id at another provider is another payment.
        other = Payment(**{**payment.__dict__, "provider": "privat24"})
        assert await uow.billing.add_payment(other)
        await uow.commit()
    async with uow_factory() as uow:
        payments = await uow.billing.payments(world.account_id)
        assert sorted(p.provider for p in payments) == ["easypay", "privat24"]
        assert (await uow.billing.totals(world.account_id))[1] == Decimal("200.00")


async def test_tariffs_in_force(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        old = await uow.tariffs.rates_in_force(TariffPlan.SINGLE, date(2024, 5, 31))
        assert [(r.zone, r.price) for r in old] == [(Zone.DAY, Decimal("2.6400"))]
        now = await uow.tariffs.rates_in_force(TariffPlan.SINGLE, date(2024, 6, 1))
        assert [(r.zone, r.price, r.valid_to) for r in now] == [(Zone.DAY, Decimal("4.32"), None)]
        two = await uow.tariffs.rates_in_force(TariffPlan.TWO_ZONE, date(2026, 11, 1))
        assert [(r.zone, r.price) for r in two] == [
            (Zone.DAY, Decimal("4.32")),
            (Zone.NIGHT, Decimal("2.16")),
        ]
        assert await uow.tariffs.rates_in_force(TariffPlan.THREE_ZONE, date(2026, 11, 1)) == []
        assert await uow.tariffs.rates_in_force(TariffPlan.SINGLE, date(2020, 1, 1)) == []


async def test_persons_identities_consents_and_prefs(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    async with uow_factory() as uow:
        identity = await uow.persons.create_person_with_identity(
            Channel.VIBER, "viber-user==", "Олена", "uk", T0
        )
        assert identity.channel is Channel.VIBER and identity.reachable
        assert identity.display_name == "Олена"
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.persons.identity(Channel.VIBER, "viber-user==") == identity
        assert await uow.persons.identity(Channel.TELEGRAM, "viber-user==") is None
        person = await uow.persons.get(identity.person_id)
        assert person is not None
        assert (person.name, person.locale, person.created_at) == ("Олена", "uk", T0)
        await uow.persons.update(
            Person(
                id=person.id,
                name="Олена П.",
                phone="+380501234567",
                email="o@example.com",
                locale="en",
            )
        )
        await uow.persons.set_reachable(identity.id, False)
        await uow.persons.add_consent(Consent(person.id, T0, "v1", Channel.VIBER))
        await uow.persons.add_consent(
            Consent(person.id, T0 + timedelta(days=1), "v2", Channel.VIBER)
        )
        assert await uow.persons.prefs(person.id) is None
        await uow.persons.save_prefs(
            NotificationPrefs(
                person_id=person.id, channels=frozenset({Channel.VIBER}), changed_at=T0
            )
        )
        await uow.commit()

    async with uow_factory() as uow:
        person = await uow.persons.get(identity.person_id)
        assert person is not None
        assert (person.name, person.phone, person.email, person.locale) == (
            "Олена П.",
            "+380501234567",
            "o@example.com",
            "en",
        )
        identities = await uow.persons.identities(person.id)
        assert [(i.id, i.reachable) for i in identities] == [(identity.id, False)]
        latest = await uow.persons.latest_consent(person.id)
        assert latest == Consent(person.id, T0 + timedelta(days=1), "v2", Channel.VIBER)
        prefs = await uow.persons.prefs(person.id)
        assert prefs == NotificationPrefs(
            person_id=person.id, channels=frozenset({Channel.VIBER}), changed_at=T0
        )
        await uow.persons.save_prefs(
            NotificationPrefs(
                person_id=person.id,
                channels=frozenset({Channel.EMAIL, Channel.TELEGRAM}),
                paper_bill_only=True,
                outages_planned=False,
                outages_emergency=True,
                new_bills=False,
                reading_reminders=False,
                changed_at=T0 + timedelta(hours=1),
            )
        )
        await uow.commit()

    async with uow_factory() as uow:
        prefs = await uow.persons.prefs(identity.person_id)
        assert prefs is not None
        assert prefs.channels == {Channel.EMAIL, Channel.TELEGRAM}
        assert prefs.paper_bill_only and not prefs.outages_planned and not prefs.new_bills
        assert prefs.changed_at == T0 + timedelta(hours=1)
        assert await uow.persons.latest_consent(999_999) is None
        assert await uow.persons.get(999_999) is None


async def test_requests(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        person_id = await _person(uow)
        first = await uow.requests.add_call_center(
            CallCenterRequest(
                id=0,
                person_id=person_id,
                account_id=world.account_id,
                request_type="Незрозумілий рахунок",
                text="Чому так багато?",
                status=RequestStatus.NEW,
                created_at=T0,
            )
        )
        second = await uow.requests.add_call_center(
            CallCenterRequest(
                id=0,
                person_id=person_id,
                account_id=None,
                request_type="Інше",
                text="Відсутнє підключення",
                status=RequestStatus.DONE,
                created_at=T0 + timedelta(hours=1),
                answer="Відновлено",
                answered_at=T0 + timedelta(hours=2),
            )
        )
        order = await uow.requests.add_free_service(
            FreeServiceOrder(
                id=0,
                person_id=person_id,
                account_id=world.account_id,
                service_type="Шум у електролічильнику",
                phone="0994455889",
                status=RequestStatus.NEW,
                created_at=T0,
            )
        )
        support = await uow.requests.add_support(
            SupportRequest(
                id=0,
                person_id=person_id,
                name="Іваненко Іван Іванович",
                login="test@gmail.com",
                phone="+380994444444",
                request_type="додавання особових рахунків",
                text="Не додається рахунок",
                status=RequestStatus.NEW,
                created_at=T0,
            )
        )
        assert first.id > 0 and second.id > first.id and order.id > 0 and support.id > 0
        await uow.commit()

    async with uow_factory() as uow:
        requests = await uow.requests.call_center_of(person_id)
        assert requests == [second, first]
        assert requests[0].answered_at == T0 + timedelta(hours=2)
        assert await uow.requests.free_services_of(person_id) == [order]
        assert await uow.requests.support_of(person_id) == [support]
        assert await uow.requests.call_center_of(999_999) == []
        assert await uow.requests.support_of(999_999) == []

    # An operator's answers are kept: the chat lists show them.
    answered = T0 + timedelta(hours=3)
    async with uow_factory() as uow:
        await uow.operator.answer_free_service(
            order.id, "Майстер прийде 2 грудня", RequestStatus.IN_PROGRESS, answered
        )
        await uow.operator.answer_support(
            support.id, "Рахунок додано вручну", RequestStatus.DONE, answered
        )
        await uow.commit()
    async with uow_factory() as uow:
        [kept_order] = await uow.requests.free_services_of(person_id)
        assert (kept_order.status, kept_order.answer, kept_order.answered_at) == (
            RequestStatus.IN_PROGRESS,
            "Майстер прийде 2 грудня",
            answered,
        )
        [kept_support] = await uow.requests.support_of(person_id)
        assert (kept_support.status, kept_support.answer, kept_support.answered_at) == (
            RequestStatus.DONE,
            "Рахунок додано вручну",
            answered,
        )
        assert await uow.operator.support_request(support.id) == kept_support
        assert [r.id for r in await uow.operator.support_requests(None, 0, 10)] == [support.id]


async def test_outages_affecting_an_account(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    def outage(
        kind: str, starts_hours: int, ends_hours: int | None, *targets: OutageTargetRow, **extra
    ) -> OutageRow:
        return OutageRow(
            kind=kind,
            dso_id=world.dso_id,
            starts_at=T0 + timedelta(hours=starts_hours),
            ends_at=None if ends_hours is None else T0 + timedelta(hours=ends_hours),
            reason="ремонт",
            published_at=T0 - timedelta(days=1),
            updated_at=T0 - timedelta(hours=abs(starts_hours)),
            targets=list(targets),
            **extra,
        )

    def street(name: str, *buildings: str, settlement: str = "м. Київ") -> OutageTargetRow:
        from storage.addresses import street_key

        return OutageTargetRow(
            settlement=settlement,
            street=name,
            street_key=street_key(name),
            buildings=list(buildings),
        )

    def group(name: str) -> OutageTargetRow:
        return OutageTargetRow(outage_group=name, buildings=[])

    async with uow_factory() as uow:
        uow.session.add_all(
            [
                outage("planned", 24, 30, group("3.2")),  # 0: by group
                outage("planned", 48, 50, street("Кузьми Скрябіна вулиця", "37", "39")),  # 1
                outage("planned", 48, 50, street("вул. Кузьми Скрябіна", "41")),  # other house
                outage("planned", 48, 50, street("вул. Кузьми Скрябіна", settlement="Бровари")),
                outage("emergency", -5, None, street("вул. Кузьми Скрябіна")),  # 4: open-ended
                outage("emergency", -10, -3, group("3.2")),  # over before `since`
                outage("emergency", -10, -8, group("3.2"), restored_at=T0 + timedelta(hours=1)),
                outage("planned", 24, 30, group("1.1")),  # another group
                outage("planned", 72, 80, group("3.2"), cancelled=True),  # 8: cancelled
            ]
        )
        await uow.commit()

    async with uow_factory() as uow:
        account = await uow.accounts.get(world.account_id)
        assert account is not None
        hits = await uow.outages.affecting(account, since=T0)
        assert [(o.kind, o.starts_at - T0) for o in hits] == [
            (OutageKind.EMERGENCY, timedelta(hours=-10)),  # restored after `since`
            (OutageKind.EMERGENCY, timedelta(hours=-5)),
            (OutageKind.PLANNED, timedelta(hours=24)),
            (OutageKind.PLANNED, timedelta(hours=48)),
            (OutageKind.PLANNED, timedelta(hours=72)),
        ]
        assert hits[-1].cancelled and not hits[0].cancelled
        assert hits[0].restored_at == T0 + timedelta(hours=1)
        assert hits[1].ends_at is None
        assert hits[3].targets[0].buildings == ("37", "39")
        assert hits[3].targets[0].street == "Кузьми Скрябіна вулиця"
        assert hits[2].targets[0].outage_group == "3.2"
        assert await uow.outages.last_update(world.dso_id) == T0 - timedelta(hours=5)
        assert await uow.outages.last_update(999_999) is None


async def test_dialog_state_and_update_dedup(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        empty = await uow.dialogs.load_for_update(Channel.TELEGRAM, "42")
        assert empty == DialogState(channel=Channel.TELEGRAM, user_id="42")
        await uow.dialogs.save(
            DialogState(Channel.TELEGRAM, "42", "reading", {"account_id": 7, "zones": ["day"]}),
            T0,
        )
        assert await uow.dialogs.first_time_seen(Channel.TELEGRAM, "update-1", T0)
        assert not await uow.dialogs.first_time_seen(Channel.TELEGRAM, "update-1", T0)
        assert await uow.dialogs.first_time_seen(Channel.VIBER, "update-1", T0)
        await uow.commit()

    async with uow_factory() as uow:
        state = await uow.dialogs.load_for_update(Channel.TELEGRAM, "42")
        assert state.state == "reading" and state.data == {"account_id": 7, "zones": ["day"]}
        assert await uow.dialogs.load_for_update(Channel.VIBER, "42") == DialogState(
            Channel.VIBER, "42"
        )
        await uow.dialogs.save(DialogState(Channel.TELEGRAM, "42", "menu", {}), T0)
        assert not await uow.dialogs.first_time_seen(Channel.TELEGRAM, "update-1", T0)
        await uow.commit()

    async with uow_factory() as uow:
        state = await uow.dialogs.load_for_update(Channel.TELEGRAM, "42")
        assert (state.state, state.data) == ("menu", {})


async def test_leaving_without_commit_rolls_back(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _person(uow, "rolled-back")
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await _person(uow, "failed")
            raise RuntimeError("flow failed")
    async with uow_factory() as uow:
        assert await uow.persons.identity(Channel.TELEGRAM, "rolled-back") is None
        assert await uow.persons.identity(Channel.TELEGRAM, "failed") is None
        await _person(uow, "kept")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.persons.identity(Channel.TELEGRAM, "kept") is not None


async def test_naive_datetimes_are_refused(
    uow_factory: SqlAlchemyUnitOfWorkFactory, engine: AsyncEngine
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(Exception, match="timezone-aware"):
            await uow.dialogs.first_time_seen(Channel.TELEGRAM, "k", datetime(2026, 1, 1))


async def test_failed_attempts_are_counted_per_kind(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _person(uow)
        await uow.links.record_failed_attempt(["me"], T0)
        await uow.links.record_failed_attempt(["me"], T0 + timedelta(seconds=1), "code")
        await uow.links.record_failed_attempt(["me"], T0 + timedelta(seconds=2), "code")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.links.failed_attempts_since("me", T0) == [T0]
        assert await uow.links.failed_attempts_since("me", T0, "code") == [
            T0 + timedelta(seconds=1),
            T0 + timedelta(seconds=2),
        ]


async def test_one_time_codes_join_identities(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        owner = await _person(uow, "owner")
        viber = await uow.persons.create_person_with_identity(
            Channel.VIBER, "viber-1", "Іван", None, T0
        )
        await uow.persons.add_link_code(owner, "hash-ok", T0 + timedelta(minutes=15))
        await uow.persons.add_link_code(owner, "hash-old", T0 - timedelta(seconds=1))
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.persons.use_link_code("hash-unknown", T0) is None
        assert await uow.persons.use_link_code("hash-old", T0) is None  # expired
        assert await uow.persons.use_link_code("hash-ok", T0) == owner
        assert await uow.persons.use_link_code("hash-ok", T0) is None  # used once only
        await uow.persons.move_identity(viber.id, owner)
        await uow.commit()

    async with uow_factory() as uow:
        identities = await uow.persons.identities(owner)
        assert {(i.channel, i.external_id) for i in identities} == {
            (Channel.TELEGRAM, "owner"),
            (Channel.VIBER, "viber-1"),
        }
        assert await uow.persons.identities(viber.person_id) == []
        moved = await uow.persons.identity(Channel.VIBER, "viber-1")
        assert moved is not None and moved.person_id == owner


async def test_erase_removes_personal_data_and_keeps_billing(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    async with uow_factory() as uow:
        identity = await uow.persons.create_person_with_identity(
            Channel.TELEGRAM, "to-erase", "Іван", "uk", T0
        )
        person_id = identity.person_id
        keeper = await _person(uow, "keeper")
        await uow.persons.update(
            Person(id=person_id, name="Іван", phone="+380501234567", email="i@example.com")
        )
        await uow.links.link(person_id, world.account_id, T0)
        await uow.links.link(keeper, world.account_id, T0)
        await uow.links.record_failed_attempt([KEY_OF_ERASED], T0)
        await uow.persons.add_consent(Consent(person_id, T0, "v1", Channel.TELEGRAM))
        await uow.persons.save_prefs(NotificationPrefs(person_id=person_id, changed_at=T0))
        await uow.persons.add_link_code(person_id, "hash-erase", T0 + timedelta(hours=1))
        await uow.dialogs.save(DialogState(Channel.TELEGRAM, "to-erase", "menu", {"a": 1}), T0)
        reading = await uow.readings.add_submitted(
            SubmittedReading(
                id=None,
                account_id=world.account_id,
                meter_id=world.meter_id,
                taken_at=T0,
                values={Zone.DAY: 20_000},
                source=ReadingSource.TELEGRAM,
                identity_id=identity.id,
            )
        )
        await uow.requests.add_support(
            SupportRequest(
                id=0,
                person_id=person_id,
                name="Іван",
                login="i@example.com",
                phone="+380501234567",
                request_type="інше",
                text="Текст",
                status=RequestStatus.NEW,
                created_at=T0,
            )
        )
        await uow.requests.add_free_service(
            FreeServiceOrder(
                id=0,
                person_id=person_id,
                account_id=world.account_id,
                service_type="Шум",
                phone="0994455889",
                status=RequestStatus.NEW,
                created_at=T0,
            )
        )
        await uow.requests.add_call_center(
            CallCenterRequest(
                id=0,
                person_id=person_id,
                account_id=world.account_id,
                request_type="Інше",
                text="Питання",
                status=RequestStatus.NEW,
                created_at=T0,
            )
        )
        await uow.billing.add_payment(
            Payment(
                id=0,
                account_id=world.account_id,
                amount=Decimal("10.00"),
                paid_at=T0,
                provider="easypay",
                provider_txn_id="kept",
            )
        )
        order = PaymentOrder(
            "order-erase", world.account_id, Decimal("10.00"), T0, person_id,
            Channel.TELEGRAM, "to-erase", OrderStatus.PAID, "easypay", "", "kept", T0,
        )  # fmt: skip
        await uow.payment_orders.add(order)
        await uow.schedules.save_settings(person_id, ScheduleSettings(remind_on=True))
        payload = {"kind": "payment.paid", "order_id": "order-erase", "who": "to-erase"}
        assert await notify_person(uow, person_id, Topic.PAYMENTS, payload, "paid:x", T0)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.persons.erase(person_id, T0 + timedelta(days=1))
        await uow.commit()
    # Issue 18: nothing but the blanked person row and the records kept on purpose (consent,
    # requests) points at the person, and the messenger user id is nowhere.
    await _nothing_refers_to(uow_factory, person_id, "to-erase")

    async with uow_factory() as uow:
        person = await uow.persons.get(person_id)
        assert person is not None
        assert (person.name, person.phone, person.email, person.locale) == ("", None, None, None)
        assert await uow.persons.identity(Channel.TELEGRAM, "to-erase") is None
        assert await uow.persons.identities(person_id) == []
        assert await uow.links.accounts_of(person_id) == []
        assert await uow.links.is_linked(keeper, world.account_id)
        # Brute-force counters hold no personal data and outlive erasure (issue 18).
        assert await uow.links.failed_attempts_since(KEY_OF_ERASED, T0) == [T0]
        assert await uow.persons.prefs(person_id) is None
        assert await uow.persons.use_link_code("hash-erase", T0) is None
        assert await uow.dialogs.load_for_update(Channel.TELEGRAM, "to-erase") == DialogState(
            Channel.TELEGRAM, "to-erase"
        )
        consent = await uow.persons.latest_consent(person_id)
        assert consent is not None and consent.given_at == T0
        [kept_reading] = await uow.readings.submitted(world.account_id)
        assert kept_reading.id == reading.id and kept_reading.identity_id is None
        [order] = await uow.requests.free_services_of(person_id)
        assert order.phone == "" and order.service_type == "Шум"
        [request] = await uow.requests.call_center_of(person_id)
        assert request.text == "Питання"
        support = (await uow.session.scalars(select(SupportRequestRow))).one()
        assert (support.name, support.login, support.phone, support.text) == ("", "", "", "Текст")
        assert [p.provider_txn_id for p in await uow.billing.payments(world.account_id)] == ["kept"]
        deleted_at = await uow.session.scalar(
            select(PersonRow.deleted_at).where(PersonRow.id == person_id)
        )
        assert deleted_at == T0 + timedelta(days=1)


KEY_OF_ERASED = attempt_key("identity", "telegram", "to-erase")
KEPT_FOR_THE_RECORD = {"consents", "call_center_requests", "free_service_orders",
                       "support_requests"}  # fmt: skip


async def _nothing_refers_to(
    uow_factory: SqlAlchemyUnitOfWorkFactory, person_id: int, platform_id: str
) -> None:
    async with uow_factory() as uow:
        for table in Base.metadata.sorted_tables:
            for row in (await uow.session.execute(select(table))).mappings():
                text = json.dumps({k: str(v) for k, v in row.items()}, ensure_ascii=False)
                assert platform_id not in text, (table.name, text)
                if "person_id" in row and table.name not in KEPT_FOR_THE_RECORD:
                    assert row["person_id"] != person_id, (table.name, text)
        [order] = (await uow.session.execute(select(PaymentOrderRow))).scalars()
        assert (order.amount, order.provider_txn_id, order.status) == (
            Decimal("10.00"), "kept", "paid"
        )  # fmt: skip


async def test_payment_orders(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        person_id = await _person(uow)
        order = PaymentOrder(
            order_id="ord-1",
            account_id=world.account_id,
            amount=Decimal("561.60"),
            created_at=T0,
            person_id=person_id,
            channel=Channel.TELEGRAM,
            user_id="42",
            provider="easypay",
            payment_url="https://pay.example/ord-1",
        )
        await uow.payment_orders.add(order)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.payment_orders.get("ord-1") == order
        assert await uow.payment_orders.get("ord-unknown") is None
        paid = replace(
            order,
            status=OrderStatus.PAID,
            amount=Decimal("600.00"),
            provider_txn_id="tx-9",
            paid_at=T0 + timedelta(minutes=3),
        )
        await uow.payment_orders.update(paid)
        await uow.commit()

    async with uow_factory() as uow:
        stored = await uow.payment_orders.get("ord-1")
        assert stored == paid
        assert stored is not None and stored.status is OrderStatus.PAID


async def test_photos(uow_factory: SqlAlchemyUnitOfWorkFactory, world: World) -> None:
    async with uow_factory() as uow:
        photo_id = await uow.photos.add(
            "ab" * 32, 123_456, "image/jpeg", "photos/2026/11/ab.jpg", T0, T0 + timedelta(days=1095)
        )
        second = await uow.photos.add("cd" * 32, 10, "image/png", "photos/cd.png", T0, None)
        assert photo_id > 0 and second != photo_id
        reading = await uow.readings.add_submitted(
            SubmittedReading(
                id=None,
                account_id=world.account_id,
                meter_id=world.meter_id,
                taken_at=T0,
                values={Zone.DAY: 20_000},
                source=ReadingSource.VIBER,
                photo_id=photo_id,
            )
        )
        await uow.commit()

    async with uow_factory() as uow:
        [stored] = await uow.readings.submitted(world.account_id)
        assert stored.id == reading.id and stored.photo_id == photo_id
        row = await uow.session.get(PhotoRow, photo_id)
        assert row is not None
        assert (row.size, row.content_type, row.storage_ref) == (
            123_456,
            "image/jpeg",
            "photos/2026/11/ab.jpg",
        )
        assert row.retain_until == T0 + timedelta(days=1095)


async def test_balance_facts_agree_with_the_composed_answers(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    """The one statement of the balance gives what the repositories' answers add up to."""
    async with uow_factory() as uow:

        def payment(txn: str, amount: str, days: int) -> Payment:
            return Payment(
                0, world.account_id, Decimal(amount), T0 + timedelta(days=days), "easypay", txn
            )

        assert await uow.billing.add_payment(payment("tx-1", "635.66", -40))
        assert await uow.billing.add_payment(payment("tx-2", "561.61", -10))
        for days, day, night in ((-40, 11000, 5000), (-2, 11300, 5150), (-1, 11310, 5155)):
            await uow.readings.add_submitted(
                SubmittedReading(
                    id=None,
                    account_id=world.two_zone_account_id,
                    meter_id=world.two_zone_meter_id,
                    taken_at=T0 + timedelta(days=days),
                    values={Zone.DAY: day, Zone.NIGHT: night},
                    source=ReadingSource.TELEGRAM,
                )
            )
        await uow.commit()

    window = (T0 - timedelta(days=5), T0)
    async with uow_factory() as uow:
        for account_id in (world.account_id, world.two_zone_account_id):
            for asked in (None, window):
                facts = await uow.balance_facts(account_id, asked)
                assert facts == await AbstractUnitOfWork.balance_facts(uow, account_id, asked)
        facts = await uow.balance_facts(world.account_id)
        assert (facts.charged, facts.paid) == (Decimal("1209.60"), Decimal("1197.27"))
        bill = facts.last_bill
        assert bill is not None and bill.period == "2026-10" and bill.pdf_ref == "bills/2026-10.pdf"
        last = facts.last_payment
        assert last is not None and last.provider_txn_id == "tx-2"
        assert last.paid_at == T0 - timedelta(days=10)
        assert (facts.last_billing_reading, facts.last_period_consumption) == (None, {})

        facts = await uow.balance_facts(world.two_zone_account_id, window)
        assert (facts.charged, facts.paid, facts.last_bill, facts.last_payment) == (
            Decimal("0.00"),
            Decimal("0.00"),
            None,
            None,
        )
        reading = facts.last_billing_reading
        assert reading is not None and reading.period == "2026-10"
        assert list(reading.values.items()) == [(Zone.DAY, 11200), (Zone.NIGHT, 5100)]
        assert reading.taken_on == date(2026, 11, 1) and reading.source is ReadingSource.VIBER
        assert list(facts.last_period_consumption.items()) == [(Zone.DAY, 200), (Zone.NIGHT, 100)]
        # Newest first, only those in the window, zones in plan order.
        assert [list(r.values.items()) for r in facts.submitted] == [
            [(Zone.DAY, 11310), (Zone.NIGHT, 5155)],
            [(Zone.DAY, 11300), (Zone.NIGHT, 5150)],
        ]
        assert facts.submitted[0].taken_at == T0 - timedelta(days=1)
        assert (await uow.balance_facts(world.two_zone_account_id)).submitted == ()


async def test_begin_turn_remembers_the_update_and_locks_the_state(
    uow_factory: SqlAlchemyUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        fresh = await uow.begin_turn(Channel.TELEGRAM, "42", "u-1", T0)
        assert fresh == TurnSnapshot(DialogState(Channel.TELEGRAM, "42"), None)
        await uow.dialogs.save(DialogState(Channel.TELEGRAM, "42", "reading", {"a": 1}), T0)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.begin_turn(Channel.TELEGRAM, "42", "u-1", T0) is None
        snapshot = await uow.begin_turn(Channel.TELEGRAM, "42", "u-2", T0)
        assert snapshot is not None
        assert snapshot.state == DialogState(Channel.TELEGRAM, "42", "reading", {"a": 1})
        # Without a key (the console) nothing is remembered, the state is still read.
        assert await uow.begin_turn(Channel.TELEGRAM, "42", None, T0) == snapshot
        # The same key on another channel is another update.
        other = await uow.begin_turn(Channel.VIBER, "42", "u-1", T0)
        assert other is not None and other.state == DialogState(Channel.VIBER, "42")
        await uow.commit()

    async with uow_factory() as uow:
        # A rolled-back turn leaves its update to be processed again.
        assert await uow.begin_turn(Channel.TELEGRAM, "42", "u-3", T0) is not None
    async with uow_factory() as uow:
        assert await uow.begin_turn(Channel.TELEGRAM, "42", "u-3", T0) is not None
        assert not await uow.dialogs.first_time_seen(Channel.TELEGRAM, "u-2", T0)


async def test_begin_turn_reads_the_caller_and_their_accounts(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    """What the turn's first statement reads is what the repositories would answer, for a
    new user, a known one and one with linked accounts."""

    async def both(uow: SqlAlchemyUnitOfWork, key: str) -> TurnSnapshot | None:
        snapshot = await uow.begin_turn(Channel.TELEGRAM, "66", key, T0)
        composed = await AbstractUnitOfWork.begin_turn(uow, Channel.TELEGRAM, "66", None, T0)
        assert snapshot == composed
        return snapshot

    async with uow_factory() as uow:
        snapshot = await both(uow, "b-1")
        assert snapshot is not None and snapshot.caller is None
        person_id = await _person(uow, "66")
        await uow.commit()

    async with uow_factory() as uow:
        snapshot = await both(uow, "b-2")
        assert snapshot is not None and snapshot.caller is not None
        assert snapshot.caller.person.id == person_id and snapshot.caller.person.name == "Іван"
        assert snapshot.caller.identity.external_id == "66" and snapshot.caller.identity.reachable
        assert (snapshot.caller.consent_version, snapshot.accounts) == (None, ())
        for version, minutes in (("v1", 0), ("v3", 5)):
            await uow.persons.add_consent(
                Consent(person_id, T0 + timedelta(minutes=minutes), version, Channel.TELEGRAM)
            )
        await uow.links.link(person_id, world.two_zone_account_id, T0)
        await uow.links.link(person_id, world.account_id, T0 + timedelta(minutes=1))
        await uow.commit()

    async with uow_factory() as uow:
        snapshot = await both(uow, "b-3")
        assert snapshot is not None and snapshot.caller is not None
        assert snapshot.caller.consent_version == "v3"
        assert [a.id for a in snapshot.accounts] == [world.two_zone_account_id, world.account_id]
        assert snapshot.accounts[1] == await uow.accounts.get(world.account_id)
        # A duplicate update reads nothing.
        assert await uow.begin_turn(Channel.TELEGRAM, "66", "b-3", T0) is None
        # Another channel's user of the same id is a stranger.
        other = await uow.begin_turn(Channel.VIBER, "66", "b-3", T0)
        assert other is not None and other.caller is None


async def test_turn_statements_and_repositories_share_one_transaction(
    uow_factory: SqlAlchemyUnitOfWorkFactory, world: World
) -> None:
    """A turn statement sees what the repositories wrote before it in the same block, the
    repositories see what it wrote, and both commit or roll back together, whichever runs
    first (on PostgreSQL one begins the unit of work's transaction on the driver, the other
    through the session)."""
    async with uow_factory() as uow:
        person_id = await _person(uow, "88")
        await uow.persons.add_consent(Consent(person_id, T0, "v1", Channel.TELEGRAM))
        await uow.commit()

    async with uow_factory() as uow:
        # The session first: a consent and a link, then the turn statement sees them.
        await uow.persons.add_consent(
            Consent(person_id, T0 + timedelta(hours=1), "v2", Channel.TELEGRAM)
        )
        await uow.links.link(person_id, world.account_id, T0)
        snapshot = await uow.begin_turn(Channel.TELEGRAM, "88", "t-1", T0)
        assert snapshot is not None and snapshot.caller is not None
        assert snapshot.caller.consent_version == "v2"
        assert [a.id for a in snapshot.accounts] == [world.account_id]
        # The turn statement's update key is seen by the session.
        assert not await uow.dialogs.first_time_seen(Channel.TELEGRAM, "t-1", T0)
    async with uow_factory() as uow:
        # ... and all of it rolled back together.
        snapshot = await uow.begin_turn(Channel.TELEGRAM, "88", "t-1", T0)
        assert snapshot is not None and snapshot.caller is not None
        assert (snapshot.caller.consent_version, snapshot.accounts) == ("v1", ())
        # The turn statement first, the session after it; then commit keeps both.
        await uow.links.link(person_id, world.two_zone_account_id, T0)
        await uow.commit()
        # The block goes on in a new transaction, begun by the session this time.
        await uow.links.link(person_id, world.account_id, T0 + timedelta(minutes=1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.begin_turn(Channel.TELEGRAM, "88", "t-1", T0) is None
        snapshot = await uow.begin_turn(Channel.TELEGRAM, "88", "t-2", T0)
        assert snapshot is not None
        assert [a.id for a in snapshot.accounts] == [world.two_zone_account_id, world.account_id]
        assert [a.id for a in await uow.links.accounts_of(person_id)] == [
            world.two_zone_account_id,
            world.account_id,
        ]
