"""Staff console accounts (password hash, TOTP secret, recovery codes, lockout), their
server-side sessions, and who has which ticket open.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_accounts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=False),
        sa.Column("recovery_codes", sa.JSON, nullable=False),
        sa.Column("totp_last_step", sa.Integer),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", Ts),
        sa.Column("disabled_at", Ts),
        sa.Column("last_login_at", Ts),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_accounts"),
        sa.UniqueConstraint("name", name="uq_staff_accounts_name"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("seen_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_staff_sessions"),
    )
    op.create_index("ix_staff_sessions_account_id", "staff_sessions", ["account_id"])
    op.create_table(
        "staff_viewing",
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("account", sa.String(40), nullable=False),
        sa.Column("seen_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", "account", name="pk_staff_viewing"),
    )


def downgrade() -> None:
    op.drop_table("staff_viewing")
    op.drop_table("staff_sessions")
    op.drop_table("staff_accounts")
