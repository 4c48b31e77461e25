"""A question the FAQ could not answer, taught by staff: the entry it was made a phrasing of,
who and when (it leaves the list of gaps, and the record stays).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("faq_unanswered") as batch:
        batch.add_column(sa.Column("taught_entry", sa.String(64)))
        batch.add_column(sa.Column("taught_by", sa.String(200)))
        batch.add_column(sa.Column("taught_at", Ts))


def downgrade() -> None:
    with op.batch_alter_table("faq_unanswered") as batch:
        batch.drop_column("taught_at")
        batch.drop_column("taught_by")
        batch.drop_column("taught_entry")
