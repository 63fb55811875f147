"""Subscribers for broadcast runs: every account without a person gets one, linked, with a
Telegram identity whose chat id is 10,000,000 + person id. Set-based SQL, any size."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHAT_ID_BASE = 10_000_000


async def subscribe_accounts(engine: AsyncEngine, now: datetime, channel: str = "telegram") -> int:
    """Give each unlinked account a subscriber; how many were made."""
    stamp = now.isoformat() if engine.dialect.name == "sqlite" else now
    async with engine.begin() as connection:
        made = await connection.execute(
            text(
                "INSERT INTO persons (name, locale, created_at) "
                "SELECT 'sub-' || CAST(a.id AS TEXT), 'uk', :now FROM accounts a "
                "WHERE NOT EXISTS (SELECT 1 FROM account_links l WHERE l.account_id = a.id)"
            ),
            {"now": stamp},
        )
        await connection.execute(
            text(
                "INSERT INTO account_links (person_id, account_id, linked_at) "
                "SELECT p.id, CAST(substr(p.name, 5) AS INTEGER), :now FROM persons p "
                "WHERE p.name LIKE 'sub-%' AND NOT EXISTS "
                "(SELECT 1 FROM account_links l WHERE l.person_id = p.id)"
            ),
            {"now": stamp},
        )
        await connection.execute(
            text(
                "INSERT INTO channel_identities "
                "(person_id, channel, external_id, display_name, reachable) "
                f"SELECT p.id, :channel, CAST({CHAT_ID_BASE} + p.id AS TEXT), p.name, true "
                "FROM persons p WHERE p.name LIKE 'sub-%' AND NOT EXISTS "
                "(SELECT 1 FROM channel_identities i WHERE i.person_id = p.id)"
            ),
            {"channel": channel},
        )
    return max(made.rowcount or 0, 0)


async def bulk_accounts(
    engine: AsyncEngine,
    count: int,
    dso_id: int,
    supplier_id: int,
    group: str = "3.2",
    prefix: str = "4",
) -> None:
    """`count` bare accounts (no meters, no history) in one outage group."""
    rows = [
        {
            "number": f"{prefix}{n:09d}",
            "eic": f"{prefix}2Z{n:012d}X"[:16],
            "holder": "Тест",
            "group": group,
            "dso": dso_id,
            "supplier": supplier_id,
        }
        for n in range(1, count + 1)
    ]
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO accounts (number, eic, holder_name, settlement, street, street_key,"
                " building, apartment, outage_group, dso_id, supplier_id, contract_number,"
                " tariff_plan, opening_balance) VALUES (:number, :eic, :holder, 'Київ',"
                " 'вул. Тестова', 'тестова', '1', '', :group, :dso, :supplier, '', 'single', 0)"
            ),
            rows,
        )
