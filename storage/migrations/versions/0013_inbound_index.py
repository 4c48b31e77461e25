"""Where each address last wrote from: a partial index of inbound rows by chat.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inbound = sa.text("direction = 'in'")
    op.create_index(
        "ix_messages_inbound",
        "messages",
        ["chat", "id"],
        sqlite_where=inbound,
        postgresql_where=inbound,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_inbound", table_name="messages")
