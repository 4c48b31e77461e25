"""The standard service flow (标准化流程): each client's steps with their state, who and
when, and the trading code the client is told (shown to nobody else).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "onboarding_steps",
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),  # done | skipped
        sa.Column("reason", sa.Text),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "step", name="pk_onboarding_steps"),
    )
    op.create_index("ix_onboarding_steps_step", "onboarding_steps", ["step", "at"])
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("trading_code", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("trading_code")
    op.drop_index("ix_onboarding_steps_step", "onboarding_steps")
    op.drop_table("onboarding_steps")
