"""The operator port in memory (imports, export, request queues)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.imports import (
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
from core.model import (
    Account,
    Address,
    Bill,
    BillingReading,
    CallCenterRequest,
    Consumption,
    FreeServiceOrder,
    Meter,
    Payment,
    RequestStatus,
    SupportRequest,
)
from core.ports import AbstractOperatorRepository
from tests.fakes.data import FakeRepo


class FakeOperator(FakeRepo, AbstractOperatorRepository):
    """Upserts into the FakeData lists by the same natural keys as storage; the stored
    values are compared so a repeated import counts as unchanged."""

    async def account_refs(self, numbers: Iterable[str]) -> Mapping[str, AccountRef]:
        wanted = set(numbers)
        refs: dict[str, AccountRef] = {}
        for account in sorted(self.data.accounts.values(), key=lambda a: -a.id):
            if account.number in wanted:
                refs[account.number] = AccountRef(
                    account.id, account.number, account.eic, account.tariff_plan
                )
        return refs

    async def eic_owners(self, eics: Iterable[str]) -> Mapping[str, str]:
        wanted = set(eics)
        return {a.eic: a.number for a in self.data.accounts.values() if a.eic in wanted}

    async def dso_ids(self) -> frozenset[int]:
        return frozenset(d.id for d in self.data.dsos)

    async def supplier_ids(self) -> frozenset[int]:
        return frozenset(s.id for s in self.data.suppliers)

    async def meter_refs(self, account_ids: Iterable[int]) -> Sequence[MeterRef]:
        wanted = set(account_ids)
        return [
            MeterRef(m.id, m.account_id, m.serial, m.digit_count, m.removed_on is None)
            for m in sorted(self.data.meters, key=lambda m: (m.installed_on, m.id))
            if m.account_id in wanted
        ]

    def _count(self, results: list[str], new_ids: list[int]) -> UpsertResult:
        return UpsertResult(
            inserted=results.count("new"),
            updated=results.count("changed"),
            unchanged=results.count("same"),
            inserted_ids=tuple(new_ids),
        )

    def _put(self, items: list, index: int | None, item: object) -> str:
        if index is None:
            items.append(item)
            return "new"
        if items[index] == item:
            return "same"
        items[index] = item
        return "changed"

    @staticmethod
    def _find(items: list, match: Callable[[Any], bool]) -> int | None:
        return next((i for i, item in enumerate(items) if match(item)), None)

    async def upsert_accounts(self, records: Sequence[AccountRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            old = next((a for a in self.data.accounts.values() if a.number == r.number), None)
            account = Account(
                id=old.id if old else self.data.next_id(),
                number=r.number,
                eic=r.eic,
                holder_name=r.holder_name,
                address=Address(r.settlement, r.street, r.building, r.apartment),
                dso_id=r.dso_id,
                supplier_id=r.supplier_id,
                tariff_plan=r.tariff_plan,
                outage_group=r.outage_group,
                contract_number=r.contract_number,
                contract_date=r.contract_date,
                opening_balance=r.opening_balance,
            )
            results.append("new" if old is None else "same" if old == account else "changed")
            if old is None:
                new_ids.append(account.id)
            self.data.accounts[account.id] = account
        return self._count(results, new_ids)

    async def upsert_meters(self, records: Sequence[MeterRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            key = (r.account_id, r.serial)
            index = self._find(self.data.meters, lambda m, key=key: (m.account_id, m.serial) == key)
            meter = Meter(
                id=self.data.meters[index].id if index is not None else self.data.next_id(),
                account_id=r.account_id,
                serial=r.serial,
                type_name=r.type_name,
                zones=r.zones,
                digit_count=r.digit_count,
                installed_on=r.installed_on,
                install_readings=dict(r.install_readings),
                removed_on=r.removed_on,
            )
            results.append(self._put(self.data.meters, index, meter))
            if index is None:
                new_ids.append(meter.id)
        return self._count(results, new_ids)

    async def upsert_bills(self, records: Sequence[BillRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            index = self._find(
                self.data.bills, lambda b, r=r: (b.account_id, b.period) == (r.account_id, r.period)
            )
            old = self.data.bills[index] if index is not None else None
            bill = Bill(
                id=old.id if old else self.data.next_id(),
                account_id=r.account_id,
                period=r.period,
                issued_on=r.issued_on,
                charged=r.charged,
                amount_due=r.amount_due,
                kwh=r.kwh,
                pdf_ref=r.pdf_ref if r.pdf_ref is not None else (old.pdf_ref if old else None),
            )
            results.append(self._put(self.data.bills, index, bill))
            if index is None:
                new_ids.append(bill.id)
        return self._count(results, new_ids)

    async def upsert_payments(self, records: Sequence[PaymentRecord]) -> UpsertResult:
        results, new_ids = [], []
        for r in records:
            key = (r.provider, r.provider_txn_id)
            index = self._find(
                self.data.payments, lambda p, key=key: (p.provider, p.provider_txn_id) == key
            )
            payment = Payment(
                id=self.data.payments[index].id if index is not None else self.data.next_id(),
                account_id=r.account_id,
                amount=r.amount,
                paid_at=r.paid_at,
                provider=r.provider,
                provider_txn_id=r.provider_txn_id,
            )
            results.append(self._put(self.data.payments, index, payment))
            if index is None:
                new_ids.append(payment.id)
        return self._count(results, new_ids)

    async def upsert_consumption(self, records: Sequence[ConsumptionRecord]) -> UpsertResult:
        results = []
        for r in records:
            key = (r.account_id, r.period, r.zone)
            index = self._find(
                self.data.consumption, lambda c, key=key: (c.account_id, c.period, c.zone) == key
            )
            item = Consumption(r.account_id, r.period, r.zone, r.kwh)
            results.append(self._put(self.data.consumption, index, item))
        return self._count(results, [])

    async def upsert_billing_readings(
        self, records: Sequence[BillingReadingRecord]
    ) -> UpsertResult:
        # FakeData keeps one BillingReading per period with its zones; a record is one zone.
        results = []
        for r in records:
            key = (r.account_id, r.period)
            index = self._find(
                self.data.billing_readings, lambda b, key=key: (b.account_id, b.period) == key
            )
            old = self.data.billing_readings[index] if index is not None else None
            values = {**(old.values if old else {}), r.zone: r.value}
            if (
                old is not None
                and old.values.get(r.zone) == r.value
                and (old.meter_id, old.taken_on, old.source) == (r.meter_id, r.taken_on, r.source)
            ):
                results.append("same")
                continue
            reading = BillingReading(r.account_id, r.meter_id, r.period, r.taken_on, values,
                                     r.source)  # fmt: skip
            self._put(self.data.billing_readings, index, reading)
            results.append("changed" if old is not None and r.zone in old.values else "new")
        return self._count(results, [])

    async def set_bill_pdf(self, account_number: str, period: str, pdf_ref: str) -> bool:
        ids = {a.id for a in self.data.accounts.values() if a.number == account_number}
        index = self._find(self.data.bills, lambda b: b.account_id in ids and b.period == period)
        if index is None:
            return False
        self.data.bills[index] = replace(self.data.bills[index], pdf_ref=pdf_ref)
        return True

    async def submitted_readings(
        self, since: datetime, until: datetime | None, after_id: int, limit: int
    ) -> Sequence[ReadingExport]:
        meters = {m.id: m for m in self.data.meters}
        found = []
        for reading in sorted(self.data.submitted.values(), key=lambda r: r.id or 0):
            if (reading.id or 0) <= after_id or reading.taken_at < since:
                continue
            if until is not None and reading.taken_at >= until:
                continue
            account = self.data.accounts[reading.account_id]
            found.append(
                ReadingExport(
                    id=reading.id or 0,
                    account_number=account.number,
                    eic=account.eic,
                    meter_serial=meters[reading.meter_id].serial,
                    taken_at=reading.taken_at,
                    values=dict(reading.values),
                    source=reading.source,
                    photo=reading.photo_id is not None,
                )
            )
        return found[:limit]

    async def call_center_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[CallCenterRequest]:
        items = sorted(self.data.call_center, key=lambda r: r.id)
        return [r for r in items if r.id > after_id and status in (None, r.status)][:limit]

    async def call_center_request(self, request_id: int) -> CallCenterRequest | None:
        return next((r for r in self.data.call_center if r.id == request_id), None)

    async def answer_call_center(
        self, request_id: int, answer: str | None, status: RequestStatus, at: datetime | None
    ) -> None:
        self.data.call_center = [
            replace(r, answer=answer, status=status, answered_at=at) if r.id == request_id else r
            for r in self.data.call_center
        ]

    async def free_service_orders(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[FreeServiceOrder]:
        items = sorted(self.data.free_services, key=lambda o: o.id)
        return [o for o in items if o.id > after_id and status in (None, o.status)][:limit]

    async def free_service_order(self, order_id: int) -> FreeServiceOrder | None:
        return next((o for o in self.data.free_services if o.id == order_id), None)

    async def answer_free_service(
        self, order_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        self.data.free_services = [
            replace(o, status=status, answer=answer, answered_at=at) if o.id == order_id else o
            for o in self.data.free_services
        ]

    async def support_requests(
        self, status: RequestStatus | None, after_id: int, limit: int
    ) -> Sequence[SupportRequest]:
        items = sorted(self.data.support, key=lambda r: r.id)
        return [r for r in items if r.id > after_id and status in (None, r.status)][:limit]

    async def support_request(self, request_id: int) -> SupportRequest | None:
        return next((r for r in self.data.support if r.id == request_id), None)

    async def answer_support(
        self, request_id: int, answer: str, status: RequestStatus, at: datetime
    ) -> None:
        self.data.support = [
            replace(r, answer=answer, status=status, answered_at=at) if r.id == request_id else r
            for r in self.data.support
        ]
