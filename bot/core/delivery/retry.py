"""What to do after a failed send: a pure function of the failure and the row's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


class SendFailure(Exception):
    """A platform refused or failed a send. `reason` decides what happens next:

    - retry: transient (outage, 5xx, 429 with `retry_after`); nothing arrived;
    - ambiguous: it may have arrived (a timeout after the request left);
    - blocked: the person blocked us; rejected: the platform will never take it;
    - markup: the platform refused the formatting (send it again as plain text);
    - not_editable: the message to replace is gone (send a new one instead);
    - moved: the chat has a new address (`moved_to`: a group became a supergroup);
    - later: not now for this message only (`wait` seconds: quiet hours, a number's daily
      cap); unlike `retry_after`, the channel goes on with other chats meanwhile.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        retry_after: float | None = None,
        moved_to: str | None = None,
        wait: float | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        self.moved_to = moved_to
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Decision:
    """`status` is final (sent is never decided here) or "retry" after `wait` seconds;
    `plain`/`fresh` change how the next try is made."""

    status: str
    wait: float = 0.0
    plain: bool = False
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 0.5  # first backoff, doubled per try
    max_backoff: float = 600.0
    give_up_after: timedelta = timedelta(days=2)
    max_uncertain: int = 3  # tries of a reply whose sends may each have arrived

    def backoff(self, tries: int) -> float:
        return min(self.base * 2 ** max(tries - 1, 0), self.max_backoff)

    def decide(self, failure: SendFailure, *, tries: int, age: timedelta, bulk: bool) -> Decision:
        """`tries`: platform calls made for this row so far, this one included."""
        reason = failure.reason
        if reason == "blocked":
            return Decision("blocked")
        if reason == "rejected":
            return Decision("failed")
        if reason == "markup":
            return Decision("retry", plain=True)
        if reason == "not_editable":
            return Decision("retry", fresh=True)
        if reason == "ambiguous":
            # A doubled answer beats silence for a person; a broadcast is never doubled.
            if bulk or tries >= self.max_uncertain:
                return Decision("ambiguous")
            return Decision("retry", wait=self.backoff(tries))
        if age > self.give_up_after:
            return Decision("failed")
        if reason == "later":
            return Decision("retry", wait=failure.wait or self.backoff(tries))
        wait = failure.retry_after if failure.retry_after is not None else self.backoff(tries)
        return Decision("retry", wait=wait)
