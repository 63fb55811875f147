"""Outages as the operator publishes and changes them (the write side of outages)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.model import Outage, OutageKind
from core.ports import AbstractOutageStore
from storage.addresses import street_key
from storage.orm import OutageRow, OutageTargetRow
from storage.repositories import SqlAlchemyOutageRepository, dialect_insert


def _target_rows(outage: Outage) -> list[OutageTargetRow]:
    return [
        OutageTargetRow(
            outage_group=target.outage_group,
            settlement=target.settlement,
            street=target.street,
            street_key=street_key(target.street) if target.street else None,
            buildings=list(target.buildings),
        )
        for target in outage.targets
    ]


class SqlAlchemyOutageStore(AbstractOutageStore):
    """The outage store on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, outage: Outage, external_id: str | None = None) -> Outage | None:
        if external_id is None:
            row = OutageRow(**self._columns(outage, None), targets=_target_rows(outage))
            self.session.add(row)
            await self.session.flush()
            return SqlAlchemyOutageRepository._outage(row)
        # ON CONFLICT DO NOTHING on the unique (dso_id, external_id): a concurrent insert of
        # the same outage waits for the other transaction and then stores nothing, instead
        # of failing (which would poison a PostgreSQL transaction) or making a copy.
        outage_id = await self.session.scalar(
            dialect_insert(self.session, OutageRow)
            .values(**self._columns(outage, external_id))
            .on_conflict_do_nothing(index_elements=["dso_id", "external_id"])
            .returning(OutageRow.id)
        )
        if outage_id is None:
            return None
        for target in _target_rows(outage):
            target.outage_id = outage_id
            self.session.add(target)
        await self.session.flush()
        stored = await self.session.get(OutageRow, outage_id, populate_existing=True)
        assert stored is not None
        return SqlAlchemyOutageRepository._outage(stored)

    @staticmethod
    def _columns(outage: Outage, external_id: str | None) -> dict[str, object]:
        return {
            "kind": OutageKind(outage.kind).value,
            "dso_id": outage.dso_id,
            "external_id": external_id,
            "starts_at": outage.starts_at,
            "ends_at": outage.ends_at,
            "reason": outage.reason,
            "published_at": outage.published_at,
            "updated_at": outage.updated_at,
            "cancelled": outage.cancelled,
            "restored_at": outage.restored_at,
        }

    async def _locked(self, *conditions: ColumnElement[bool]) -> OutageRow | None:
        query = select(OutageRow).where(*conditions)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=OutageRow)
        return await self.session.scalar(query.execution_options(populate_existing=True))

    async def get(self, outage_id: int) -> Outage | None:
        row = await self._locked(OutageRow.id == outage_id)
        return SqlAlchemyOutageRepository._outage(row) if row else None

    async def by_external_id(self, dso_id: int, external_id: str) -> Outage | None:
        row = await self._locked(OutageRow.dso_id == dso_id, OutageRow.external_id == external_id)
        return SqlAlchemyOutageRepository._outage(row) if row else None

    async def save(self, outage: Outage) -> None:
        row = await self.session.get(OutageRow, outage.id)
        if row is None:
            raise LookupError(f"outage {outage.id} is not stored")
        row.starts_at = outage.starts_at
        row.ends_at = outage.ends_at
        row.reason = outage.reason
        row.updated_at = outage.updated_at
        row.cancelled = outage.cancelled
        row.restored_at = outage.restored_at
        current = SqlAlchemyOutageRepository._outage(row).targets
        if tuple(current) != tuple(outage.targets):
            row.targets = _target_rows(outage)
        await self.session.flush()

    async def planned_starting(self, after: datetime, until: datetime) -> Sequence[Outage]:
        rows = await self.session.scalars(
            select(OutageRow)
            .where(
                OutageRow.kind == OutageKind.PLANNED.value,
                OutageRow.cancelled.is_(False),
                OutageRow.restored_at.is_(None),
                OutageRow.starts_at > after,
                OutageRow.starts_at <= until,
            )
            .order_by(OutageRow.starts_at, OutageRow.id)
        )
        return [SqlAlchemyOutageRepository._outage(row) for row in rows]
