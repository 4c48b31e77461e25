"""A delivery engine on the in-memory outbox, in virtual time, sending through a scripted
fake: what the unit tests of this folder drive. No HTTP, no database, no real waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.delivery import Delivery, Limits, OutMessage, SendFailure
from bot.core.types import Capabilities
from storage.memory_outbox import MemoryOutbox
from tests.fakes.clock import FakeTime

TELEGRAM = Limits(rate=30.0, chat_interval=1.0, group_per_minute=20, margin=0.0)


@dataclass(frozen=True, slots=True)
class Call:
    start: float  # virtual seconds, when the call left
    end: float  # when its answer came back
    chat: str
    text: str
    failed: bool


@dataclass
class ScriptedSender:
    """Answers after `latency` virtual seconds; a text's scripted failures come first."""

    time: FakeTime
    limits: Limits = TELEGRAM
    latency: float = 0.0
    channel: str = "telegram"
    capabilities: Capabilities = field(default_factory=Capabilities)
    failures: dict[str, list[SendFailure]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    @staticmethod
    def is_group(chat: str) -> bool:
        return chat.split(":", 1)[1].startswith("-")

    async def send(self, message: OutMessage) -> str | None:
        start = self.time.now()
        if self.latency:
            await self.time.sleep(self.latency)
        else:
            await asyncio.sleep(0)
        failure = (self.failures.get(message.text) or [None]).pop(0)
        self.calls.append(Call(start, self.time.now(), message.chat, message.text, bool(failure)))
        if failure is not None:
            raise failure
        return str(len(self.calls))

    def sent(self) -> list[str]:
        return [c.text for c in self.calls if not c.failed]


def engine(store: MemoryOutbox, time: FakeTime, sender: ScriptedSender, **kw: object) -> Delivery:
    delivery = Delivery(store, timer=time, **kw)  # type: ignore[arg-type]
    delivery.register(sender)
    return delivery


def row(chat: str, text: str, **extra: object) -> dict[str, object]:
    return {"channel": chat.split(":", 1)[0], "chat": chat, "text": text, "payload": {}, **extra}


async def until(
    time: FakeTime, done: Callable[[], bool], within: float = 3600.0, step: float = 1.0
) -> None:
    """Let virtual time run until `done()`, looking every `step` virtual seconds (each look
    costs a jump of the clock, so not too often), for at most `within` virtual seconds."""
    deadline = time.now() + within
    while not done():
        assert time.now() < deadline, "not done in time"
        await time.sleep(step)


def peak(starts: list[float], span: float) -> int:
    """The most starts in any rolling window of `span` seconds."""
    starts = sorted(starts)
    best, j = 0, 0
    for i, at in enumerate(starts):
        while starts[j] <= at - span + 1e-9:
            j += 1
        best = max(best, i - j + 1)
    return best
