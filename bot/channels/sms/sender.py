"""Outgoing SMS behind the delivery engine: one text to one number per call, through the
template its kind names (notice, alert, marketing).

Before each call, what only SMS has: the text must fit the template's variable (refused, never
cut); marketing waits out the quiet hours (alerts their own, if set); a number gets at most
the firm's caps an hour and a day (counted from this process's sends, seeded from the
archive in one read at the first send and after a pause, so a new leader counts what the
last one sent).
Provider answers become the engine's failures: a number's frequency limit waits for that
number only, throttling holds the channel, an account problem (balance, template, signature)
stops the channel until a probe goes through, and staff hear of it once.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, tzinfo

from bot.channels.sms.errors import (
    BadNumber,
    ChannelStopped,
    MessageRefused,
    NoAnswer,
    RetryLater,
    Unreachable,
)
from bot.channels.sms.provider import Kind, SmsProvider
from bot.core.delivery import Limits, OutMessage, SendFailure
from bot.core.text import to_plain
from bot.core.types import Capabilities
from storage.records import Hours

log = logging.getLogger(__name__)

CHANNEL = "sms"
STOPPED_PROBE = 300.0  # seconds between tries while the account cannot send
KINDS: tuple[Kind, ...] = ("notice", "alert", "marketing")
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

# Send times by number since a moment (the archive's, for numbers this process has not seen).
History = Callable[[datetime], Awaitable[dict[str, list[datetime]]]]
RESEED_AFTER = timedelta(minutes=1)  # idle this long, another process may have sent meanwhile
Stopped = Callable[[str], Awaitable[None]]
Resumed = Callable[[], Awaitable[None]]


class SmsSender:
    def __init__(
        self,
        provider: SmsProvider,
        *,
        limits: Limits,
        variable_max: int,
        clock: Callable[[], datetime],
        tz: tzinfo,
        quiet: Hours,
        alert_quiet: Hours | None,
        per_hour: int,
        per_day: int,
        history: History,
        on_stopped: Stopped,
        on_resumed: Resumed,
    ) -> None:
        self.channel = CHANNEL
        self.provider = provider
        self.limits = limits
        # Parts are split to the variable's size, so nothing a reply says is cut off.
        self.capabilities = Capabilities(max_text=variable_max, buttons=False, markup=False)
        self.variable_max = variable_max
        self.clock = clock
        self.tz = tz
        self.quiet = {"marketing": quiet, "alert": alert_quiet}
        self.per_hour, self.per_day = per_hour, per_day
        self.history = history
        self.on_stopped, self.on_resumed = on_stopped, on_resumed
        self.sent: dict[str, deque[datetime]] = {}  # number -> send times of the last day
        self.seeded: datetime | None = None  # when the log was last read from the archive
        self.last_send: datetime | None = None
        # The provider's code while the account cannot send. Unknown at start: an earlier
        # process may have stopped, so the first text that goes asks whether to say it is back.
        self.stopped: str | None = "?"

    def is_group(self, chat: str) -> bool:
        return False

    async def send(self, message: OutMessage) -> str | None:
        phone = message.chat.split(":", 1)[1]
        kind: Kind = message.template if message.template in KINDS else "notice"  # type: ignore[assignment]
        text = to_plain(message.text).strip()
        if len(text) > self.variable_max:
            raise SendFailure(
                "rejected",
                f"the SMS text has {len(text)} characters; the template's variable holds at "
                f"most {self.variable_max} (SMS_VARIABLE_MAX)",
            )
        now = self.clock()
        hours = self.quiet.get(kind)
        if hours is not None and (wait := hours.wait(now.astimezone(self.tz))):
            raise SendFailure("later", f"{kind} SMS wait for the end of the quiet hours", wait=wait)
        if wait := await self._cap_wait(phone, now):
            raise SendFailure("later", "the number's SMS cap (SMS_PER_NUMBER_*)", wait=wait)
        try:
            message_id = await self.provider.send(phone, kind, text, str(message.row or ""))
        except RetryLater as exc:
            if exc.per_number:  # this number only: the others go on
                raise SendFailure("later", str(exc), wait=exc.retry_after) from None
            raise SendFailure("retry", str(exc), retry_after=exc.retry_after) from None
        except ChannelStopped as exc:
            if self.stopped in (None, "?"):
                self.stopped = exc.code
                await self.on_stopped(str(exc))
            raise SendFailure("retry", str(exc), retry_after=STOPPED_PROBE) from None
        except (BadNumber, MessageRefused) as exc:
            raise SendFailure("rejected", str(exc)) from None
        except Unreachable as exc:
            raise SendFailure("retry", str(exc)) from None
        except NoAnswer as exc:
            raise SendFailure("ambiguous", str(exc)) from None
        self.sent.setdefault(phone, deque()).append(now)
        self.last_send = now
        if self.stopped is not None:
            self.stopped = None
            await self.on_resumed()
        return message_id

    async def _cap_wait(self, phone: str, now: datetime) -> float:
        """Seconds until `phone` may get another text under the hourly and daily caps."""
        if self.seeded is None or (self.last_send or self.seeded) < now - RESEED_AFTER:
            # One read of the day's sends for all numbers: the first send here, or after a
            # pause in which another process may have held the channel.
            found = await self.history(now - DAY)
            self.sent = {p: deque(sorted(times)) for p, times in found.items()}
            self.seeded = now
        times = self.sent.setdefault(phone, deque())
        while times and times[0] <= now - DAY:
            times.popleft()
        waits = [0.0]
        if len(times) >= self.per_day:
            waits.append((times[-self.per_day] + DAY - now).total_seconds())
        recent = [t for t in times if t > now - HOUR]
        if len(recent) >= self.per_hour:
            waits.append((recent[-self.per_hour] + HOUR - now).total_seconds())
        return max(waits)

    def forget(self, now: datetime) -> None:
        """Drop numbers with no send in the last day (memory stays bounded)."""
        for phone in [p for p, t in self.sent.items() if not t or t[-1] <= now - DAY]:
            del self.sent[phone]
