"""Shared state (issue 16, point 3): what one replica knew, every replica now reads.

- `media`: images and PDFs served at GET /media/{token} to Viber's and Messenger's
  servers, under the random key of the signed token, until they expire;
- `dialog_states.last_inbound_at`: when the person last wrote (Messenger's 24-hour window);
- `dialog_states.channel_memory`: what a channel adapter keeps of a chat between turns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "media",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_media")),
    )
    op.create_index(op.f("ix_media_created_at"), "media", ["created_at"], unique=False)
    op.create_index(op.f("ix_media_expires_at"), "media", ["expires_at"], unique=False)
    with op.batch_alter_table("dialog_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("channel_memory", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Back to memories in each process."""
    with op.batch_alter_table("dialog_states", schema=None) as batch_op:
        batch_op.drop_column("channel_memory")
        batch_op.drop_column("last_inbound_at")
    op.drop_index(op.f("ix_media_expires_at"), table_name="media")
    op.drop_index(op.f("ix_media_created_at"), table_name="media")
    op.drop_table("media")
