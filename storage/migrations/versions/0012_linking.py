"""One client, several addresses: a preferred address, binding codes and their attempts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("preferred", sa.String(200)))
    op.create_table(
        "bind_codes",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("client_id", sa.Integer, nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("expires_at", Ts, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_bind_codes"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_bind_codes_client_id_clients"
        ),
    )
    op.create_index("ix_bind_codes_client_id", "bind_codes", ["client_id"])
    op.create_table(
        "bind_attempts",
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", Ts),
        sa.PrimaryKeyConstraint("address", name="pk_bind_attempts"),
    )


def downgrade() -> None:
    op.drop_table("bind_attempts")
    op.drop_index("ix_bind_codes_client_id", table_name="bind_codes")
    op.drop_table("bind_codes")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("preferred")
