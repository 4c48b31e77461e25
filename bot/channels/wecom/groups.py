"""Advisors' group messages (客户联系): the pushes planned for WeCom clients outside the
window (`tx.wecom_groups`). One process at a time (a lease) creates each advisor's task
(`add_msg_template`); the advisor confirms it in the WeCom app; the results
(`get_groupmsg_task`, `get_groupmsg_send_result`) say who got it. A task not confirmed in
time is stopped (`cancel_groupmsg_send`, so a late confirmation sends nothing) and its
clients are tried on another route.

`add_msg_template` takes no key that would let WeCom refuse a repeat, so a task is asked for
at most once: when the answer is lost, or the process asking dies before writing it down
(another process finds the task `sending` once its lease ran out), the task may exist at
WeCom unknown to us. It is then not asked for again nor sent another way: its clients'
rows become `ambiguous` (reported), and the advisor may still confirm the unknown task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import timedelta

from bot.channels.wecom.api import ApiError, NoAnswer, Unreachable
from bot.channels.wecom.contacts import ContactApi
from bot.channels.wecom.convert import address
from storage.database import Database
from storage.records import GroupJob

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
SENDER_LEASE = "wecom.group"
DISPATCHING = 41063  # results asked for too soon after the task was made
NOBODY = 41048  # none of the clients is the advisor's contact
SENT = 2  # an advisor's task: sent


class GroupSender:
    def __init__(
        self,
        api: ContactApi,
        db: Database,
        notify: Callable[[], None],
        *,
        poll: float = 1.0,
        check_every: timedelta = timedelta(minutes=1),
    ) -> None:
        self.api = api
        self.db = db
        self.notify = notify  # rows were written for another route: the senders look
        self.poll = poll
        self.check_every = check_every
        self.wake = asyncio.Event()
        self.owner = f"wecom-group-{os.getpid()}-{id(self):x}"

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    done = await self.step()
                except Exception:  # the database or a bug: logged, the loop goes on
                    log.exception("wecom group messages: a step failed unexpectedly")
                    done = False
                if not done:
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self.poll)
        finally:
            with contextlib.suppress(Exception):
                async with self.db.write() as tx:
                    await tx.leases.release(SENDER_LEASE, self.owner)

    async def step(self) -> bool:
        """Create or ask about one task; False when there was nothing to do."""
        async with self.db.write() as tx:
            if not await tx.leases.acquire(SENDER_LEASE, self.owner, tx.now() + LEASE):
                return False
            job = await tx.wecom_groups.claim(LEASE)
        if job is None:
            return False
        if job.status == "waiting":
            await self._check(job)
        elif job.status == "sending":  # its creator died mid-call: WeCom may have made it
            await self._unknown(job, "the process making the task stopped; not made again")
        else:
            await self._create(job)
        return True

    async def _create(self, job: GroupJob) -> None:
        users = [chat.split(":", 1)[1] for chat in job.chats]
        try:
            answer = await self.api.add_msg_template(job.userid, users, job.text)
        except ApiError as exc:
            if exc.code == NOBODY:
                async with self.db.write() as tx:
                    await tx.wecom_groups.settled(job, {chat: 2 for chat in job.chats})
                return
            await self._failed(job, f"wecom {exc.code}: {exc.message}", reroute=True)
            return
        except Unreachable as exc:
            async with self.db.write() as tx:
                later = tx.now() + timedelta(seconds=min(300, 5 * 2**job.attempts))
                await tx.wecom_groups.again(job, later, str(exc))
            return
        except NoAnswer as exc:  # the task may exist: never a second one, nor another route
            await self._unknown(job, f"no answer, not tried again ({exc})")
            return
        refused = [address(u) for u in answer.get("fail_list") or [] if isinstance(u, str)]
        async with self.db.write() as tx:
            await tx.wecom_groups.created(
                job, str(answer.get("msgid") or ""), refused, tx.now() + self.check_every
            )
        log.info("wecom: group message for %d clients waits for %s", len(users), job.userid)

    async def _check(self, job: GroupJob) -> None:
        assert job.msgid is not None
        try:
            tasks = await self.api.group_tasks(job.msgid)
            mine = next((t for t in tasks if t.get("userid") == job.userid), None)
            if mine is not None and mine.get("status") == SENT:
                results = await self.api.group_results(job.msgid, job.userid)
                outcome = {
                    address(str(r.get("external_userid"))): int(r.get("status") or 0)
                    for r in results
                }
                async with self.db.write() as tx:
                    await tx.wecom_groups.settled(job, outcome)
                return
            async with self.db.read() as tx:
                now = tx.now()
            if now >= job.confirm_by:
                await self.api.cancel_group(job.msgid)
                async with self.db.write() as tx:
                    ids = await tx.wecom_groups.expired(job)
                    rerouted = await tx.reroute.reroute(ids)
                log.warning("wecom: %s did not confirm a group message in time", job.userid)
                if rerouted:
                    self.notify()
                return
        except (ApiError, Unreachable, NoAnswer) as exc:
            code = exc.code if isinstance(exc, ApiError) else None
            if code != DISPATCHING:
                log.warning("wecom: asking about a group message failed: %s", exc)
        async with self.db.write() as tx:
            await tx.wecom_groups.check_later(job, tx.now() + self.check_every)

    async def _failed(self, job: GroupJob, why: str, *, reroute: bool) -> None:
        async with self.db.write() as tx:
            ids = await tx.wecom_groups.failed(job, why)
            rerouted = await tx.reroute.reroute(ids) if reroute else []
        log.warning("wecom: group message for %s failed: %s", job.userid, why)
        if rerouted:
            self.notify()

    async def _unknown(self, job: GroupJob, why: str) -> None:
        async with self.db.write() as tx:
            await tx.wecom_groups.unknown(job, why)
        log.warning("wecom: group message for %s may exist at WeCom: %s", job.userid, why)
