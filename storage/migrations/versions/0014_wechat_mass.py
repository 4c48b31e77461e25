"""WeChat mass sends: per-follower monthly counts and the mass-send calls.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wechat_mass_counts",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("chat", "month", name="pk_wechat_mass_counts"),
    )
    op.create_table(
        "wechat_mass_jobs",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("broadcast_id", sa.Integer, nullable=False),
        sa.Column("clientmsgid", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("chats", sa.JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("msg_id", sa.String(40)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("total", sa.Integer),
        sa.Column("filtered", sa.Integer),
        sa.Column("sent", sa.Integer),
        sa.Column("errors", sa.Integer),
        sa.Column("lease_until", Ts),
        sa.Column("next_attempt_at", Ts),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wechat_mass_jobs"),
        sa.UniqueConstraint("clientmsgid", name="uq_wechat_mass_jobs_clientmsgid"),
    )
    op.create_index("ix_wechat_mass_jobs_broadcast_id", "wechat_mass_jobs", ["broadcast_id"])
    op.create_index("ix_wechat_mass_jobs_msg_id", "wechat_mass_jobs", ["msg_id"])


def downgrade() -> None:
    op.drop_table("wechat_mass_jobs")
    op.drop_table("wechat_mass_counts")
