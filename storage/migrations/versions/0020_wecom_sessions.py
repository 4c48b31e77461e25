"""WeCom 微信客服 sessions a person holds: while a servicer serves a client in the WeCom app
(service_state 3) the bot answers nothing there, and a resolved ticket hands the session
back (ended, with the closing words sent on the event's code).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wecom_sessions",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("servicer", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_wecom_sessions"),
    )


def downgrade() -> None:
    op.drop_table("wecom_sessions")
