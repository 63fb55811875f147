"""Priority lanes in the outbox (issue 17), and which claims used a paid send.

- `outbox.lane`: 0 emergency outages, 1 planned outages and schedules, 2 payment
  confirmations and answers, 3 new bills and reading reminders (core.delivery.LANES; spelled
  out here so this revision never changes with the code). Rows queued before it get the
  lane of their topic.
- `outbox.paid`: the row was claimed for a paid send (Telegram's allow_paid_broadcast);
  the paid and the free rate limits count their own claims.
- `ix_outbox_pending` becomes (channel, topic, id) of pending rows: a claim reads the
  oldest due rows of each topic it may take from it and orders them by lane, so neither a
  queue of 100,000 bill notices nor the paid topics are scanned past.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LANES = {
    "outages_emergency": 0,
    "outages_planned": 1,
    "payments": 2,
    "answers": 2,
    "new_bills": 3,
    "reading_reminders": 3,
}
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lane", sa.SmallInteger(), nullable=False, server_default=sa.text("2"))
        )
        batch_op.add_column(
            sa.Column("paid", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    outbox = sa.table("outbox", sa.column("topic", sa.String()), sa.column("lane", sa.Integer()))
    for topic, lane in _LANES.items():
        if lane != 2:
            op.execute(outbox.update().where(outbox.c.topic == topic).values(lane=lane))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.create_index(
            "ix_outbox_pending",
            ["channel", "topic", "id"],
            unique=False,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        )


def downgrade() -> None:
    """Back to one queue per channel in id order."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.create_index(
            "ix_outbox_pending",
            ["channel", "id"],
            unique=False,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        )
        batch_op.drop_column("paid")
        batch_op.drop_column("lane")
