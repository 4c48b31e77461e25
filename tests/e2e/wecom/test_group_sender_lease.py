"""Advisors' group-message calls come from one process at a time: two processes, each its
own `Database` on one SQLite file, its own 客户联系 client and `GroupSender`, against the
fake WeCom API on virtual time. While one holds the `wecom.group` lease the other makes no
call; a clean stop hands the work over at once; a dead holder's lease is waited out, and a
task whose `add_msg_template` WeCom answered but the dead process never wrote down is not
asked for again (WeCom takes no key that would refuse a repeat): a second task would reach
the advisor twice."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.channels.wecom.contacts import ContactApi
from bot.channels.wecom.groups import LEASE, SENDER_LEASE, GroupSender
from storage.database import Database
from storage.records import GroupJob
from tests.e2e.wecom.conftest import CORP, KFID
from tests.fakes.clock import FakeTime
from tests.fakes.wecom_api import FakeWecomApi
from tests.support import eventually

pytestmark = pytest.mark.dated  # WeCom's per-client limit counts Beijing days and months

CONTACT_SECRET = "contactSecret0123456789abcdefghijklmn"
GROUP = "/cgi-bin/externalcontact/"
ADVISORS = ["zhangsan", "lisi", "wangwu"]
CLIENTS = {userid: [f"wm{userid}{i}XXXXXXXXXXXXXXXXXXXX" for i in range(2)] for userid in ADVISORS}


class Killed(BaseException):
    """The process is gone (SIGKILL): nothing after this point of it runs."""


class Corp:
    """What the processes share besides the database: who has a call in flight, and what
    went wrong (the sender's loop logs and swallows errors, so they are kept)."""

    def __init__(self) -> None:
        self.flying: set[str] = set()
        self.wrong: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.wrong.append(what)
            raise AssertionError(what)


class Process:
    """One bot process's group sender: each of its calls checks that it holds the lease and
    that no other process has a call in flight."""

    def __init__(self, name: str, url: str, clock: FakeTime, api: FakeWecomApi, corp: Corp):
        self.name = name
        self.db = Database(url, clock=clock)
        self.api = ContactApi(
            self.db, base=api.base_url, corp_id=CORP, secret=CONTACT_SECRET, kf_id=KFID,
            label="contact",
        )  # fmt: skip
        self.sender = GroupSender(self.api, self.db, lambda: None, poll=0.01)
        self.calls: list[str] = []  # the group-message calls this process made, by path
        self.tries = 0  # steps: looks for work, a call made or not
        self.dies_after = ""  # killed once WeCom answered the next call to this path
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        call, step = self.api.call, self.sender.step

        async def group_call(path: str, body: dict[str, Any]) -> dict[str, Any]:
            self.calls.append(path.removeprefix(GROUP))
            corp.check(await self.holds_lease(), f"{self.name} called {path} without the lease")
            corp.check(not corp.flying, f"{self.name} called {path} while {corp.flying} did")
            corp.flying.add(self.name)
            try:
                answer = await call(path, body)
            finally:
                corp.flying.discard(self.name)
            if self.dies_after and path.endswith(self.dies_after):
                raise Killed
            return answer

        async def counted_step() -> bool:
            self.tries += 1
            return await step()

        self.api.call = group_call  # type: ignore[method-assign]
        self.sender.step = counted_step  # type: ignore[method-assign]

    async def holds_lease(self) -> bool:
        async with self.db.read() as tx:
            return await tx.leases.holder(SENDER_LEASE) == self.sender.owner

    def run(self) -> None:
        self.task = asyncio.create_task(self.sender.run(self.stop))

    async def stop_cleanly(self) -> None:
        assert self.task is not None
        self.stop.set()
        await self.task

    async def close(self) -> None:
        if self.task is not None and not self.task.done():
            await self.stop_cleanly()
        await self.api.close()
        await self.db.close()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def wecom_api(clock: FakeTime) -> AsyncIterator[FakeWecomApi]:
    api = FakeWecomApi(CORP, {CONTACT_SECRET: ["contact"]}, open_kfids=(KFID,), clock=clock.epoch)
    for userid, clients in CLIENTS.items():
        for client in clients:
            api.add_contact(userid, client)
    async with api:
        yield api


@pytest.fixture
async def processes(
    db_url: str, clock: FakeTime, wecom_api: FakeWecomApi
) -> AsyncIterator[Callable[[str], Process]]:
    started: list[Process] = []
    corp = Corp()

    def start(name: str) -> Process:
        started.append(Process(name, db_url, clock, wecom_api, corp))
        return started[-1]

    yield start
    for process in started:
        await process.close()
    assert not corp.wrong


broadcasts = itertools.count(1)


async def plan(process: Process) -> int:
    """A push to every advisor's clients: one task per advisor, due now; the broadcast."""
    broadcast_id = next(broadcasts)
    async with process.db.write() as tx:
        chats = []
        for userid, clients in CLIENTS.items():
            for client in clients:
                chat = f"wecom:{client}"
                await tx.clients.get_or_create(
                    chat, language="zh", display_name=None, username=None
                )
                await tx.wecom_groups.contact_added(chat, userid)
                chats.append(chat)
        await tx.wecom_groups.plan(
            broadcast_id, f"早盘提示 {broadcast_id}", chats, timedelta(hours=12)
        )
    process.sender.wake.set()
    return broadcast_id


async def jobs(process: Process, broadcast_id: int) -> list[GroupJob]:
    async with process.db.read() as tx:
        return await tx.wecom_groups.of_broadcast(broadcast_id)


def tasks_by_advisor(api: FakeWecomApi) -> list[str]:
    """The advisors WeCom made a task for, one entry per task."""
    return sorted(userid for task in api.group_tasks for userid in task.tasks)


async def test_while_one_process_holds_the_lease_the_other_makes_no_call(
    processes: Callable[[str], Process], clock: FakeTime, wecom_api: FakeWecomApi
) -> None:
    a, b = processes("a"), processes("b")
    due = await plan(a)
    assert await a.sender.step()  # the first task; a holds the lease now
    for _ in range(3):
        assert not await b.sender.step(), "tasks are due, but a holds the lease"
    assert await a.sender.step() and await a.sender.step()
    assert not await a.sender.step()  # nothing due until the first check
    assert b.calls == [] and a.calls == ["add_msg_template"] * 3
    # A live sender keeps its lease by looking for work, however long it is idle.
    for _ in range(4):
        clock.advance(LEASE.total_seconds() * 3 / 4)
        assert not await b.sender.step()
        while await a.sender.step():  # the checks that fell due meanwhile
            pass
    assert b.calls == [] and "get_groupmsg_task" in a.calls
    wecom_api.confirm_all("zhangsan")
    clock.advance(minutes=1)
    while await a.sender.step():
        pass
    assert not await b.sender.step()
    assert "get_groupmsg_send_result" in a.calls and b.calls == []
    statuses = {j.userid: j.status for j in await jobs(b, due)}
    assert statuses == {"zhangsan": "done", "lisi": "waiting", "wangwu": "waiting"}
    assert tasks_by_advisor(wecom_api) == sorted(ADVISORS)


async def test_a_clean_stop_hands_the_work_to_the_other_process_at_once(
    processes: Callable[[str], Process], clock: FakeTime, wecom_api: FakeWecomApi
) -> None:
    a, b = processes("a"), processes("b")
    started = clock()
    a.run()
    await eventually(a.holds_lease, what="a to take the lease")
    b.run()
    first = await plan(a)
    await eventually(lambda: len(a.calls) == 3, what="a's tasks")
    tries = b.tries
    await eventually(lambda: b.tries >= tries + 5, what="b to look for work meanwhile")
    assert b.calls == []
    await a.stop_cleanly()  # the lease is given back: b need not wait for it to run out
    second = await plan(b)

    async def all_waiting() -> bool:
        found = await jobs(b, first) + await jobs(b, second)
        return {j.status for j in found} == {"waiting"}

    await eventually(all_waiting, what="b's tasks")
    assert await b.holds_lease() and clock() == started
    assert len(a.calls) == 3 and b.calls == ["add_msg_template"] * 3
    assert tasks_by_advisor(wecom_api) == sorted(ADVISORS * 2)


async def test_a_dead_holders_lease_is_waited_out_and_its_task_is_not_made_twice(
    processes: Callable[[str], Process], clock: FakeTime, wecom_api: FakeWecomApi
) -> None:
    a, b = processes("a"), processes("b")
    due = await plan(a)
    assert await a.sender.step()  # the first task, made and written down
    a.dies_after = "add_msg_template"
    with pytest.raises(Killed):  # WeCom makes the second; a dies before writing it down
        await a.sender.step()
    assert tasks_by_advisor(wecom_api) == ["lisi", "wangwu"]  # in the order of userids

    assert not await b.sender.step()
    clock.advance(LEASE.total_seconds() - 1)
    assert not await b.sender.step(), "a's lease has a second left"
    assert b.calls == []
    clock.advance(2)
    while await b.sender.step():
        pass
    assert await b.holds_lease()
    assert a.calls == ["add_msg_template"] * 2
    assert b.calls.count("add_msg_template") == 1  # zhangsan's; lisi's was checked on
    assert tasks_by_advisor(wecom_api) == sorted(ADVISORS), "a second task for one advisor"
    first, second, third = await jobs(b, due)
    assert (first.status, third.status) == ("waiting", "waiting")
    assert second.status == "failed" and "not made again" in (second.error or "")
    wecom_api.confirm_all("wangwu")  # the task a made still reaches the advisor's clients
    assert all(wecom_api.received(c) for c in CLIENTS["wangwu"])
