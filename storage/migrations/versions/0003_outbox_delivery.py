"""Outbox for delivery: one row per (event, person); e-mail rows have no identity; claims.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 20:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("identity_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("event", sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column("subject", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("topic", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_person_id_persons"),
            "persons",
            ["person_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_outbox_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_event"), ["event"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_subject_status"), ["subject", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_channel_status_next_attempt_at"),
            ["channel", "status", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_channel_claimed_at"), ["channel", "claimed_at"], unique=False
        )


def downgrade() -> None:
    """Revert this revision (e-mail rows, which have no identity, are dropped)."""
    op.execute("DELETE FROM outbox WHERE identity_id IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_channel_claimed_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_channel_status_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_subject_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_event"))
        batch_op.drop_index(batch_op.f("ix_outbox_person_id"))
        batch_op.drop_constraint(batch_op.f("fk_outbox_person_id_persons"), type_="foreignkey")
        for name in ("claimed_by", "claimed_at", "topic", "subject", "event", "person_id"):
            batch_op.drop_column(name)
        batch_op.alter_column("identity_id", existing_type=sa.Integer(), nullable=False)
