"""Addresses a client blocked the bot at or unfollowed: skipped by pushes until they write.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("gone_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("gone_at")
