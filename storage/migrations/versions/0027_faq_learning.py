"""What the FAQ learns from use: a client's question behind a chosen suggestion they said
answered it (a phrasing staff may confirm), a 👎 on an answer (a pairing not to make), a
question staff marked as not the FAQ's (answer nothing). The judge trains on them.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_learning",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),  # variant | negative | outside
        sa.Column("status", sa.String(10), nullable=False),  # pending | confirmed | rejected
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("entry_id", sa.String(64)),
        sa.Column("message_id", sa.Integer),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id")),
        sa.Column("at", Ts, nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", Ts),
        sa.UniqueConstraint("kind", "message_id", name="uq_faq_learning_message"),
    )
    op.create_index("ix_faq_learning_status", "faq_learning", ["kind", "status"])


def downgrade() -> None:
    op.drop_index("ix_faq_learning_status", table_name="faq_learning")
    op.drop_table("faq_learning")
