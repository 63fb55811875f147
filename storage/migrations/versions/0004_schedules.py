"""Outage schedules by group and day (versions), people's schedule settings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "outage_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_group", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("slots", sa.String(length=48), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_schedules")),
        sa.UniqueConstraint(
            "outage_group",
            "day",
            "version",
            name=op.f("uq_outage_schedules_outage_group_day_version"),
        ),
    )
    op.create_table(
        "schedule_settings",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("remind_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("remind_on", sa.Boolean(), nullable=False),
        sa.Column("quiet_from", sa.SmallInteger(), nullable=True),
        sa.Column("quiet_to", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_schedule_settings_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_schedule_settings")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("schedule_settings")
    op.drop_table("outage_schedules")
