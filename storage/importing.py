"""The operator's repository: bulk upserts of billing imports by natural key, the export of
submitted readings, and the call-centre and free-service queues.

Upserts are set-based and work the same on SQLite and PostgreSQL: one SELECT (per chunk of
keys) finds the stored rows, then one multi-row INSERT adds the new ones and one
executemany UPDATE changes only the rows whose values differ. Re-importing a batch therefore
writes nothing, and the report can tell new, changed and unchanged rows apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.model import (
    CallCenterRequest,
    FreeServiceOrder,
    ReadingSource,
    RequestStatus,
    SupportRequest,
    TariffPlan,
    Zone,
)
from core.ports import AbstractOperatorRepository
from core.records import (
    AccountRecord,
    AccountRef,
    BillingReadingRecord,
    BillRecord,
    ConsumptionRecord,
    MeterRecord,
    MeterRef,
    PaymentRecord,
    ReadingExport,
    UpsertResult,
)
from storage.addresses import street_key
from storage.locks import lock_for_transaction
from storage.orm import (
    AccountRow,
    BillingReadingRow,
    BillRow,
    CallCenterRequestRow,
    ConsumptionRow,
    DsoRow,
    FreeServiceOrderRow,
    MeterRow,
    PaymentRow,
    SubmittedReadingRow,
    SupplierRow,
    SupportRequestRow,
)
from storage.repositories import call_center_request, free_service_order, support_request

CHUNK = 500
"""Keys per SELECT: well under SQLite's bound-parameter limit, few round trips."""


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _same(stored: Any, new: Any) -> bool:
    # NUMERIC may come back as int/float from SQLite aggregates; compare money as Decimal.
    if isinstance(new, Decimal) and stored is not None:
        return Decimal(str(stored)) == new
    return bool(stored == new)


