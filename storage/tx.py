"""One database transaction with the repositories bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from storage.records import SmsPolicy
from storage.repos.advisors import AdvisorRepo
from storage.repos.audit import AuditRepo
from storage.repos.base import TxState
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.client_files import ClientFileRepo
from storage.repos.client_import import ClientImportRepo
from storage.repos.clients import ClientRepo
from storage.repos.faq import FaqRepo
from storage.repos.faq_learning import FaqLearningRepo
from storage.repos.leases import LeaseRepo
from storage.repos.linking import LinkRepo
from storage.repos.mail import MailRepo
from storage.repos.messages import MessageRepo
from storage.repos.meta import MetaRepo
from storage.repos.monthly import MonthlyRepo
from storage.repos.onboarding import OnboardingRepo
from storage.repos.reroute import RerouteRepo
from storage.repos.retention import RetentionRepo
from storage.repos.return_visits import ReturnVisitRepo
from storage.repos.rhythm import RhythmRepo
from storage.repos.roles import RoleRepo
from storage.repos.sms import SmsRepo
from storage.repos.staff import StaffRepo
from storage.repos.states import StateRepo
from storage.repos.subscriptions import SubscriptionRepo
from storage.repos.tickets import TicketRepo
from storage.repos.topics import TopicRepo
from storage.repos.training import TrainingRepo
from storage.repos.wechat import WechatRepo
from storage.repos.wechat_mass import WechatMassRepo
from storage.repos.wechat_tags import WechatTagRepo
from storage.repos.wecom_groups import WecomGroupRepo
from storage.repos.wecom_kf import WecomKfRepo
from storage.repos.wecom_questions import WecomQuestionRepo
from storage.repos.wecom_sessions import WecomSessionRepo

T = TypeVar("T")


class Tx:
    """Repositories sharing one connection, so a handler's writes commit or fail together."""

    def __init__(
        self,
        conn: Any,
        clock: Callable[[], datetime],
        cache: dict[str, tuple[str, Any]] | None = None,
        *,
        mass_topics: frozenset[str] = frozenset(),
        mass_kind: str = "list",
        group_confirm: tuple[timedelta, timedelta] = (timedelta(hours=12), timedelta(minutes=30)),
        sms: SmsPolicy | None = None,
    ) -> None:
        self.conn = conn
        self.now = clock
        self.mass_topics = mass_topics  # pushes to these topics may spend a WeChat mass send
        # "list" (a service account's OpenID lists) or "tag" (a subscription account's tags)
        self.mass_kind = mass_kind
        # How long an advisor has to confirm a WeCom group message: a push, an alert.
        self.group_confirm = group_confirm
        self.sms_policy = sms  # None: SMS is off (no `sms:` address is a route)
        self.state = TxState(cache if cache is not None else {})
        args = (conn, clock, self.state)
        self.clients = ClientRepo(*args)
        self.topics = TopicRepo(*args)
        self.subscriptions = SubscriptionRepo(*args)
        self.messages = MessageRepo(*args)
        self.states = StateRepo(*args)
        self.roles = RoleRepo(*args)
        self.audit = AuditRepo(*args)
        self.faq = FaqRepo(*args)
        self.faq_learning = FaqLearningRepo(*args)
        self.meta = MetaRepo(*args)
        self.leases = LeaseRepo(*args)
        self.files = ClientFileRepo(*args)
        self.client_lists = ClientImportRepo(*args)
        self.sms = SmsRepo(*args)
        self.onboarding = OnboardingRepo(*args)
        self.advisors = AdvisorRepo(*args)
        self.tickets = TicketRepo(*args)
        self.broadcasts = BroadcastRepo(*args)
        self.rhythm = RhythmRepo(*args)
        self.return_visits = ReturnVisitRepo(*args)
        self.training = TrainingRepo(*args)
        self.monthly = MonthlyRepo(*args)
        self.wechat = WechatRepo(*args)
        self.links = LinkRepo(*args)
        self.wechat_mass = WechatMassRepo(*args)
        self.wechat_tags = WechatTagRepo(*args)
        self.wecom_groups = WecomGroupRepo(*args)
        self.wecom_kf = WecomKfRepo(*args)
        self.staff = StaffRepo(*args)
        self.wecom_questions = WecomQuestionRepo(*args)
        self.wecom_sessions = WecomSessionRepo(*args)
        self.reroute = RerouteRepo(*args)
        self.mail = MailRepo(*args)
        self.retention = RetentionRepo(*args)

    async def config_version(self) -> str:
        """The version of rarely changing data (topics, FAQ); every change to it bumps it."""
        return await self.meta.config_version()

    async def cached(self, name: str, load: Callable[[], Awaitable[T]]) -> T:
        """`load()`'s result, shared with other transactions until the config version moves."""
        return await self.meta.cached(name, load)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: what runs inside rolls back alone if it raises."""
        async with self.conn.begin_nested():
            yield
