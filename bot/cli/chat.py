"""`python -m bot chat`: talk to the bot as a console user in this terminal."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.app import App
from bot.channels.console import ConsoleChannel, ConsoleSender
from bot.config import Settings
from bot.core.types import normalize_address

NAME = "chat"
QUIET = True  # the conversation is the output; only real errors may interrupt it


def add_parser(sub: Any) -> None:
    chat = sub.add_parser(
        NAME,
        help="chat with the bot in this terminal",
        description="Talk to the bot as a console user. Options are numbered; answer with the "
        "number or the label. /quit or Ctrl-D leaves. State persists between runs.",
    )
    chat.add_argument(
        "--user",
        default="local",
        type=_user_name,
        help="console user name: letters, digits, _ . @ - (default: local)",
    )
    chat.add_argument(
        "--as", dest="view_as", choices=["client"], help="see the client's view even as admin"
    )
    chat.add_argument("--message", "-m", help="send this one message, print the replies, exit")


def _user_name(value: str) -> str:
    try:
        return normalize_address(f"console:{value}").split(":", 1)[1]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 1-64 letters, digits, _ . @ or -"
        ) from None


async def run(settings: Settings, args: argparse.Namespace) -> int:
    user, view_as, message = args.user, args.view_as, args.message
    app = App(settings)
    me = f"console:{user}"
    # Only this user's conversation: other processes' rows are theirs to send.
    app.add_sender(ConsoleSender(me=me), chats=[me])
    try:
        await app.start()
        channel = ConsoleChannel(app.inbox, app.delivery, user, view_as=view_as)
        if message is not None:
            await channel.say(message)
        else:
            print(f"console:{user} — /quit to leave", file=sys.stderr)
            await channel.say("/start")
            await channel.interact()
    finally:
        await app.stop()
    return 0
