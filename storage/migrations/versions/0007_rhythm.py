"""Morning and evening notes, and the scheduler's record of every fire.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("slot", sa.String(12), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("broadcast_id", sa.Integer),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("slot", "day", name="pk_notes"),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("fire_time", Ts, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("job", "fire_time", name="pk_schedule_runs"),
    )


def downgrade() -> None:
    op.drop_table("schedule_runs")
    op.drop_table("notes")
