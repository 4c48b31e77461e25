"""E-mail: a client's address on file, and the mail outbox (reports waiting for the relay).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("email", sa.String(254)))
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attachments", sa.JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", Ts, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", Ts),
        sa.Column("error", sa.Text),
        sa.Column("told_at", Ts),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("sent_at", Ts),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
        sa.UniqueConstraint("key", name="uq_mail_outbox_key"),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["status", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_due", "mail_outbox")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("email")
