"""One database transaction with the repositories bound to it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.repos.audit import AuditRepo
from storage.repos.clients import ClientRepo
from storage.repos.faq import FaqRepo
from storage.repos.messages import MessageRepo
from storage.repos.meta import MetaRepo
from storage.repos.roles import RoleRepo
from storage.repos.states import StateRepo
from storage.repos.subscriptions import SubscriptionRepo
from storage.repos.topics import TopicRepo


class Tx:
    """Repositories sharing one connection, so a handler's writes commit or fail together."""

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self.conn = conn
        self.now = clock
        self.clients = ClientRepo(conn, clock)
        self.topics = TopicRepo(conn, clock)
        self.subscriptions = SubscriptionRepo(conn, clock)
        self.messages = MessageRepo(conn, clock)
        self.states = StateRepo(conn, clock)
        self.roles = RoleRepo(conn, clock)
        self.audit = AuditRepo(conn, clock)
        self.faq = FaqRepo(conn, clock)
        self.meta = MetaRepo(conn, clock)
