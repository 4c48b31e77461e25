"""SMS consent on the client file (whether, when and how it was given) and the numbers that
replied to opt out (R, TD, T, N, 退订), with when and how.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("sms_consent", sa.Boolean))
        batch.add_column(sa.Column("sms_consent_at", Ts))
        batch.add_column(sa.Column("sms_consent_source", sa.String(8)))
    op.create_table(
        "sms_opt_outs",
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("word", sa.String(20)),
        sa.PrimaryKeyConstraint("number", name="pk_sms_opt_outs"),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("sms_consent_source")
        batch.drop_column("sms_consent_at")
        batch.drop_column("sms_consent")
