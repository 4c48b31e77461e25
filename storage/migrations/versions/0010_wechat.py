"""WeChat: each client's customer-service window (when it closes, messages left in it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_windows",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remaining", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_wechat_windows"),
    )


def downgrade() -> None:
    op.drop_table("wechat_windows")
