"""FAQ: knowledge base entries, synonyms, feedback, unanswered questions; a meta table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("buttons", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_faq_entries"),
    )
    op.create_table(
        "faq_synonyms",
        sa.Column("term", sa.String(100), nullable=False),
        sa.Column("canonical", sa.String(100), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("term", name="pk_faq_synonyms"),
    )
    op.create_table(
        "faq_feedback",
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer, nullable=False),
        sa.Column("client_id", sa.Integer),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "message_id", name="pk_faq_feedback"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_faq_feedback_client_id_clients"
        ),
    )
    op.create_table(
        "faq_unanswered",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer),
        sa.Column("client_id", sa.Integer),
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("normalized", sa.Text, nullable=False),
        sa.Column("best_entry", sa.String(64)),
        sa.Column("best_score", sa.Float),
        sa.Column("handed_off", sa.Boolean, nullable=False),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_faq_unanswered"),
        sa.UniqueConstraint("message_id", name="uq_faq_unanswered_message_id"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_faq_unanswered_client_id_clients"
        ),
    )
    op.create_index("ix_faq_unanswered_client_id", "faq_unanswered", ["client_id"])
    op.create_index("ix_faq_unanswered_at", "faq_unanswered", ["at"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )


def downgrade() -> None:
    for table in ("meta", "faq_unanswered", "faq_feedback", "faq_synonyms", "faq_entries"):
        op.drop_table(table)
