"""WeCom group messages (客户联系): which advisor each client is a contact of, the day each
client last got one, and the tasks advisors confirm.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wecom_contacts",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("added_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("chat", "userid", name="pk_wecom_contacts"),
    )
    op.create_table(
        "wecom_group_days",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("chat", "day", name="pk_wecom_group_days"),
    )
    op.create_table(
        "wecom_group_jobs",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("broadcast_id", sa.Integer, nullable=False),
        sa.Column("userid", sa.String(64), nullable=False),
        sa.Column("chats", sa.JSON, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("msgid", sa.String(100)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("confirm_by", Ts, nullable=False),
        sa.Column("next_at", Ts),
        sa.Column("lease_until", Ts),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wecom_group_jobs"),
    )
    op.create_index("ix_wecom_group_jobs_broadcast_id", "wecom_group_jobs", ["broadcast_id"])


def downgrade() -> None:
    op.drop_table("wecom_group_jobs")
    op.drop_table("wecom_group_days")
    op.drop_table("wecom_contacts")
