"""Broadcast phases at platform speed (issue 17), against fakes that enforce the platforms'
limits (a figure can only be reached by respecting them): Telegram paid broadcast, the free
rate, Viber broadcast, a mix of both, and an emergency alert published behind 100,000
queued bill notices. Each phase starts real `kabinet serve --no-scheduler` processes first,
then publishes, and times from the publication to the last message the fake accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    recipients: int = 0
    seconds: float = 0.0  # publication → last accepted message
    sent: int = 0
    too_many: int = 0  # 429s (Telegram) or status 12 (Viber) answered
    duplicates: int = 0
    per_process: list[float] = field(default_factory=list)  # msg/s of each process
    calls: int = 0  # platform calls (Viber: broadcast calls carry up to 300)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def reset(engine: AsyncEngine) -> None:
    """An empty outbox, no bench outages, every subscriber on Telegram only; vacuumed, so
    earlier runs' dead rows do not slow the claims."""
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM outbox"))
        await connection.execute(text("DELETE FROM outages WHERE external_id LIKE 'bench-%'"))
        await connection.execute(
            text(
                "DELETE FROM channel_identities WHERE channel = 'viber' AND external_id LIKE 'vb%'"
            )
        )
        await connection.execute(
            text("UPDATE channel_identities SET reachable = true WHERE channel = 'telegram'")
        )
    auto = engine.execution_options(isolation_level="AUTOCOMMIT")
    async with auto.connect() as connection:
        await connection.execute(text("VACUUM ANALYZE outbox"))
        await connection.execute(text("VACUUM ANALYZE channel_identities"))


async def move_to_viber(engine: AsyncEngine, every: int = 1) -> int:
    """Subscribers whose person id is divisible by `every` get a Viber identity and lose
    Telegram (unreachable): their pushes go to Viber. How many moved."""
    async with engine.begin() as connection:
        moved = await connection.execute(
            text(
                "INSERT INTO channel_identities "
                "(person_id, channel, external_id, display_name, reachable) "
                "SELECT p.id, 'viber', 'vb' || CAST(p.id AS TEXT), p.name, true FROM persons p "
                "WHERE p.name LIKE 'sub-%' AND p.id % :every = 0"
            ),
            {"every": every},
        )
        await connection.execute(
            text(
                "UPDATE channel_identities SET reachable = false WHERE channel = 'telegram' "
                "AND person_id % :every = 0 AND person_id IN "
                "(SELECT id FROM persons WHERE name LIKE 'sub-%')"
            ),
            {"every": every},
        )
    return max(moved.rowcount or 0, 0)


async def settled(engine: AsyncEngine, deadline: float, alerts_only: bool = False) -> bool:
    """Wait until nothing (no outage alert, with `alerts_only`) is pending, claimed or
    being sent, or the deadline passes."""
    query = text(
        "SELECT count(*) FROM outbox WHERE status IN ('pending', 'claimed', 'sending')"
        + (" AND topic = 'outages_emergency'" if alerts_only else "")
    )
    while time.monotonic() < deadline:
        async with engine.connect() as connection:
            if not await connection.scalar(query):
                return True
        await asyncio.sleep(0.5)
    return False


async def per_process(engine: AsyncEngine, seconds: float) -> list[float]:
    """Messages a second of each serving process over the phase (from `claimed_by`)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT split_part(claimed_by, ':', 2), count(*) FROM outbox "
                "WHERE status = 'sent' GROUP BY 1 ORDER BY 1"
            )
        )
        return [round(count / seconds, 1) for _, count in rows] if seconds else []


def duplicates(receivers: list[str]) -> int:
    """Messages beyond the first to one receiver."""
    return sum(n - 1 for n in Counter(receivers).values() if n > 1)
