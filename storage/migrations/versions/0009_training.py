"""Non-farm day training sessions and their RSVPs.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_sessions",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("place", sa.String(200), nullable=False),
        sa.Column("time", sa.String(5), nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("broadcast_id", sa.Integer),
        sa.PrimaryKeyConstraint("day", name="pk_training_sessions"),
    )
    op.create_table(
        "training_rsvps",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column(
            "client_id",
            sa.Integer,
            sa.ForeignKey("clients.id", name="fk_training_rsvps_client_id_clients"),
            nullable=False,
        ),
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("answer", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "client_id", name="pk_training_rsvps"),
    )


def downgrade() -> None:
    op.drop_table("training_rsvps")
    op.drop_table("training_sessions")
