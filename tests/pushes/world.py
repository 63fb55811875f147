"""A small population for push tests: accounts on differently spelled streets, persons with
messenger identities, preferences and dialog times, written straight into the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.addresses import street_key
from storage.orm import (
    AccountLinkRow,
    AccountRow,
    BillRow,
    ChannelIdentityRow,
    ConsentRow,
    DialogStateRow,
    DsoRow,
    MeterRow,
    NotificationPrefsRow,
    PersonRow,
    RegionRow,
    SupplierRow,
    TariffRateRow,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@dataclass
class World:
    """Ids of what `build` made, by a short name."""

    dso_id: int = 0
    other_dso_id: int = 0
    accounts: dict[str, int] = field(default_factory=dict)
    persons: dict[str, int] = field(default_factory=dict)
    identities: dict[str, int] = field(default_factory=dict)


class Builder:
    """Adds rows one by one (tests are small); `world` collects their ids."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.world = World()
        self._n = 0

    async def _add(self, table, **values) -> int:
        async with self.engine.begin() as connection:
            result = await connection.execute(table.__table__.insert().values(**values))
            return result.inserted_primary_key[0] if result.inserted_primary_key else 0

    async def references(self) -> None:
        region = await self._add(RegionRow, name="Київська")
        self.world.dso_id = await self._add(DsoRow, region_id=region, name="ДТЕК Київські")
        self.world.other_dso_id = await self._add(DsoRow, region_id=region, name="Інший ОСР")
        self.supplier = await self._add(SupplierRow, name="Постачальник")

    async def account(
        self,
        name: str,
        *,
        street: str = "вул. Кузьми Скрябіна",
        building: str = "39",
        settlement: str = "Київ",
        group: str | None = "3.2",
        dso: int | None = None,
        meter: bool = True,
    ) -> int:
        self._n += 1
        account_id = await self._add(
            AccountRow,
            number=f"20100{self._n:05d}",
            eic=f"62Z{self._n:012d}X",
            holder_name="Тест",
            settlement=settlement,
            street=street,
            street_key=street_key(street),
            building=building,
            apartment="",
            outage_group=group,
            dso_id=dso or self.world.dso_id,
            supplier_id=self.supplier,
            contract_number="",
            tariff_plan="single",
            opening_balance=Decimal("0.00"),
        )
        if meter:
            await self._add(
                MeterRow,
                account_id=account_id,
                serial=f"S{self._n}",
                type_name="ЛЕО",
                zones=["day"],
                digit_count=6,
                installed_on=date(2020, 1, 1),
                install_readings={"day": 100},
            )
        self.world.accounts[name] = account_id
        return account_id

    async def person(
        self,
        name: str,
        *accounts: str,
        channels: dict[str, str] | None = None,
        locale: str | None = "uk",
        email: str | None = None,
        prefs: dict | None = None,
        last_inbound: dict[str, datetime] | None = None,
        unreachable: tuple[str, ...] = (),
    ) -> int:
        """A person linked to `accounts`; `channels` maps channel → external id."""
        person_id = await self._add(
            PersonRow, name=name, locale=locale, email=email, created_at=T0 - timedelta(days=30)
        )
        self.world.persons[name] = person_id
        for channel, external_id in (channels or {"telegram": f"tg-{name}"}).items():
            identity_id = await self._add(
                ChannelIdentityRow,
                person_id=person_id,
                channel=channel,
                external_id=external_id,
                display_name=name,
                reachable=channel not in unreachable,
            )
            self.world.identities[f"{name}:{channel}"] = identity_id
            seen = (last_inbound or {}).get(channel)
            if seen is not None:
                await self._add(
                    DialogStateRow,
                    channel=channel,
                    user_id=external_id,
                    state="",
                    data={},
                    updated_at=seen,
                )
        for account in accounts:
            await self._add(
                AccountLinkRow,
                person_id=person_id,
                account_id=self.world.accounts[account],
                linked_at=T0 - timedelta(days=10),
            )
        if prefs is not None:
            values = {
                "channels": sorted(prefs.get("channels", [])),
                "paper_bill_only": False,
                "outages_planned": prefs.get("outages_planned", True),
                "outages_emergency": prefs.get("outages_emergency", True),
                "new_bills": prefs.get("new_bills", True),
                "reading_reminders": prefs.get("reading_reminders", True),
                "changed_at": T0,
            }
            await self._add(NotificationPrefsRow, person_id=person_id, **values)
        return person_id

    async def consent(self, name: str, version: str = "2024-01") -> None:
        """The person accepted the data-processing text (flows need it)."""
        await self._add(
            ConsentRow,
            person_id=self.world.persons[name],
            given_at=T0 - timedelta(days=30),
            version=version,
            channel="console",
        )

    async def bill(self, account: str, period: str, charged: str, due: str) -> None:
        """A bill of a period for an account."""
        await self._add(
            BillRow,
            account_id=self.world.accounts[account],
            period=period,
            issued_on=date(2026, 11, 27),
            charged=Decimal(charged),
            amount_due=Decimal(due),
            kwh=150,
            pdf_ref=None,
        )

    async def tariff(self) -> None:
        """The single-zone household price (enough for a reading's estimate)."""
        await self._add(
            TariffRateRow,
            plan="single",
            zone="day",
            price=Decimal("4.32"),
            valid_from=date(2024, 6, 1),
            valid_to=None,
        )
