"""Client files, advisors, tickets and their history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("tier", sa.String(10), nullable=False, server_default="standard")
        )
        batch.add_column(sa.Column("advisor", sa.String(200)))
        batch.add_column(sa.Column("phone", sa.String(20)))
    op.create_index("ix_clients_advisor", "clients", ["advisor"])
    op.create_index("ix_messages_platform", "messages", ["chat", "platform_id"])
    op.create_table(
        "client_tags",
        sa.Column(
            "client_id",
            sa.Integer,
            sa.ForeignKey("clients.id", name="fk_client_tags_client_id_clients"),
            nullable=False,
        ),
        sa.Column("tag", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "tag", name="pk_client_tags"),
    )
    op.create_table(
        "client_notes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "client_id",
            sa.Integer,
            sa.ForeignKey("clients.id", name="fk_client_notes_client_id_clients"),
            nullable=False,
        ),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_notes"),
    )
    op.create_index("ix_client_notes_client_id", "client_notes", ["client_id"])
    op.create_table(
        "advisors",
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("on_duty", sa.Boolean, nullable=False),
        sa.Column("display_name", sa.String(100)),
        sa.Column("license_no", sa.String(50)),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_advisors"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column(
            "client_id",
            sa.Integer,
            sa.ForeignKey("clients.id", name="fk_tickets_client_id_clients"),
            nullable=False,
        ),
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("category", sa.String(30)),
        sa.Column("contact", sa.String(20)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("vip", sa.Boolean, nullable=False),
        sa.Column("advisor", sa.String(200)),
        sa.Column("claimed", sa.Boolean, nullable=False),
        sa.Column("unanswered_id", sa.Integer),
        sa.Column("due_at", Ts, nullable=False),
        sa.Column("responded_at", Ts),
        sa.Column("breach_alerted", sa.Boolean, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("rating", sa.Integer),
        sa.Column("feedback", sa.Text),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.Column("resolved_at", Ts),
        sa.Column("closed_at", Ts),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint("number", name="uq_tickets_number"),
    )
    op.create_index("ix_tickets_client_id", "tickets", ["client_id"])
    op.create_index("ix_tickets_advisor", "tickets", ["advisor"])
    op.create_index("ix_tickets_status", "tickets", ["status", "due_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer,
            sa.ForeignKey("tickets.id", name="fk_ticket_events_ticket_id_tickets"),
            nullable=False,
        ),
        sa.Column("at", Ts, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("message_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])
    op.create_table(
        "ticket_counters",
        sa.Column("key", sa.String(16), nullable=False),
        sa.Column("last", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_ticket_counters"),
    )


def downgrade() -> None:
    for table in ("ticket_counters", "ticket_events", "tickets", "advisors", "client_notes"):
        op.drop_table(table)
    op.drop_table("client_tags")
    op.drop_index("ix_messages_platform", table_name="messages")
    op.drop_index("ix_clients_advisor", table_name="clients")
    with op.batch_alter_table("clients") as batch:
        for column in ("phone", "advisor", "tier"):
            batch.drop_column(column)
