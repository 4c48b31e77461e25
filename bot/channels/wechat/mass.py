"""The WeChat mass sender: the calls broadcasts planned for followers outside the window
(`tx.wechat_mass`), made one at a time, at most 60 a minute as WeChat allows. One process at
a time runs it (a lease); a call is claimed by a conditional update, and its clientmsgid
makes a retry after a lost answer harmless. WeChat reports the outcome later
(MASSSENDJOBFINISH).

A service account sends to OpenID lists; a subscription account sends its one call a day to
a topic's tag, after bringing the tag up to date with the subscriptions (`tags.TagSync`).
Under WeChat's API mass-send protection a call waits for an administrator to confirm it in
WeChat: asked again each minute, it fails when not confirmed within 30 minutes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from datetime import timedelta

from bot.channels.wechat.api import ApiError, NoAnswer, Unreachable, WechatApi
from bot.channels.wechat.sender import plain_mass_text
from bot.channels.wechat.tags import TagsGone, TagSync
from storage.database import Database
from storage.records import MassJob

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a call held longer belongs to a process that died
SENDER_LEASE = "wechat.mass"  # one process makes the account's mass-send calls at a time
DUPLICATE = 45065  # clientmsgid seen: an earlier try of this call went through
NO_QUOTA = 45028
RATE_LIMITED = frozenset({45009, 45011})
BUSY = -1
GIVE_UP_AFTER = 20  # attempts
# API mass-send protection: the call waits for an administrator (asked again each minute),
# who may refuse it; unconfirmed after 30 minutes it has failed.
AWAITING_ADMIN = frozenset({89503, 89504, 89505})
REFUSED_BY_ADMIN = frozenset({89506, 89507})
CONFIRM_WITHIN = timedelta(minutes=30)
WAITING = "waiting for an administrator to confirm it in WeChat (API mass-send protection)"
SYNC_EVERY = 60.0  # seconds between a subscription account's background tag syncs


class LeaseLost(Exception):
    """Another process makes the account's mass-send calls now."""