class SqlAlchemyOperatorRepository(AbstractOperatorRepository):
    """Operator look-ups and bulk writes in the session of one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _custom_plans(self) -> None:
        """Plan each chunked look-up for its own values (PostgreSQL, this transaction only).

        asyncpg prepares statements per connection, and after five runs PostgreSQL may
        switch to a generic plan made when the table was small (right after a first bulk
        import): a sequential scan per chunk that made re-importing 20,000 accounts take
        40 s instead of 2 s.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    # --- look-ups -------------------------------------------------------------------------

    async def account_refs(self, numbers: Iterable[str]) -> Mapping[str, AccountRef]:
        await self._custom_plans()
        wanted = sorted(set(numbers))
        refs: dict[str, AccountRef] = {}
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                select(AccountRow.id, AccountRow.number, AccountRow.eic, AccountRow.tariff_plan)
                .where(AccountRow.number.in_(chunk))
                .order_by(AccountRow.id.desc())
            )
            for row_id, number, eic, plan in rows:
                # Descending ids: the lowest id wins when a number repeats.
                refs[number] = AccountRef(row_id, number, eic, TariffPlan(plan))
        return refs

    async def eic_owners(self, eics: Iterable[str]) -> Mapping[str, str]:
        await self._custom_plans()
        wanted = sorted(set(eics))
        owners: dict[str, str] = {}
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                select(AccountRow.eic, AccountRow.number).where(AccountRow.eic.in_(chunk))
            )
            owners.update({eic: number for eic, number in rows})
        return owners

    async def dso_ids(self) -> frozenset[int]:
        return frozenset(await self.session.scalars(select(DsoRow.id)))

    async def supplier_ids(self) -> frozenset[int]:
        return frozenset(await self.session.scalars(select(SupplierRow.id)))

    async def meter_refs(self, account_ids: Iterable[int]) -> Sequence[MeterRef]:
        await self._custom_plans()
        wanted = sorted(set(account_ids))
        meters: list[MeterRef] = []
        for chunk in _chunks(wanted):
            rows = await self.session.execute(
                select(
                    MeterRow.id,
                    MeterRow.account_id,
                    MeterRow.serial,
                    MeterRow.digit_count,
                    MeterRow.removed_on,
                )
                .where(MeterRow.account_id.in_(chunk))
                .order_by(MeterRow.installed_on, MeterRow.id)
            )
            meters.extend(
                MeterRef(row_id, account_id, serial, digits, removed is None)
                for row_id, account_id, serial, digits, removed in rows
            )
        return meters

    # --- upserts --------------------------------------------------------------------------

    async def upsert_accounts(self, records: Sequence[AccountRecord]) -> UpsertResult:
        rows = [
            {
                "number": r.number,
                "eic": r.eic,
                "holder_name": r.holder_name,
                "settlement": r.settlement,
                "street": r.street,
                "street_key": street_key(r.street),
                "building": r.building,
                "apartment": r.apartment,
                "outage_group": r.outage_group,
                "dso_id": r.dso_id,
                "supplier_id": r.supplier_id,
                "contract_number": r.contract_number,
                "contract_date": r.contract_date,
                "tariff_plan": r.tariff_plan.value,
                "opening_balance": r.opening_balance,
            }
            for r in records
        ]
        return await self._upsert(AccountRow.__table__, ("number",), rows)

    async def upsert_meters(self, records: Sequence[MeterRecord]) -> UpsertResult:
        rows = [
            {
                "account_id": r.account_id,
                "serial": r.serial,
                "type_name": r.type_name,
                "zones": [zone.value for zone in r.zones],
                "digit_count": r.digit_count,
                "installed_on": r.installed_on,
                "install_readings": {
                    zone.value: value for zone, value in r.install_readings.items()
                },
                "removed_on": r.removed_on,
            }
            for r in records
        ]
        return await self._upsert(MeterRow.__table__, ("account_id", "serial"), rows)

    async def upsert_bills(self, records: Sequence[BillRecord]) -> UpsertResult:
        rows = []
        for r in records:
            row: dict[str, Any] = {
                "account_id": r.account_id,
                "period": r.period,
                "issued_on": r.issued_on,
                "charged": r.charged,
                "amount_due": r.amount_due,
                "kwh": r.kwh,
            }
            if r.pdf_ref is not None:
                row["pdf_ref"] = r.pdf_ref
            rows.append(row)
        return await self._upsert(BillRow.__table__, ("account_id", "period"), rows)

    async def upsert_payments(self, records: Sequence[PaymentRecord]) -> UpsertResult:
        rows = [
            {
                "provider": r.provider,
                "provider_txn_id": r.provider_txn_id,
                "account_id": r.account_id,
                "amount": r.amount,
                "paid_at": r.paid_at,
            }
            for r in records
        ]
        return await self._upsert(PaymentRow.__table__, ("provider", "provider_txn_id"), rows)

    async def upsert_consumption(self, records: Sequence[ConsumptionRecord]) -> UpsertResult:
        rows = [
            {"account_id": r.account_id, "period": r.period, "zone": r.zone.value, "kwh": r.kwh}
            for r in records
        ]
        return await self._upsert(ConsumptionRow.__table__, ("account_id", "period", "zone"), rows)

    async def upsert_billing_readings(
        self, records: Sequence[BillingReadingRecord]
    ) -> UpsertResult:
        rows = [
            {
                "account_id": r.account_id,
                "period": r.period,
                "zone": r.zone.value,
                "meter_id": r.meter_id,
                "value": r.value,
                "taken_on": r.taken_on,
                "source": r.source.value,
            }
            for r in records
        ]
        return await self._upsert(
            BillingReadingRow.__table__, ("account_id", "period", "zone"), rows
        )

    async def _upsert(
        self, table: Table, key: tuple[str, ...], rows: list[dict[str, Any]]
    ) -> UpsertResult:
        """Insert rows whose key is new, update those whose values differ, count the rest.

        Rows of one call share their columns except optional ones (a bill's pdf_ref), and
        an optional column absent from a row keeps its stored value.
        """
        if not rows:
            return UpsertResult()
        # Two imports of one kind at once (a retried upload) take turns: the second finds
        # the first one's rows instead of inserting them again into a unique key.
        await lock_for_transaction(self.session, f"import:{table.name}")
        columns = sorted({name for row in rows for name in row})
        stored = await self._stored(table, key, columns, rows)
        new_rows: list[dict[str, Any]] = []
        changed: dict[frozenset[str], list[dict[str, Any]]] = {}
        unchanged = 0
        for row in rows:
            found = stored.get(tuple(row[name] for name in key))
            if found is None:
                new_rows.append(row)
                continue
            differs = {
                name for name in row if name not in key and not _same(found[name], row[name])
            }
            if not differs:
                unchanged += 1
                continue
            changed.setdefault(frozenset(row) - set(key), []).append(
                {"b_id": found["id"], **{f"b_{name}": row[name] for name in row}}
            )
        inserted_ids: list[int] = []
        # Shapes in order of first appearance: ids follow the batch's order.
        for shape in dict.fromkeys(frozenset(row) for row in new_rows):
            same_shape = [row for row in new_rows if frozenset(row) == shape]
            # One multi-row INSERT per chunk (SQLAlchemy's insertmanyvalues), ids returned.
            result = await self.session.execute(table.insert().returning(table.c.id), same_shape)
            inserted_ids.extend(result.scalars().all())
        for names, params in changed.items():
            statement = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({name: bindparam(f"b_{name}") for name in sorted(names)})
            )
            await self.session.execute(statement, params)
        return UpsertResult(
            inserted=len(new_rows),
            updated=sum(len(params) for params in changed.values()),
            unchanged=unchanged,
            inserted_ids=tuple(sorted(inserted_ids)),
        )

    async def _stored(
        self,
        table: Table,
        key: tuple[str, ...],
        columns: list[str],
        rows: list[dict[str, Any]],
    ) -> dict[tuple[Any, ...], dict[str, Any]]:
        """Stored rows of the batch's keys, by key; chunked on the first key column and
        narrowed by the others (a batch is usually one period of many accounts)."""
        await self._custom_plans()
        first, rest = key[0], key[1:]
        firsts = sorted({row[first] for row in rows})
        others = {name: sorted({row[name] for row in rows}) for name in rest}
        selected = [table.c.id, *(table.c[name] for name in sorted(set(columns) | set(key)))]
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for chunk in _chunks(firsts):
            conditions: list[ColumnElement[bool]] = [table.c[first].in_(chunk)]
            for name, values in others.items():
                if len(values) <= CHUNK:
                    conditions.append(table.c[name].in_(values))
            result = await self.session.execute(select(*selected).where(and_(*conditions)))
            for mapping in result.mappings():
                found[tuple(mapping[name] for name in key)] = dict(mapping)
        return found

    async def set_bill_pdf(self, account_number: str, period: str, pdf_ref: str) -> bool:
        account_ids = select(AccountRow.id).where(AccountRow.number == account_number)
        result = await self.session.execute(
            update(BillRow)
            .where(BillRow.account_id.in_(account_ids), BillRow.period == period)
            .values(pdf_ref=pdf_ref)
            .returning(BillRow.id)
        )
        return bool(result.all())

    # --- export ---------------------------------------------------------------------------

    async def submitted_readings(
        self, since: datetime, until: datetime | None, after_id: int, limit: int
    ) -> Sequence[ReadingExport]:
        query = (
            select(
                SubmittedReadingRow.id,
                AccountRow.number,
                AccountRow.eic,
                MeterRow.serial,
                SubmittedReadingRow.taken_at,
                SubmittedReadingRow.values,
                SubmittedReadingRow.source,
                SubmittedReadingRow.photo_id,
            )
            .join(AccountRow, AccountRow.id == SubmittedReadingRow.account_id)
            .join(MeterRow, MeterRow.id == SubmittedReadingRow.meter_id)
            .where(SubmittedReadingRow.taken_at >= since, SubmittedReadingRow.id > after_id)
            .order_by(SubmittedReadingRow.id)
            .limit(limit)
        )
        if until is not None:
            query = query.where(SubmittedReadingRow.taken_at < until)
        rows = await self.session.execute(query)
        return [
            ReadingExport(
                id=row_id,
                account_number=number,
                eic=eic,
                meter_serial=serial,
                taken_at=taken_at,
                values={Zone(zone): int(value) for zone, value in values.items()},
                source=ReadingSource(source),
                photo=photo_id is not None,
            )
            for row_id, number, eic, serial, taken_at, values, source, photo_id in rows
        ]

    # --- the call-centre queue ------------------------------------------------------------

    async def call_center_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[CallCenterRequest]:
        query = select(CallCenterRequestRow).where(CallCenterRequestRow.id > after_id)
        if status is not None:
            query = query.where(CallCenterRequestRow.status == RequestStatus(status).value)
        rows = await self.session.scalars(query.order_by(CallCenterRequestRow.id).limit(limit))
        return [call_center_request(row) for row in rows]

    async def call_center_request(self, request_id: int) -> CallCenterRequest | None:
        query = select(CallCenterRequestRow).where(CallCenterRequestRow.id == request_id)
        row = await self.session.scalar(self._locked(query))
        return call_center_request(row) if row else None

    async def answer_call_center(
        self, request_id: int, answer: str | None, status: RequestStatus, at: datetime | None
    ) -> None:
        await self.session.execute(
            update(CallCenterRequestRow)
            .where(CallCenterRequestRow.id == request_id)
            .values(answer=answer, status=RequestStatus(status).value, answered_at=at)
        )

    async def free_service_orders(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[FreeServiceOrder]:
        query = select(FreeServiceOrderRow).where(FreeServiceOrderRow.id > after_id)
        if status is not None:
            query = query.where(FreeServiceOrderRow.status == RequestStatus(status).value)
        rows = await self.session.scalars(query.order_by(FreeServiceOrderRow.id).limit(limit))
        return [free_service_order(row) for row in rows]

    async def free_service_order(self, order_id: int) -> FreeServiceOrder | None:
        query = select(FreeServiceOrderRow).where(FreeServiceOrderRow.id == order_id)
        row = await self.session.scalar(self._locked(query))
        return free_service_order(row) if row else None

    async def answer_free_service(
        self, order_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        await self.session.execute(
            update(FreeServiceOrderRow)
            .where(FreeServiceOrderRow.id == order_id)
            .values(status=RequestStatus(status).value, answer=answer, answered_at=at)
        )

    # --- technical support --------------------------------------------------------------

    async def support_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[SupportRequest]:
        query = select(SupportRequestRow).where(SupportRequestRow.id > after_id)
        if status is not None:
            query = query.where(SupportRequestRow.status == RequestStatus(status).value)
        rows = await self.session.scalars(query.order_by(SupportRequestRow.id).limit(limit))
        return [support_request(row) for row in rows]

    async def support_request(self, request_id: int) -> SupportRequest | None:
        query = select(SupportRequestRow).where(SupportRequestRow.id == request_id)
        row = await self.session.scalar(self._locked(query))
        return support_request(row) if row else None

    async def answer_support(
        self, request_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        await self.session.execute(
            update(SupportRequestRow)
            .where(SupportRequestRow.id == request_id)
            .values(answer=answer, status=RequestStatus(status).value, answered_at=at)
        )

    def _locked(self, query: Any) -> Any:
        # PostgreSQL locks the row; SQLite's BEGIN IMMEDIATE already holds the write lock.
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return query.execution_options(populate_existing=True)
