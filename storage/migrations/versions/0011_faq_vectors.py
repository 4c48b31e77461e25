"""FAQ: sentence embeddings of phrasings, by model and text digest.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_vectors",
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(40), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("model", "digest", name="pk_faq_vectors"),
    )


def downgrade() -> None:
    op.drop_table("faq_vectors")
