"""The local console: chat with the bot in a terminal, or script it one message at a time.

Buttons come out as numbered options (the core appends them); answering with the number
or the label presses the button, the same fallback a button-less platform uses.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.core.commands import text_event
from bot.core.delivery import Delivery, Limits, OutMessage
from bot.core.inbox import Inbox
from bot.core.text import to_plain
from bot.core.types import Capabilities

CHANNEL = "console"
QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}


class ConsoleSender:
    """Prints replies for one terminal; messages to other console users are printed tagged."""

    channel = CHANNEL
    capabilities = Capabilities(max_text=100_000, buttons=False, can_edit=False)
    limits = Limits()  # a terminal has no rate limit

    def __init__(self, out: TextIO | None = None, *, me: str | None = None) -> None:
        self.out = out or sys.stdout
        self.me = me

    @staticmethod
    def is_group(chat: str) -> bool:
        return False

    async def send(self, message: OutMessage) -> str | None:
        chat = message.chat
        body = to_plain(message.text)
        tag = "bot" if self.me in (None, chat) else f"bot → {chat}"
        lines = body.splitlines() or [""]
        self.out.write(f"{tag}> {lines[0]}\n")
        for line in lines[1:]:
            self.out.write(f"{' ' * len(tag)}  {line}\n")
        if message.document is not None:
            doc = message.document
            size = len(doc["text"].encode("utf-8"))
            self.out.write(f"{' ' * len(tag)}  📎 {doc['name']} ({size} bytes)\n")
        self.out.write("\n")
        self.out.flush()
        return None


class ConsoleChannel:
    def __init__(
        self, inbox: Inbox, delivery: Delivery, user: str = "local", *, view_as: str | None = None
    ) -> None:
        self.inbox = inbox
        self.delivery = delivery
        self.address = f"{CHANNEL}:{user}"
        self.view_as = view_as

    async def say(self, text: str) -> int | None:
        """Send one line as the console user; returns once the replies are printed."""
        event = text_event(
            CHANNEL,
            self.address,
            self.address,
            text,
            display_name=self.address.split(":", 1)[1],
            view_as=self.view_as,
        )
        receipt = await self.inbox.receive(event)
        if receipt is None:
            return None
        message_id, replies = receipt
        await self.delivery.settled(self.delivery.ours(replies))
        return message_id

    async def interact(self, stdin: TextIO | None = None, prompt: str = "you> ") -> None:
        """Read lines until EOF or /quit."""
        stream = stdin or sys.stdin
        interactive = stream.isatty()
        while True:
            if interactive:
                sys.stdout.write(prompt)
                sys.stdout.flush()
            line = await asyncio.to_thread(stream.readline)
            if not line:
                return
            text = line.rstrip("\n")
            if text.strip().lower() in QUIT_WORDS:
                return
            await self.say(text)
