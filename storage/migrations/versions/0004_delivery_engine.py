"""Delivery engine: outbox order (bulk, priority), leases on rows and per-channel workers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING_OUT = sa.text("direction = 'out' AND status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("bulk", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_owner", sa.String(80)))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_messages_due",
        "messages",
        ["channel", "bulk", sa.text("priority DESC"), "id"],
        sqlite_where=PENDING_OUT,
        postgresql_where=PENDING_OUT,
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_index("ix_messages_due", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in ("lease_until", "lease_owner", "priority", "bulk"):
            batch.drop_column(column)
