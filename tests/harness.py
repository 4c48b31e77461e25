"""An in-process bot with a recording sender: conversations without any platform."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from bot.app import App
from bot.config import Settings
from bot.core.commands import text_event
from bot.core.delivery import Limits, OutMessage, SendFailure
from bot.core.text import to_plain
from bot.core.types import Button, Capabilities, Inbound
from storage.database import Clock
from tests.fakes.clock import FakeTime


@dataclass
class Sent:
    chat: str
    text: str
    buttons: list[list[Button]]
    edit: str | None
    document: dict[str, str] | None = None

    @property
    def plain(self) -> str:
        return to_plain(self.text)

    @property
    def callbacks(self) -> list[str]:
        return [b.data for row in self.buttons for b in row if b.data]


def to(sent: list[Sent], chat: str) -> list[Sent]:
    """What went to `chat`."""
    return [s for s in sent if s.chat == chat]


@dataclass
class RecordingSender:
    """Speaks for the console channel; `buttons` decides whether options are numbered."""

    channel: str = "console"
    buttons: bool = True
    max_text: int = 4096
    sent: list[Sent] = field(default_factory=list)

    limits: Limits = field(default_factory=Limits)
    # Chats that blocked the bot: a send there fails for good, as Telegram's 403 does.
    blocked: set[str] = field(default_factory=set)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_text=self.max_text, buttons=self.buttons, can_edit=True)

    def is_group(self, chat: str) -> bool:
        return False

    async def send(self, message: OutMessage) -> str | None:
        if message.chat in self.blocked:
            raise SendFailure("blocked", "Forbidden: bot was blocked by the user")
        self.sent.append(
            Sent(message.chat, message.text, message.buttons, message.edit, message.document)
        )
        return str(len(self.sent))


class Harness:
    def __init__(
        self, settings: Settings, *, buttons: bool = True, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        # A known day (tests.fakes.clock.START) that moves on in real time: whatever the date
        # the suite runs on, "today" and "past" mean the same.
        self.clock = clock or FakeTime(ticking=True)
        self.sender = RecordingSender(buttons=buttons)
        # Telegram chats (groups, say) are recorded in the same list.
        self.telegram = RecordingSender(channel="telegram", sent=self.sender.sent)
        self._build()

    async def start(self) -> None:
        """Start the bot; after a `stop`, a new process on the same database."""
        if self.stopped:
            self._build()
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()
        self.stopped = True

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _build(self) -> None:
        self.app = App(self.settings, clock=self.clock)
        self.app.add_sender(self.sender)
        self.app.add_sender(self.telegram)
        self.stopped = False

    async def send(self, event: Inbound) -> list[Sent]:
        """One event, handled and its replies delivered."""
        before = len(self.sender.sent)
        receipt = await self.app.inbox.receive(event)
        if receipt is not None:
            await self.app.delivery.settled(receipt[1], timeout=10)
        return self.sender.sent[before:]

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until the inbox has handled what was queued (recovery included) and every
        outbox row this process holds is final."""
        async with asyncio.timeout(timeout):
            # Recovery runs in the background after start (the inbox's, then the outbox's).
            await self.app.inbox.recovered.wait()
            await asyncio.sleep(0.05)
            while True:
                await self.app.inbox.idle.wait()
                held = [i for w in self.app.delivery.workers.values() for i in w.held]
                if not held:
                    async with self.app.db.read() as tx:  # rows no worker holds yet too
                        pending = sum(
                            [
                                await tx.messages.count(direction="out", status=state)
                                for state in ("pending", "queued")
                            ]
                        )
                    if not pending or not self.app.delivery.workers:
                        return
                await self.app.delivery.settled(held, timeout=timeout)
                await asyncio.sleep(0.01)

    async def say(self, text: str, user: str = "alice", **fields: Any) -> list[Sent]:
        address = f"console:{user}"
        return await self.send(text_event("console", address, address, text, **fields))

    async def press(self, data: str, user: str = "alice", ref: str | None = "1") -> list[Sent]:
        address = f"console:{user}"
        event = Inbound(
            "console", address, address, kind="callback", callback_data=data, ref_id=ref
        )
        return await self.send(event)

    async def text(self, text: str, user: str = "alice", **fields: Any) -> str:
        """All replies to one message as one plain string."""
        return "\n".join(s.plain for s in await self.say(text, user, **fields))

    async def subs(self, user: str = "alice") -> list[str]:
        async with self.app.db.read() as tx:
            client = await tx.clients.by_address(f"console:{user}")
            return await tx.subscriptions.of(client.id) if client else []

    async def archive(self, user: str = "alice") -> list[Any]:
        async with self.app.db.read() as tx:
            return await tx.messages.for_chat(f"console:{user}", limit=1000)
