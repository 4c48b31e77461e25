"""The mail outbox's worker: sends what jobs queued (the monthly report), one row at a time
under a lease, so several processes share the table and a crash loses nothing.

A failed row waits and is tried again (a minute, then doubling up to an hour) for up to
three days; staff hear of it once when it first fails, and again only if it is given up."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.core.failures import log_failure
from bot.core.i18n import Translator
from bot.core.timer import Timer
from bot.core.types import Outbound
from bot.mail.message import Attachment, compose
from bot.mail.smtp import Mailer, MailError
from storage.database import Database
from storage.repos.mail import Mail
from storage.tx import Tx

log = logging.getLogger(__name__)

Enqueue = Callable[[Tx, list[Outbound]], Awaitable[list[int]]]

FIRST_RETRY = 60.0
MAX_RETRY = 3600.0
GIVE_UP = dt.timedelta(days=3)
POLL_SECONDS = 60.0  # another process's rows, and retries that came due


def retry_delay(tries: int) -> float:
    """Seconds before the next try after `tries` failed ones."""
    return min(FIRST_RETRY * 2 ** max(tries - 1, 0), MAX_RETRY)


class MailOutbox:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        sender: tuple[str, str],
        *,
        t: Translator,
        staff: Sequence[str],
        enqueue: Enqueue,
        notify: Callable[[], None],
        owner: str,
        timer: Timer,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.sender = sender
        self.t = t
        self.staff = tuple(staff)
        self.enqueue = enqueue  # staff notices as outbox rows, in our transaction
        self.notify = notify  # wake the delivery workers after that commit
        self.owner = owner
        self.timer = timer
        # Long enough for every try one send makes (connect, each answer) and the pauses.
        s = mailer.settings
        self.lease = dt.timedelta(seconds=max(300.0, 4 * s.timeout_seconds * mailer.attempts))
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A row was queued (by this process): look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.run_once()
            except Exception as exc:
                log_failure(log, exc, "the mail outbox could not be read; trying again soon")
            await self.timer.wait(self._wake, self.timer.now() + POLL_SECONDS)

    async def run_once(self) -> int:
        """Send every due row this process could claim; how many were tried."""
        tried = 0
        while True:
            async with self.db.write() as tx:
                rows = await tx.mail.claim(self.owner, self.db.clock() + self.lease)
            if not rows:
                return tried
            for row in rows:
                await self._send(row)
            tried += len(rows)

    async def _send(self, row: Mail) -> None:
        files = [Attachment.of(f) for f in row.attachments]
        message = compose(
            self.sender, row.recipients, row.subject, row.body, files, now=self.db.clock()
        )
        try:
            refused = await self.mailer.send(message)
        except MailError as exc:
            await self._failed(row, exc)
            return
        note = f"refused for {', '.join(refused)}" if refused else None
        async with self.db.write() as tx:
            await tx.mail.sent(row.id, self.owner, note)

    async def _failed(self, row: Mail, exc: MailError) -> None:
        now = self.db.clock()
        tries = row.tries + 1
        give_up = now - row.created_at >= GIVE_UP
        retry_at = None if give_up else now + dt.timedelta(seconds=retry_delay(tries))
        if give_up:
            log.error("mail %r given up after %d tries: %s", row.subject, tries, exc.detail)
        else:
            log.error(
                "mail %r not sent (try %d), again at %s: %s",
                row.subject,
                tries,
                retry_at,
                exc.detail,
            )
        to = ", ".join(row.recipients)
        async with self.db.write() as tx:
            first = await tx.mail.failed(row.id, self.owner, exc.detail, retry_at)
            key = "mail.given_up" if give_up else "mail.failed" if first else None
            notices = [
                Outbound(self.t(key, subject=row.subject, to=to, error=exc.detail), chat=chat)
                for chat in (self.staff if key else ())
            ]
            await self.enqueue(tx, notices)
        if notices:
            self.notify()
