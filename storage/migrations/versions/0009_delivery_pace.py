"""One shared send schedule per channel rate (issue 17, point 4).

`delivery_pace` holds, per rate (`telegram`, `telegram:paid`, …), the moment from which the
next claim's sends may go. A claim locks the row, takes the slots its rows need at the
rate and moves the moment on, so workers in any number of processes send one even stream
within the platform's limit instead of each guessing its share.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "delivery_pace",
        sa.Column("rate_key", sa.String(length=40), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rate_key", name=op.f("pk_delivery_pace")),
    )


def downgrade() -> None:
    """Back to counting the claims of the last second."""
    op.drop_table("delivery_pace")
