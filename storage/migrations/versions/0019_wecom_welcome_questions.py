"""WeCom: welcome codes kept where every process reads them (the one that pulled the event
is not always the one that sends), and the questions advisors are asked about new contacts
no client file was found for.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wecom_welcome_codes",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("code", sa.String(512), nullable=False),
        sa.Column("expires_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_wecom_welcome_codes"),
    )
    op.create_table(
        "wecom_questions",
        sa.Column("client_id", sa.Integer, nullable=False),
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("advisor", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("asked_at", Ts, nullable=False),
        sa.Column("answered_at", Ts),
        sa.Column("answer", sa.String(40)),
        sa.PrimaryKeyConstraint("client_id", name="pk_wecom_questions"),
    )
    op.create_index("ix_wecom_questions_advisor", "wecom_questions", ["advisor"])


def downgrade() -> None:
    op.drop_table("wecom_questions")
    op.drop_table("wecom_welcome_codes")
