"""SMS as a route: each client's phone on file becomes their `sms:` address (the first
client on file with a number has it, when two share one), and the carriers' delivery
receipts are kept as they come (a receipt can arrive before its send is recorded).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sms_receipts",
        sa.Column("message_id", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("delivered", sa.Boolean, nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("at", Ts),
        sa.Column("parts", sa.Integer),
        sa.Column("row_id", sa.Integer),  # the outbox row it settled, once found
        sa.Column("received_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("message_id", "phone", name="pk_sms_receipts"),
    )
    op.create_index("ix_sms_receipts_unmatched", "sms_receipts", ["row_id", "received_at"])
    op.execute(
        """
        INSERT INTO identities (address, client_id, channel, created_at)
        SELECT 'sms:' || c.phone, MIN(c.id), 'sms', MIN(c.created_at)
        FROM clients c
        WHERE c.phone IS NOT NULL AND c.erased_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.address = 'sms:' || c.phone)
        GROUP BY c.phone
        """
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM identities WHERE channel = 'sms' AND address NOT IN "
        "(SELECT DISTINCT chat FROM messages WHERE channel = 'sms')"
    )
    op.drop_index("ix_sms_receipts_unmatched", "sms_receipts")
    op.drop_table("sms_receipts")
