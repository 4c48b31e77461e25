"""Each advisor's WeCom user id: clients who add them as a contact become their clients.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("advisors") as batch:
        batch.add_column(sa.Column("wecom_userid", sa.String(64)))
        batch.create_index("ix_advisors_wecom_userid", ["wecom_userid"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("advisors") as batch:
        batch.drop_index("ix_advisors_wecom_userid")
        batch.drop_column("wecom_userid")
