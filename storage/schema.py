"""Table definitions: the one schema shared by SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A moment, stored as UTC and read back aware. SQLite keeps only the wall-clock digits,
    so a Beijing-time value written as it is would read back eight hours off; every value is
    turned to UTC on the way in (comparisons included) and marked UTC on the way out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # our own convention: a naive moment is already UTC
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Ts = UtcDateTime()

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    # Set when the client asked for erasure: personal fields are wiped, kept records are locked.
    sa.Column("erased_at", Ts),
    # The client file (客户档案): segment, assigned advisor (an address), contact phone.
    sa.Column("tier", sa.String(10), nullable=False, default="standard", server_default="standard"),
    sa.Column("advisor", sa.String(200), index=True),
    sa.Column("phone", sa.String(20)),
    # The address the client (or staff) chose for pushes; otherwise the best one is picked.
    sa.Column("preferred", sa.String(200)),
    # SMS consent (PIPL, carrier rules) for topic texts and alerts: None is "not known".
    # When and how it was last given or withdrawn: import | chat | staff | reply.
    sa.Column("sms_consent", sa.Boolean),
    sa.Column("sms_consent_at", Ts),
    sa.Column("sms_consent_source", sa.String(8)),
    # The trading code (交易编码) the client is told when their account is open: theirs only.
    sa.Column("trading_code", sa.String(32)),
    # Where documents for the client go by e-mail (staff set it on the file).
    sa.Column("email", sa.String(254)),
)

# Numbers that replied R, TD, T, N or 退订 (or were opted out for them): no topic text or
# alert goes to them until the client says /sms on. By number, since a reply names no client.
sms_opt_outs = sa.Table(
    "sms_opt_outs",
    metadata,
    sa.Column("number", sa.String(20), primary_key=True),  # 11 digits, normalised
    sa.Column("at", Ts, nullable=False),
    sa.Column("source", sa.String(8), nullable=False),  # reply | chat | staff | import
    sa.Column("word", sa.String(20)),  # the reply's word, when it was a reply
)

# The standard service flow: a row per step done or skipped (a step without one is pending).
onboarding_steps = sa.Table(
    "onboarding_steps",
    metadata,
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), primary_key=True),
    sa.Column("step", sa.String(16), primary_key=True),  # storage.records.ONBOARDING_STEPS
    sa.Column("state", sa.String(8), nullable=False),  # done | skipped
    sa.Column("reason", sa.Text),  # why skipped
    sa.Column("by", sa.String(200), nullable=False),  # a staff address, "import" or "bot"
    sa.Column("at", Ts, nullable=False),
    sa.Index("ix_onboarding_steps_step", "step", "at"),
)

# Carriers' delivery receipts, kept as they come: one may arrive before its send's outcome
# is written, so it settles its outbox row (`row_id`) when both are there.
sms_receipts = sa.Table(
    "sms_receipts",
    metadata,
    sa.Column("message_id", sa.String(100), primary_key=True),  # the provider's id (BizId)
    sa.Column("phone", sa.String(20), primary_key=True),  # 11 digits
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Column("code", sa.String(60), nullable=False),  # DELIVERED, UNDELIV, MK:0001 …
    sa.Column("at", Ts),  # when the carrier reported
    sa.Column("parts", sa.Integer),  # parts billed, when told
    sa.Column("row_id", sa.Integer),
    sa.Column("received_at", Ts, nullable=False),
    sa.Index("ix_sms_receipts_unmatched", "row_id", "received_at"),
)

client_tags = sa.Table(
    "client_tags",
    metadata,
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), primary_key=True),
    sa.Column("tag", sa.String(50), primary_key=True),
)

client_notes = sa.Table(
    "client_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", Ts, nullable=False),
)

# Advisors' desk settings: on duty or not, and how their replies are signed.
advisors = sa.Table(
    "advisors",
    metadata,
    sa.Column("address", sa.String(200), primary_key=True),
    sa.Column("on_duty", sa.Boolean, nullable=False, default=False),
    sa.Column("display_name", sa.String(100)),
    sa.Column("license_no", sa.String(50)),  # 执业编号
    sa.Column("updated_at", Ts, nullable=False),
    # Their WeCom user id: a client who adds them as a contact becomes their client.
    sa.Column("wecom_userid", sa.String(64), index=True, unique=True),
)

# Complaints (客户投诉处理单) and consultations (客户来电记录单).
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(24), nullable=False, unique=True),  # TS-20261128-0007
    sa.Column("kind", sa.String(12), nullable=False),  # complaint | consult
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("chat", sa.String(200), nullable=False),  # where the client is answered
    sa.Column("category", sa.String(30)),
    sa.Column("contact", sa.String(20)),  # a phone number, when the client prefers a call
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("vip", sa.Boolean, nullable=False, default=False),
    sa.Column("advisor", sa.String(200), index=True),  # who it is routed to or claimed by
    sa.Column("claimed", sa.Boolean, nullable=False, default=False),
    sa.Column("unanswered_id", sa.Integer),  # the FAQ gap it came from
    sa.Column("due_at", Ts, nullable=False),  # first response due (SLA)
    sa.Column("responded_at", Ts),
    sa.Column("breach_alerted", sa.Boolean, nullable=False, default=False),
    sa.Column("result", sa.Text),
    sa.Column("rating", sa.Integer),
    sa.Column("feedback", sa.Text),
    sa.Column("locked", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    sa.Column("resolved_at", Ts),
    sa.Column("closed_at", Ts),
    sa.Index("ix_tickets_status", "status", "due_at"),
)

# Every step of a ticket, with who and when; relayed messages carry their archive id.
ticket_events = sa.Table(
    "ticket_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False, index=True),
    sa.Column("at", Ts, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("message_id", sa.Integer),
)

# The last number handed out per prefix and day: TS-20261128 -> 7.
ticket_counters = sa.Table(
    "ticket_counters",
    metadata,
    sa.Column("key", sa.String(16), primary_key=True),
    sa.Column("last", sa.Integer, nullable=False),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("address", sa.String(200), primary_key=True),  # e.g. "telegram:123"
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("username", sa.String(200)),
    sa.Column("created_at", Ts, nullable=False),
    # Set when the client blocked the bot or unfollowed here, cleared when they write again:
    # pushes go to the client's other addresses meanwhile.
    sa.Column("gone_at", Ts),
)

# A code a client asks for on one channel and sends from another to join the two addresses.
bind_codes = sa.Table(
    "bind_codes",
    metadata,
    sa.Column("code", sa.String(6), primary_key=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("address", sa.String(200), nullable=False),  # where it was asked for
    sa.Column("expires_at", Ts, nullable=False),
    sa.Column("created_at", Ts, nullable=False),
)

# Wrong codes sent from an address; enough of them lock binding there for a while.
bind_attempts = sa.Table(
    "bind_attempts",
    metadata,
    sa.Column("address", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", Ts),
)

roles = sa.Table(
    "roles",
    metadata,
    sa.Column("address", sa.String(200), primary_key=True),
    sa.Column("role", sa.String(20), primary_key=True),
    sa.Column("granted_by", sa.String(200), nullable=False),
    sa.Column("granted_at", Ts, nullable=False),
)

topics = sa.Table(
    "topics",
    metadata,
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("name_zh", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(100), nullable=False),
    # Advisory topics carry the risk warning on every message sent to them.
    sa.Column("advisory", sa.Boolean, nullable=False, default=False),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("sort_order", sa.Integer, nullable=False, default=100),
    sa.Column("created_at", Ts, nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), primary_key=True),
    sa.Column("topic_key", sa.String(32), sa.ForeignKey("topics.key"), primary_key=True),
    sa.Column("created_at", Ts, nullable=False),
)

subscription_events = sa.Table(
    "subscription_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False, index=True),
    sa.Column("topic_key", sa.String(32), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # subscribe | unsubscribe
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", Ts, nullable=False),
)

# The message archive doubles as the inbox (direction "in") and the reply outbox ("out").
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("direction", sa.String(3), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("chat", sa.String(200), nullable=False),
    sa.Column("sender", sa.String(200)),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), index=True),
    # Platform delivery id used to drop redeliveries (Telegram update_id, WeChat MsgId).
    sa.Column("dedupe_key", sa.String(200), unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("reply_to", sa.Integer),
    sa.Column("platform_id", sa.String(100)),
    # Locked rows belong to an erased client: kept as records, excluded from any other use.
    sa.Column("locked", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    # An outbox row waiting out a rate limit or an outage is not tried before this.
    sa.Column("next_attempt_at", Ts),
    # Outbox order: replies to people before bulk, then higher priority (alerts), then oldest.
    sa.Column("bulk", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("priority", sa.Integer, nullable=False, default=0, server_default="0"),
    # Who is working on the row (an inbound being handled, an outbound being sent) and until
    # when; a row whose lease ran out belongs to a process that died.
    sa.Column("lease_owner", sa.String(80)),
    sa.Column("lease_until", Ts),
    # A broadcast's delivery rows: one per (broadcast, recipient chat, part of the text).
    sa.Column("broadcast_id", sa.Integer),
    sa.Column("part", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Index("ix_messages_status", "direction", "status"),
    sa.Index("ix_messages_chat", "chat", "id"),
    # An advisor replying to a relayed message: which of our messages was it?
    sa.Index("ix_messages_platform", "chat", "platform_id"),
)
# The claim query reads pending outbound rows of one channel in delivery order.
OUTBOX_DUE = sa.Index(
    "ix_messages_due",
    messages.c.channel,
    messages.c.bulk,
    messages.c.priority.desc(),
    messages.c.id,
    sqlite_where=sa.and_(messages.c.direction == "out", messages.c.status == "pending"),
    postgresql_where=sa.and_(messages.c.direction == "out", messages.c.status == "pending"),
)

# Where a client last wrote from: the newest inbound row of each address, read when a push
# picks one of a client's addresses (outbound rows, far more of them, are not in it).
INBOUND_BY_CHAT = sa.Index(
    "ix_messages_inbound",
    messages.c.chat,
    messages.c.id,
    sqlite_where=messages.c.direction == "in",
    postgresql_where=messages.c.direction == "in",
)

BROADCAST_ROWS = sa.Index(
    "uq_messages_broadcast",
    messages.c.broadcast_id,
    messages.c.chat,
    messages.c.part,
    unique=True,
    sqlite_where=messages.c.broadcast_id.is_not(None),
    postgresql_where=messages.c.broadcast_id.is_not(None),
)

# A message from staff to a topic's subscribers or a segment, kept with its final text.
broadcasts = sa.Table(
    "broadcasts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # broadcast | alert
    sa.Column("audience", sa.JSON, nullable=False),  # {"topics": [...]} or {"segment": {...}}
    sa.Column("text", sa.Text, nullable=False),  # as written
    sa.Column("final", sa.JSON, nullable=False),  # language -> the text clients get
    sa.Column("priority", sa.Integer, nullable=False),
    # scheduled -> running -> done, or cancelled (before it ran) / stopped (while running)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("send_at", Ts, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("started_at", Ts),
    sa.Column("finished_at", Ts),
    sa.Index("ix_broadcasts_status", "status", "send_at"),
)

# Morning and evening notes written ahead by staff, one per slot and day.
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("slot", sa.String(12), primary_key=True),  # morning | evening
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("broadcast_id", sa.Integer),  # set when it went out
    sa.Column("updated_at", Ts, nullable=False),
)

# Return visits (回访): a short survey some days after a client first came, asked at most twice.
return_visits = sa.Table(
    "return_visits",
    metadata,
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), primary_key=True),
    sa.Column("wave", sa.Integer, primary_key=True),  # days after the first contact
    sa.Column("asks", sa.Integer, nullable=False),
    sa.Column("asked_at", Ts, nullable=False),
    sa.Column("score", sa.Integer),
    sa.Column("comment", sa.Text),
    sa.Column("answered_at", Ts),
)

# Non-farm day training sessions and who answered the invitation.
training_sessions = sa.Table(
    "training_sessions",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("place", sa.String(200), nullable=False),
    sa.Column("time", sa.String(5), nullable=False),  # HH:MM in TIMEZONE
    sa.Column("seats", sa.Integer, nullable=False),
    sa.Column("broadcast_id", sa.Integer),  # the invitation
)

training_rsvps = sa.Table(
    "training_rsvps",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), primary_key=True),
    sa.Column("chat", sa.String(200), nullable=False),
    sa.Column("answer", sa.String(10), nullable=False),  # attend | maybe | no
    sa.Column("status", sa.String(10), nullable=False),  # seat | waiting | none
    sa.Column("at", Ts, nullable=False),  # when the current answer was given (queue order)
)

# WeChat lets an account send customer-service messages to a client only for a while after
# the client did something (a message: 5 in 48 h; a menu click or follow: 3 in a minute).
wechat_windows = sa.Table(
    "wechat_windows",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("until", Ts, nullable=False),
    sa.Column("remaining", sa.Integer, nullable=False),
)

# WeChat mass sends received per follower and calendar month (Beijing): a service account's
# follower gets at most 4, and a 5th fails silently, so the bot never plans one.
wechat_mass_counts = sa.Table(
    "wechat_mass_counts",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),  # 2026-12
    sa.Column("count", sa.Integer, nullable=False),
)

# One mass-send call: a broadcast's text to up to 10,000 followers outside the window. The
# clientmsgid makes a retried call after a lost answer harmless; WeChat reports the outcome
# later (MASSSENDJOBFINISH), as totals only.
wechat_mass_jobs = sa.Table(
    "wechat_mass_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("broadcast_id", sa.Integer, nullable=False, index=True),
    sa.Column("clientmsgid", sa.String(64), nullable=False, unique=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("chats", sa.JSON, nullable=False),
    # pending -> sending -> sent (WeChat took it) -> done | failed
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("msg_id", sa.String(40), index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("total", sa.Integer),
    sa.Column("filtered", sa.Integer),
    sa.Column("sent", sa.Integer),
    sa.Column("errors", sa.Integer),
    sa.Column("lease_until", Ts),
    sa.Column("next_attempt_at", Ts),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
    # A subscription account's send to a topic's tag (sendall), not to an OpenID list.
    sa.Column("topic", sa.String(30)),
    # Since when WeChat has held the call for an administrator to confirm (API mass-send
    # protection): failed when not confirmed within 30 minutes.
    sa.Column("confirm_since", Ts),
)

# A subscription account's one mass send a day (Beijing date), and the broadcast it went to.
wechat_mass_days = sa.Table(
    "wechat_mass_days",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # 2026-12-07
    sa.Column("broadcast_id", sa.Integer, nullable=False),
)

# The WeChat user tag of each topic a subscription account mass-sends to.
wechat_tags = sa.Table(
    "wechat_tags",
    metadata,
    sa.Column("topic_key", sa.String(30), primary_key=True),
    sa.Column("tag_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(60), nullable=False),
)

# Followers WeChat has been told carry a topic's tag: compared with the subscriptions, the
# difference is what the next sync tags or untags.
wechat_tagged = sa.Table(
    "wechat_tagged",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("topic_key", sa.String(30), primary_key=True),
)

# WeCom (客户联系): the advisors (WeCom user ids) each client's address is a contact of.
wecom_contacts = sa.Table(
    "wecom_contacts",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("userid", sa.String(64), primary_key=True),
    sa.Column("added_at", Ts, nullable=False),
)

# The days (Beijing date) a client got a WeCom group message: one a day.
wecom_group_days = sa.Table(
    "wecom_group_days",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
)

# A group message an advisor sends to their own clients once they confirm it in WeCom:
# pending -> sending -> waiting (for the advisor) -> done | expired | failed.
wecom_group_jobs = sa.Table(
    "wecom_group_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("broadcast_id", sa.Integer, nullable=False, index=True),
    sa.Column("userid", sa.String(64), nullable=False),
    sa.Column("chats", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("msgid", sa.String(100)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("confirm_by", Ts, nullable=False),  # not confirmed by then: another route
    sa.Column("next_at", Ts),
    sa.Column("lease_until", Ts),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
)

# WeCom's one-time welcome codes (20 seconds), by chat: whichever process sends the greeting
# uses the code the pulling process read.
wecom_welcome_codes = sa.Table(
    "wecom_welcome_codes",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("code", sa.String(512), nullable=False),
    sa.Column("expires_at", Ts, nullable=False),
)

# WeCom 微信客服 sessions as WeCom last said (service_state: 0 new, 1 the bot, 2 queued,
# 3 a servicer in the WeCom app, 4 ended); no row: the bot's.
wecom_sessions = sa.Table(
    "wecom_sessions",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("state", sa.Integer, nullable=False),
    sa.Column("servicer", sa.String(64)),
    sa.Column("updated_at", Ts, nullable=False),
)

# A new WeCom contact no client file was found for: the advisor is asked who it is (the file
# made for it is `client_id`) until they answer ("new", or the file it was merged into).
wecom_questions = sa.Table(
    "wecom_questions",
    metadata,
    sa.Column("client_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("chat", sa.String(200), nullable=False),
    sa.Column("advisor", sa.String(200), nullable=False, index=True),
    sa.Column("name", sa.String(100)),
    sa.Column("asked_at", Ts, nullable=False),
    sa.Column("answered_at", Ts),
    sa.Column("answer", sa.String(40)),
)

# Staff console accounts: each acts as one chat address (its role is that address's), with
# an Argon2id password hash, a TOTP secret and hashed one-time recovery codes.
staff_accounts = sa.Table(
    "staff_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("totp_secret", sa.String(64), nullable=False),
    sa.Column("recovery_codes", sa.JSON, nullable=False),
    # The 30-second step of the last TOTP code accepted: a code is good once.
    sa.Column("totp_last_step", sa.Integer),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", Ts),
    sa.Column("disabled_at", Ts),
    sa.Column("last_login_at", Ts),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
)

# Staff console sessions, server-side: the cookie holds a random token, the table its hash.
# stage: "password" (the password was right, the second factor is due) or "in".
staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.Integer, nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("stage", sa.String(8), nullable=False),
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("seen_at", Ts, nullable=False),
)

# Who has a ticket open in the staff console (each open page says so every few seconds), so a
# colleague about to answer it sees that, whichever process serves either of them.
staff_viewing = sa.Table(
    "staff_viewing",
    metadata,
    sa.Column("ticket_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account", sa.String(40), primary_key=True),
    sa.Column("seen_at", Ts, nullable=False),
)

# Every scheduled job's fire, claimed once: a restart or a second process never repeats it.
schedule_runs = sa.Table(
    "schedule_runs",
    metadata,
    sa.Column("job", sa.String(40), primary_key=True),
    sa.Column("fire_time", Ts, primary_key=True),
    sa.Column("outcome", sa.String(20), nullable=False),  # done | skipped | missed | late
    sa.Column("detail", sa.Text),
    sa.Column("at", Ts, nullable=False),
)

# Named, expiring leases: one delivery worker per channel across every process on a database.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(80), nullable=False),
    sa.Column("until", Ts, nullable=False),
)

conversation_states = sa.Table(
    "conversation_states",
    metadata,
    sa.Column("chat", sa.String(200), primary_key=True),
    sa.Column("state", sa.String(100), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Ts, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

# --- FAQ knowledge base --------------------------------------------------------------------

faq_entries = sa.Table(
    "faq_entries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
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
)

# Staff-extensible synonyms: each term is read as its canonical word before matching.
faq_synonyms = sa.Table(
    "faq_synonyms",
    metadata,
    sa.Column("term", sa.String(100), primary_key=True),
    sa.Column("canonical", sa.String(100), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", Ts, nullable=False),
)

# Sentence embeddings of FAQ phrasings, by model and the digest of the embedded text: an
# edit re-embeds only what changed, and a restart embeds nothing.
faq_vectors = sa.Table(
    "faq_vectors",
    metadata,
    sa.Column("model", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(40), primary_key=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),
)

# One row per answer a client rated; the message id makes a second tap a no-op.
faq_feedback = sa.Table(
    "faq_feedback",
    metadata,
    sa.Column("entry_id", sa.String(64), primary_key=True),
    sa.Column("message_id", sa.Integer, primary_key=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id")),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("at", Ts, nullable=False),
)

# The call record form (客户来电记录单): questions the bot could not answer.
faq_unanswered = sa.Table(
    "faq_unanswered",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Integer, unique=True),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), index=True),
    sa.Column("chat", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("normalized", sa.Text, nullable=False),
    sa.Column("best_entry", sa.String(64)),
    sa.Column("best_score", sa.Float),
    sa.Column("handed_off", sa.Boolean, nullable=False),
    sa.Column("locked", sa.Boolean, nullable=False),
    sa.Column("at", Ts, nullable=False, index=True),
    # Taught by staff (/faq teach): made a phrasing of this entry; no longer a gap.
    sa.Column("taught_entry", sa.String(64)),
    sa.Column("taught_by", sa.String(200)),
    sa.Column("taught_at", Ts),
)

# What the FAQ learns from use (handlers.faq.learning): a client's question behind a chosen
# suggestion they said answered it (`variant`, pending until staff confirm), a 👎 on an answer
# (`negative`), a question staff marked as not the FAQ's (`outside`). The judge trains on them.
faq_learning = sa.Table(
    "faq_learning",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # pending | confirmed | rejected
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("entry_id", sa.String(64)),
    sa.Column("message_id", sa.Integer),
    sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id")),
    sa.Column("at", Ts, nullable=False),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", Ts),
    sa.UniqueConstraint("kind", "message_id", name="uq_faq_learning_message"),
    sa.Index("ix_faq_learning_status", "kind", "status"),
)

# E-mail waiting to go (the monthly report to REPORT_EMAILS): kept until the relay took it, so
# an outage or a refusal delays it but loses nothing; one process at a time holds a row (lease).
mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(100), nullable=False, unique=True),  # "monthly:2026-11"
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("attachments", sa.JSON, nullable=False),  # [{"name", "type", "text"}]
    sa.Column("status", sa.String(10), nullable=False),  # pending | sent | failed
    sa.Column("tries", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("next_at", Ts, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", Ts),
    sa.Column("error", sa.Text),
    sa.Column("told_at", Ts),  # staff were told it failed (once)
    sa.Column("created_at", Ts, nullable=False),
    sa.Column("sent_at", Ts),
    sa.Index("ix_mail_outbox_due", "status", "next_at"),
)

# Small facts about the installation itself, e.g. which default data has been loaded.
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
