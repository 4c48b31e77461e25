"""Initial schema: clients, identities, roles, topics, subscriptions, archive, states, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Ts = sa.DateTime(timezone=True)

# The firm's message system (seed: 短信体系, WeChat advice, reports, training).
SEED_TOPICS = [
    ("news", "重要消息", "Important news", False, 10),
    ("market", "行情评估", "Market assessment", True, 20),
    ("opportunity", "中线机会提示", "Mid-term opportunities", True, 30),
    ("risk", "盘中风险警示", "Intraday risk warnings", True, 40),
    ("morning", "早盘操作建议", "Morning trading notes", True, 50),
    ("evening", "晚盘操作建议", "Evening trading notes", True, 60),
    ("reports", "投资报告", "Investment reports", True, 70),
    ("training", "培训邀请", "Training invitations", False, 80),
]


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("display_name", sa.String(200)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.Column("erased_at", Ts),
        sa.PrimaryKeyConstraint("id", name="pk_clients"),
    )
    op.create_table(
        "identities",
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("client_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("username", sa.String(200)),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_identities"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_identities_client_id_clients"
        ),
    )
    op.create_index("ix_identities_client_id", "identities", ["client_id"])
    op.create_table(
        "roles",
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("address", "role", name="pk_roles"),
    )
    topics = op.create_table(
        "topics",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("name_zh", sa.String(100), nullable=False),
        sa.Column("name_en", sa.String(100), nullable=False),
        sa.Column("advisory", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("sort_order", sa.Integer, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_topics"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("client_id", sa.Integer, nullable=False),
        sa.Column("topic_key", sa.String(32), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "topic_key", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_subscriptions_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["topic_key"], ["topics.key"], name="fk_subscriptions_topic_key_topics"
        ),
    )
    op.create_table(
        "subscription_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer, nullable=False),
        sa.Column("topic_key", sa.String(32), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_events"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_subscription_events_client_id_clients"
        ),
    )
    op.create_index("ix_subscription_events_client_id", "subscription_events", ["client_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("sender", sa.String(200)),
        sa.Column("client_id", sa.Integer),
        sa.Column("dedupe_key", sa.String(200)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("reply_to", sa.Integer),
        sa.Column("platform_id", sa.String(100)),
        sa.Column("locked", sa.Boolean, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_messages_client_id_clients"
        ),
    )
    op.create_index("ix_messages_client_id", "messages", ["client_id"])
    op.create_index("ix_messages_status", "messages", ["direction", "status"])
    op.create_index("ix_messages_chat", "messages", ["chat", "id"])
    op.create_table(
        "conversation_states",
        sa.Column("chat", sa.String(200), nullable=False),
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_conversation_states"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", Ts, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        topics,
        [
            {
                "key": key,
                "name_zh": zh,
                "name_en": en,
                "advisory": advisory,
                "enabled": True,
                "sort_order": order,
                "created_at": now,
            }
            for key, zh, en, advisory, order in SEED_TOPICS
        ],
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "conversation_states",
        "messages",
        "subscription_events",
        "subscriptions",
        "topics",
        "roles",
        "identities",
        "clients",
    ):
        op.drop_table(table)
