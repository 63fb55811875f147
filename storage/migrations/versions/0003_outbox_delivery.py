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
        # Few indexes: each one is paid for by every row of a 100,000-person broadcast.
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.create_index(
            "ix_outbox_subject_event_status", ["subject", "event", "status"], unique=False
        )
        # Partial: only rows waiting for delivery / ever claimed are in them.
        batch_op.create_index(
            "ix_outbox_pending",
            ["channel", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            "ix_outbox_claimed",
            ["channel", "claimed_at"],
            unique=False,
            postgresql_where=sa.text("claimed_at IS NOT NULL"),
            sqlite_where=sa.text("claimed_at IS NOT NULL"),
        )


def downgrade() -> None:
    """Revert this revision (e-mail rows, which have no identity, are dropped)."""
    op.execute("DELETE FROM outbox WHERE identity_id IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_claimed")
        batch_op.drop_index("ix_outbox_pending")
        batch_op.drop_index("ix_outbox_subject_event_status")
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch_op.drop_constraint(batch_op.f("fk_outbox_person_id_persons"), type_="foreignkey")
        for name in ("claimed_by", "claimed_at", "topic", "subject", "event", "person_id"):
            batch_op.drop_column(name)
        batch_op.alter_column("identity_id", existing_type=sa.Integer(), nullable=False)
