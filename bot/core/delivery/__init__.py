"""Outbound delivery: the outbox, per-channel workers, exact platform limits, retries."""

from bot.core.delivery.engine import Delivery
from bot.core.delivery.limits import Limits, Pacer
from bot.core.delivery.outbox import OutMessage
from bot.core.delivery.retry import Decision, RetryPolicy, SendFailure
from bot.core.delivery.store import OutboxStore
from bot.core.delivery.worker import Sender

__all__ = [
    "Decision",
    "Delivery",
    "Limits",
    "OutMessage",
    "OutboxStore",
    "Pacer",
    "RetryPolicy",
    "SendFailure",
    "Sender",
]
