"""What the SMS channel needs from a provider (Alibaba Cloud SMS, an SMPP 3.4 gateway), and
what a provider reports back: delivery receipts and the clients' replies.

A provider sends one text to one number and returns the id its receipts will carry; it
raises `bot.channels.sms.errors` exceptions. Receipts and replies reach the channel through
the `Reports` callbacks, whether they come pushed over HTTP (Alibaba), over the provider's
own connection (SMPP `deliver_sm`) or by polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Kind = Literal["notice", "alert", "marketing"]  # which approved template a text goes through


@dataclass(frozen=True, slots=True)
class Receipt:
    """A carrier's delivery report for one text."""

    message_id: str  # what `send` returned
    phone: str  # 11 digits
    delivered: bool
    code: str  # the carrier's code, e.g. DELIVERED, UNDELIV, MK:0001
    at: datetime | None = None  # when the carrier reported (aware), if said
    out_id: str | None = None  # what we gave `send` as out_id, if the provider echoes it
    parts: int | None = None  # parts billed, if said


@dataclass(frozen=True, slots=True)
class Reply:
    """A text a client sent to our number (an uplink, SMPP's mobile-originated message)."""

    phone: str  # 11 digits
    text: str
    key: str  # unique per reply: a redelivered one carries the same key
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reports:
    on_receipt: Callable[[Receipt], Awaitable[None]]
    on_reply: Callable[[Reply], Awaitable[None]]


class SmsProvider(Protocol):
    name: str  # "aliyun" or "smpp"

    async def send(self, phone: str, kind: Kind, text: str, out_id: str) -> str:
        """Send `text` (the template's one variable, or the whole text on SMPP) to `phone`
        (11 digits); the id receipts carry. `out_id` is ours (the outbox row id)."""

    async def run(self, stop: asyncio.Event, reports: Reports) -> None:
        """Keep what the provider needs (a connection, polling) until `stop`, passing
        receipts and replies to `reports`; return at once when nothing is needed."""

    async def close(self) -> None:
        """Release connections."""
