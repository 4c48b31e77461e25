"""Return visits.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "return_visits",
        sa.Column(
            "client_id",
            sa.Integer,
            sa.ForeignKey("clients.id", name="fk_return_visits_client_id_clients"),
            nullable=False,
        ),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("asks", sa.Integer, nullable=False),
        sa.Column("asked_at", Ts, nullable=False),
        sa.Column("score", sa.Integer),
        sa.Column("comment", sa.Text),
        sa.Column("answered_at", Ts),
        sa.PrimaryKeyConstraint("client_id", "wave", name="pk_return_visits"),
    )


def downgrade() -> None:
    op.drop_table("return_visits")
