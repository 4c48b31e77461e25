"""Plain records returned by the repositories (no SQL types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    display_name: str | None
    language: str
    created_at: datetime
    erased_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    address: str
    client_id: int
    channel: str
    username: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Topic:
    key: str
    name_zh: str
    name_en: str
    advisory: bool = False
    enabled: bool = True
    sort_order: int = 100

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh


@dataclass(frozen=True, slots=True)
class SubscriptionEvent:
    topic_key: str
    action: str
    channel: str
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    direction: str
    channel: str
    chat: str
    sender: str | None
    client_id: int | None
    kind: str
    text: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    reply_to: int | None = None
    platform_id: str | None = None
    error: str | None = None
    locked: bool = False
    next_attempt_at: datetime | None = None
    bulk: bool = False
    priority: int = 0
    lease_owner: str | None = None
    updated_at: datetime | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """Who is writing, loaded in one round trip: the client (None: first contact), the
    roles granted to the address, and the open conversation state."""

    client: Client | None
    roles: frozenset[str]
    state: ConversationState | None


@dataclass(frozen=True, slots=True)
class ConversationState:
    chat: str
    state: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    language: str
    category: str
    question: str
    answer: str
    variants: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    buttons: tuple[dict[str, str], ...] = ()
    enabled: bool = True
    updated_by: str = ""
    updated_at: datetime | None = None

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.variants)


@dataclass(frozen=True, slots=True)
class Unanswered:
    id: int
    message_id: int | None
    client_id: int | None
    chat: str
    text: str
    normalized: str
    best_entry: str | None
    best_score: float | None
    handed_off: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class ClientFile:
    """What staff keep about a client beyond the chat: the client file (客户档案)."""

    client: Client
    identities: tuple[Identity, ...]
    tier: str
    advisor: str | None
    phone: str | None
    tags: tuple[str, ...]
    notes: tuple[tuple[datetime, str, str], ...]  # (at, author, text), newest first
    subscriptions: tuple[str, ...]
    last_contact: datetime | None
    sms: SmsConsent | None = None
    email: str | None = None  # where documents for the client go by e-mail


@dataclass(frozen=True, slots=True)
class SmsConsent:
    """Whether a client agreed to topic texts and alerts by SMS, and when and how it was
    said (import | chat | staff | reply); `consented` None: nobody asked yet."""

    consented: bool | None
    at: datetime | None = None
    source: str | None = None


# The standard service flow (标准化流程), in the seed's order.
ONBOARDING_STEPS = (
    "opened",  # 公司开户
    "custody",  # 银行三方托管
    "software",  # 软件下载及使用指导
    "coaching",  # 交易前的辅导
    "advisor",  # 客户分配
    "code_sent",  # 短信通知交易编码及投资顾问
    "visit",  # 新开户客户回访
    "file",  # 建立客户档案
    "segment",  # 客户细分
)


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: str
    state: str  # done | skipped
    by: str
    at: datetime
    reason: str | None = None


def sms_parts(length: int) -> int:
    """SMS parts billed for a text of `length` characters: one up to 70, else one per 67."""
    return 0 if length <= 0 else 1 if length <= 70 else -(-length // 67)


@dataclass(frozen=True, slots=True)
class Hours:
    """A daily window in local time; `start` after `end` spans midnight (21:00-08:00)."""

    start: dt_time
    end: dt_time

    def wait(self, now: datetime) -> float:
        """Seconds from `now` (aware, in the window's timezone) until the window ends; 0
        outside it."""
        t = now.timetz().replace(tzinfo=None)
        overnight = self.start > self.end
        inside = (t >= self.start or t < self.end) if overnight else self.start <= t < self.end
        if not inside:
            return 0.0
        end = now.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= now:
            end += timedelta(days=1)
        return (end - now).total_seconds()


@dataclass(frozen=True, slots=True)
class SmsPolicy:
    """What SMS may carry, from the settings: pushes to `topics` (alerts among them), each
    text at most `variable_max` characters (the template's variable), marketing texts ending
    with `opt_out` (拒收请回复R); the hours marketing (and, if set, alerts) wait out."""

    topics: frozenset[str] = frozenset()
    variable_max: int = 35
    opt_out: str = "拒收请回复R"
    sign: str = ""  # the sign name the phone shows as 【…】
    quiet: dict[str, Hours] = field(default_factory=dict)  # kind -> hours it waits out
    timezone: str = "Asia/Shanghai"

    def not_before(self, kind: str, now: datetime) -> datetime | None:
        """When a text of `kind` may go, if not now (the end of its quiet hours)."""
        hours = self.quiet.get(kind)
        wait = hours.wait(now.astimezone(ZoneInfo(self.timezone))) if hours else 0.0
        return now + timedelta(seconds=wait) if wait else None


@dataclass(frozen=True, slots=True)
class SmsOptOut:
    """A number that asked for no more topic texts (a reply R/TD/T/N/退订, or staff)."""

    number: str
    at: datetime
    source: str
    word: str | None = None


@dataclass(frozen=True, slots=True)
class Advisor:
    address: str
    on_duty: bool
    display_name: str | None = None
    license_no: str | None = None
    wecom_userid: str | None = None  # their WeCom user id (客户联系)


@dataclass(frozen=True, slots=True)
class StaffAccount:
    """A staff console login; it acts as `address`, whose role it has."""

    id: int
    name: str
    role: str
    address: str
    password_hash: str
    totp_secret: str
    recovery_codes: tuple[str, ...]  # hashes of the unused ones
    failed_logins: int = 0
    locked_until: datetime | None = None
    disabled_at: datetime | None = None
    last_login_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StaffSession:
    token_hash: str
    account_id: int
    csrf: str
    stage: str  # "password": the second factor is due; "in": signed in
    created_at: datetime
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class WecomQuestion:
    """An advisor asked who a new WeCom contact is (the file made for it: `client_id`)."""

    client_id: int
    chat: str
    advisor: str
    name: str | None
    asked_at: datetime
    answered_at: datetime | None = None
    answer: str | None = None  # "new", or "merged:ID"


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    number: str
    kind: str  # complaint | consult
    client_id: int
    chat: str
    text: str
    status: str  # open | claimed | waiting | resolved | closed
    vip: bool
    due_at: datetime
    created_at: datetime
    category: str | None = None
    contact: str | None = None
    advisor: str | None = None
    claimed: bool = False
    unanswered_id: int | None = None
    responded_at: datetime | None = None
    breach_alerted: bool = False
    result: str | None = None
    rating: int | None = None
    feedback: str | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status in ("open", "claimed", "waiting")


@dataclass(frozen=True, slots=True)
class TicketEvent:
    at: datetime
    actor: str
    action: str
    text: str | None = None
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one send did to an outbox row we hold, as the worker hands it to the store.

    `chat` and `ref` are set for rows not sent (hooks tell people; a move names the new
    address); `moved_from` marks a row going back to `pending` under a new address, and
    `next_attempt_at` a row going back to `pending` to be tried again then.
    """

    id: int
    status: str
    error: str | None = None
    platform_id: str | None = None
    tries: int = 0  # platform calls made under this lease
    chat: str | None = None
    ref: str | None = None
    next_attempt_at: datetime | None = None
    moved_from: str | None = None


@dataclass(frozen=True, slots=True)
class MassJob:
    id: int
    broadcast_id: int
    clientmsgid: str
    text: str
    chats: list[str]
    status: str
    attempts: int
    msg_id: str | None = None
    total: int | None = None
    sent: int | None = None
    errors: int | None = None
    filtered: int | None = None
    error: str | None = None
    topic: str | None = None  # a subscription account's send to this topic's tag
    confirm_since: datetime | None = None  # held for an administrator's confirmation since


@dataclass(frozen=True, slots=True)
class GroupJob:
    """An advisor's WeCom group message to their own clients, for one broadcast."""

    id: int
    broadcast_id: int
    userid: str  # the advisor's WeCom user id
    chats: list[str]
    text: str
    status: str  # pending, sending, waiting (for the advisor), done, expired, failed
    msgid: str | None
    attempts: int
    confirm_by: datetime
    error: str | None = None
