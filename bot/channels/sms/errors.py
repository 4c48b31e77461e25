"""What an SMS provider's answers mean for the caller, whatever the provider (Alibaba's
codes, SMPP's command_status): retry later, stop the channel, drop this number, drop this
message; `Unreachable` (nothing was sent) and `NoAnswer` (it may have been)."""

from __future__ import annotations

from typing import Any

from bot.channels.http_json import NoAnswer, Unreachable


class SmsApiError(Exception):
    """The provider refused: Alibaba's `Code` other than OK, or SMPP's command_status."""

    def __init__(self, code: str, message: str, *, status: int = 200, request_id: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id


class RetryLater(SmsApiError):
    """Throttled or over a frequency limit: the same request may go later.
    `per_number`: only this number's limit was reached (others may go now);
    `retry_after`: seconds until it may go again, as far as the answer tells."""

    def __init__(self, *args: Any, per_number: bool = False, retry_after: float = 1.0, **kw: Any):
        super().__init__(*args, **kw)
        self.per_number = per_number
        self.retry_after = retry_after


class ChannelStopped(SmsApiError):
    """The account cannot send at all (balance, template, signature, access key, quota set in
    the console): stop the channel and tell staff; nothing goes until someone acts."""


class BadNumber(SmsApiError):
    """This recipient cannot be reached by SMS (an invalid or blocked number)."""


class MessageRefused(SmsApiError):
    """This message as written is refused (a missing or too long variable, bad JSON, content
    Alibaba rejects): sending it again changes nothing."""


__all__ = [
    "BadNumber", "ChannelStopped", "MessageRefused", "NoAnswer", "RetryLater", "SmsApiError",
    "Unreachable",
]  # fmt: skip
