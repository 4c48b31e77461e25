"""Broadcasts and their delivery rows in the outbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)
HAS_BROADCAST = sa.text("broadcast_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("broadcast_id", sa.Integer))
        batch.add_column(sa.Column("part", sa.Integer, nullable=False, server_default="0"))
    op.create_index(
        "uq_messages_broadcast",
        "messages",
        ["broadcast_id", "chat", "part"],
        unique=True,
        sqlite_where=HAS_BROADCAST,
        postgresql_where=HAS_BROADCAST,
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("audience", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("final", sa.JSON, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("send_at", Ts, nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("started_at", Ts),
        sa.Column("finished_at", Ts),
        sa.PrimaryKeyConstraint("id", name="pk_broadcasts"),
    )
    op.create_index("ix_broadcasts_status", "broadcasts", ["status", "send_at"])


def downgrade() -> None:
    op.drop_index("ix_broadcasts_status", table_name="broadcasts")
    op.drop_table("broadcasts")
    op.drop_index("uq_messages_broadcast", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("part")
        batch.drop_column("broadcast_id")
