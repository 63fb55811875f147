"""Hardening (issue 18): one outage per grid-system id, brute-force counters that outlive
erasure.

- `outages`: (dso_id, external_id) is unique, so a grid system that retries a post after
  a timeout stores (and alerts) once however many posts race. Duplicates stored before this
  revision keep their rows (people were told about them, operators may have changed them
  by id); only the oldest keeps the external_id, the later copies lose it and become
  ordinary outages an operator can cancel by id.
- `link_attempts`: failed link and join-code tries are counted under a hash of the
  messenger identity or of the account number tried (`subject`), no longer under a person
  that "delete my data" erased together with its counters. Each old failed try is carried
  over under every messenger identity its person has (the hash is the one of
  core.privacy.attempt_key, spelled out here so the revision never changes with the code);
  successful tries were never read and are not kept.
- `payment_orders.person_id` may be NULL: erasing a person keeps their orders (and the
  payments) for accounting but drops who they were (person and messenger user id). People
  erased before this revision get the same now, and lose their outage-schedule reminder
  settings and queued or sent pushes, which erasure left behind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import hashlib
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
    _attempts_by_subject()
    _anonymous_payment_orders()


def downgrade() -> None:
    """Back to per-person counters (emptied) and non-unique external ids; orders of erased
    people are deleted (they cannot point at nobody)."""
    op.execute(sa.text("DELETE FROM payment_orders WHERE person_id IS NULL"))
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("link_attempts")
    _create_person_attempts()
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


def _anonymous_payment_orders() -> None:
    with op.batch_alter_table("payment_orders", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=True)
    erased = "person_id IN (SELECT id FROM persons WHERE deleted_at IS NOT NULL)"
    for statement in (
        "UPDATE payment_orders SET person_id = NULL, user_id = '' WHERE ",
        "DELETE FROM schedule_settings WHERE ",
        "DELETE FROM outbox WHERE ",
    ):
        op.execute(sa.text(statement + erased))


def _identity_key(channel: str, external_id: str) -> str:
    return hashlib.sha256("\x1f".join(("identity", channel, external_id)).encode()).hexdigest()


def _attempts_by_subject() -> None:
    old = op.get_bind().execute(
        sa.text(
            "SELECT i.channel, i.external_id, a.at, a.kind FROM link_attempts AS a"
            " JOIN channel_identities AS i ON i.person_id = a.person_id"
            " WHERE NOT a.success"
        )
    )
    carried = [
        {"subject": _identity_key(channel, external_id), "at": at, "kind": kind}
        for channel, external_id, at, kind in old
    ]
    op.drop_table("link_attempts")
    op.create_table(
        "link_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), server_default="account", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_attempts")),
    )
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_attempts_subject_kind_at"), ["subject", "kind", "at"], unique=False
        )
    if carried:
        attempts = sa.table(
            "link_attempts",
            sa.column("subject", sa.String()),
            sa.column("at"),  # untyped: the value goes back exactly as it was read
            sa.column("kind", sa.String()),
        )
        op.bulk_insert(attempts, carried)


def _create_person_attempts() -> None:
    op.create_table(
        "link_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=20), server_default="account", nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_link_attempts_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_attempts")),
    )
    with op.batch_alter_table("link_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_attempts_person_id_at"), ["person_id", "at"], unique=False
        )
