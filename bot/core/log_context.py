"""What a log line is about: the channel, chat and ticket being handled, in context
variables the JSON log format adds to every line (`bot/ops/logs.py`).

Set where an inbound event is handled (the inbox), where a delivery is sent (the worker:
each send is its own task, so its values end with it) and where a ticket is worked on.
Setting one is a context-variable write: cheap enough for the hot path.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

channel: ContextVar[str | None] = ContextVar("log_channel", default=None)
chat: ContextVar[str | None] = ContextVar("log_chat", default=None)
ticket: ContextVar[str | None] = ContextVar("log_ticket", default=None)

Tokens = tuple[Token[str | None], Token[str | None], Token[str | None]]


def about(channel_: str, chat_: str) -> Tokens:
    """Lines logged from here on are about this chat (and no ticket yet); `done` with the
    result ends it."""
    return channel.set(channel_), chat.set(chat_), ticket.set(None)


def done(tokens: Tokens) -> None:
    channel.reset(tokens[0])
    chat.reset(tokens[1])
    ticket.reset(tokens[2])


def about_ticket(number: str | None) -> None:
    """Lines logged from here on, in this task, are about this ticket."""
    ticket.set(number)


# Whether logs may carry what people wrote and their phone numbers (LOG_PERSONAL=on); set
# once by the CLI's logging set-up.
personal = False


def shown(value: object) -> object:
    """`value` for a log line that could carry personal data: itself only with LOG_PERSONAL."""
    return value if personal else "<hidden: LOG_PERSONAL=off>"


def current() -> dict[str, str]:
    """The fields known now (none unset)."""
    found = {"channel": channel.get(), "chat": chat.get(), "ticket": ticket.get()}
    return {k: v for k, v in found.items() if v is not None}
