"""A subscription account's mass sends: topics as WeChat tags, one send a day, and the
administrator's confirmation under API mass-send protection.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("wechat_mass_jobs") as batch:
        batch.add_column(sa.Column("topic", sa.String(30)))
        batch.add_column(sa.Column("confirm_since", Ts))
    op.create_table(
        "wechat_mass_days",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("broadcast_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_wechat_mass_days"),
    )
    op.create_table(
        "wechat_tags",
        sa.Column("topic_key", sa.String(30), nullable=False),
        sa.Column("tag_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.PrimaryKeyConstraint("topic_key", name="pk_wechat_tags"),
    )
    op.create_table(
        "wechat_tagged",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("topic_key", sa.String(30), nullable=False),
        sa.PrimaryKeyConstraint("chat", "topic_key", name="pk_wechat_tagged"),
    )


def downgrade() -> None:
    op.drop_table("wechat_tagged")
    op.drop_table("wechat_tags")
    op.drop_table("wechat_mass_days")
    with op.batch_alter_table("wechat_mass_jobs") as batch:
        batch.drop_column("confirm_since")
        batch.drop_column("topic")
