"""Hardening (issue 18): one outage per grid-system id.

- `outages`: (dso_id, external_id) is unique, so a grid system that retries a post after
  a timeout stores (and alerts) once however many posts race. Duplicates stored before this
  revision keep their rows (people were told about them, operators may have changed them
  by id); only the oldest keeps the external_id, the later copies lose it and become
  ordinary outages an operator can cancel by id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    _unique_outage_external_ids()


def downgrade() -> None:
    """Back to non-unique external ids."""
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.drop_index("uq_outages_dso_external_id")


def _unique_outage_external_ids() -> None:
    op.execute(
        sa.text(
            "UPDATE outages SET external_id = NULL WHERE external_id IS NOT NULL AND EXISTS ("
            " SELECT 1 FROM outages AS older WHERE older.dso_id = outages.dso_id"
            " AND older.external_id = outages.external_id AND older.id < outages.id)"
        )
    )
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.create_index("uq_outages_dso_external_id", ["dso_id", "external_id"], unique=True)