class MassSender:
    def __init__(
        self,
        api: WechatApi,
        db: Database,
        *,
        per_minute: int = 60,
        poll: float = 1.0,
        tags: bool = False,
    ) -> None:
        self.api = api
        self.db = db
        self.spacing = 60.0 / per_minute
        self.poll = poll
        self.wake = asyncio.Event()
        self._last_call = -float("inf")
        self.owner = f"wechat-mass-{os.getpid()}-{id(self):x}"
        # A subscription account's topic tags, kept in step while there is nothing to send.
        self.tags = TagSync(api, db, self._hold) if tags else None
        self._last_sync = -float("inf")

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._loop(stop)
        finally:  # another process may take over at once, not when the lease runs out
            with contextlib.suppress(Exception):
                async with self.db.write() as tx:
                    await tx.leases.release(SENDER_LEASE, self.owner)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.send_next()
                if not done:
                    await self._sync_now_and_then()
            except Exception:  # the database or a bug: logged, the loop goes on
                log.exception("wechat mass send: a call failed unexpectedly")
                done = False
            if not done:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    waiters = {asyncio.ensure_future(stop.wait()),
                               asyncio.ensure_future(self.wake.wait())}  # fmt: skip
                    try:
                        await asyncio.wait(waiters, timeout=self.poll,
                                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                    finally:
                        for waiter in waiters:
                            waiter.cancel()

    async def send_next(self) -> bool:
        """Make the oldest due call; False when there was none (or another process holds the
        sender's lease: WeChat's 60 calls a minute are the account's, not each process's)."""
        async with self.db.write() as tx:
            if not await tx.leases.acquire(SENDER_LEASE, self.owner, tx.now() + LEASE):
                return False
            job = await tx.wechat_mass.claim(LEASE)
        if job is None:
            return False
        await self._pace()
        await self._call(job)
        return True

    async def _hold(self) -> None:
        """The sender's lease renewed before an account call; LeaseLost when another process
        has it (so a long sync or a slow call never overlaps another sender's calls)."""
        async with self.db.write() as tx:
            if not await tx.leases.acquire(SENDER_LEASE, self.owner, tx.now() + LEASE):
                raise LeaseLost

    async def _sync_now_and_then(self) -> None:
        if self.tags is None or time.monotonic() - self._last_sync < SYNC_EVERY:
            return
        try:
            await self._hold()  # the sender's lease covers the tagging calls too
        except LeaseLost:
            return
        self._last_sync = time.monotonic()
        try:
            await self.tags.sync()
        except (ApiError, Unreachable, NoAnswer, TagsGone, LeaseLost) as exc:
            log.warning("wechat: tag sync stopped: %s; again in a minute", exc)

    async def _pace(self) -> None:
        wait = self._last_call + self.spacing - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_call = time.monotonic()

    async def _call(self, job: MassJob) -> None:
        openids = [chat.split(":", 1)[1] for chat in job.chats]
        if job.topic is None and len(openids) < 2:  # WeChat's rule for OpenID-list sends
            await self._fail(job, "WeChat mass sends need at least 2 followers")
            return
        text = plain_mass_text(job.text)
        try:
            if job.topic is None:
                answer = await self.api.mass_send(openids, text, job.clientmsgid)
            else:
                answer = await self._send_to_tag(job, text)
                if answer is None:
                    return
        except ApiError as exc:
            await self._refused(job, exc)
            return
        except (Unreachable, NoAnswer, TagsGone) as exc:  # the same clientmsgid next time
            await self._again(job, min(300.0, 5.0 * 2**job.attempts), str(exc))
            return
        except LeaseLost:  # another process sends now: the call is theirs to make
            async with self.db.write() as tx:
                await tx.wechat_mass.wait(job.id, tx.now(), "another process sends now")
            return
        msg_id = answer.get("msg_id")
        await self._accepted(job, str(msg_id) if msg_id is not None else None)

    async def _send_to_tag(self, job: MassJob, text: str) -> dict[str, object] | None:
        """The topic's tag brought up to date, then the day's call to it; None when the tag
        is not ready yet (the call waits a moment)."""
        assert self.tags is not None and job.topic is not None
        if not await self.tags.sync(frozenset({job.topic}), calls=50):
            async with self.db.write() as tx:  # not a failed try: tagging takes its time
                await tx.wechat_mass.wait(
                    job.id, tx.now() + timedelta(seconds=1), "tagging the topic's followers"
                )
            return None
        tag_id = await self.tags.tag_id(job.topic)
        await self._hold()
        return await self.api.mass_send_tag(tag_id, text, job.clientmsgid)

    async def _refused(self, job: MassJob, exc: ApiError) -> None:
        if exc.code == DUPLICATE:  # the earlier try went through; its msg_id is lost
            await self._accepted(job, None)
        elif exc.code in AWAITING_ADMIN:
            await self._awaiting_admin(job, exc)
        elif exc.code in REFUSED_BY_ADMIN:
            await self._fail(job, f"wechat {exc.code}: the administrator refused the mass send")
        elif exc.code in RATE_LIMITED or exc.code == BUSY:
            await self._again(job, 60.0, f"wechat {exc.code}")
        elif exc.code == NO_QUOTA:
            await self._fail(job, f"wechat {exc.code}: no mass-send quota left", keep_day=True)
        else:
            await self._fail(job, f"wechat {exc.code}: {exc.message}")

    async def _awaiting_admin(self, job: MassJob, exc: ApiError) -> None:
        async with self.db.write() as tx:
            now = tx.now()
            since = job.confirm_since or now
            if now - since < CONFIRM_WITHIN:
                await tx.wechat_mass.confirming(
                    job.id, now + timedelta(minutes=1), f"wechat {exc.code}: {WAITING}"
                )
                if job.confirm_since is None:
                    log.warning("wechat mass send %s: %s", job.clientmsgid, WAITING)
                return
        await self._fail(job, f"wechat {exc.code}: not confirmed within 30 minutes")

    async def _accepted(self, job: MassJob, msg_id: str | None) -> None:
        async with self.db.write() as tx:
            await tx.wechat_mass.accepted(job.id, msg_id)
        log.info("wechat mass send %s: %d followers, msg_id %s", job.clientmsgid,
                 len(job.chats), msg_id)  # fmt: skip

    async def _again(self, job: MassJob, seconds: float, why: str) -> None:
        if job.attempts >= GIVE_UP_AFTER:
            await self._fail(job, f"gave up after {job.attempts} tries: {why}")
            return
        async with self.db.write() as tx:
            await tx.wechat_mass.again(job.id, tx.now() + timedelta(seconds=seconds), why)

    async def _fail(self, job: MassJob, why: str, *, keep_day: bool = False) -> None:
        async with self.db.write() as tx:
            await tx.wechat_mass.failed(job.id, why, keep_day=keep_day)
        log.warning("wechat mass send %s failed: %s", job.clientmsgid, why)
