"""An in-process bot with a recording sender: conversations without any platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.app import App
from bot.config import Settings
from bot.core.commands import text_event
from bot.core.text import to_plain
from bot.core.types import Button, Capabilities, Inbound


@dataclass
class Sent:
    chat: str
    text: str
    buttons: list[list[Button]]
    edit: str | None

    @property
    def plain(self) -> str:
        return to_plain(self.text)

    @property
    def callbacks(self) -> list[str]:
        return [b.data for row in self.buttons for b in row if b.data]


@dataclass
class RecordingSender:
    """Speaks for the console channel; `buttons` decides whether options are numbered."""

    channel: str = "console"
    buttons: bool = True
    max_text: int = 4096
    sent: list[Sent] = field(default_factory=list)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_text=self.max_text, buttons=self.buttons, can_edit=True)

    async def pace(self) -> None:
        pass

    async def send(
        self, chat: str, text: str, buttons: list[list[Button]], *, edit: str | None
    ) -> str | None:
        self.sent.append(Sent(chat, text, buttons, edit))
        return str(len(self.sent))


class Harness:
    def __init__(self, settings: Settings, *, buttons: bool = True) -> None:
        self.settings = settings
        self.sender = RecordingSender(buttons=buttons)
        # Telegram chats (groups, say) are recorded in the same list.
        self.telegram = RecordingSender(channel="telegram", sent=self.sender.sent)
        self.app = App(settings)
        self.app.add_sender(self.sender)
        self.app.add_sender(self.telegram)

    async def start(self) -> None:
        await self.app.start(sweep=False)

    async def stop(self) -> None:
        await self.app.stop()

    async def restart(self) -> None:
        await self.stop()
        self.app = App(self.settings)
        self.app.add_sender(self.sender)
        self.app.add_sender(self.telegram)
        await self.start()

    async def send(self, event: Inbound) -> list[Sent]:
        before = len(self.sender.sent)
        await self.app.inbox.receive(event)
        return self.sender.sent[before:]

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
