"""Answers to free-service orders and support requests; console notification settings
saved empty by mistake get the console back.

An operator's answer to a free-service order was only pushed, and support requests had no
answer at all: both now keep the latest answer and its time, shown in the chat.

Before this revision, changing any switch of the notification settings from the console
saved an empty channel list (the console was never offered as a choice), and every push to
that person was dropped from then on. A person whose only identities are console ones
could not have chosen "no channel" on purpose, so their empty list becomes the console.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_prefs = sa.table(
    "notification_prefs", sa.column("person_id", sa.Integer()), sa.column("channels", sa.JSON())
)
_identities = sa.table(
    "channel_identities", sa.column("person_id", sa.Integer()), sa.column("channel", sa.String())
)


def upgrade() -> None:
    """Apply this revision."""
    for table in ("free_service_orders", "support_requests"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
    of_person = _identities.c.person_id == _prefs.c.person_id
    op.execute(
        _prefs.update()
        .where(
            sa.cast(_prefs.c.channels, sa.String()) == "[]",
            sa.exists().where(of_person, _identities.c.channel == "console"),
            ~sa.exists().where(of_person, _identities.c.channel != "console"),
        )
        .values(channels=["console"])
    )


def downgrade() -> None:
    """Drop the answer columns (the repaired lists are what those people had meant)."""
    for table in ("support_requests", "free_service_orders"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("answered_at")
            batch_op.drop_column("answer")
