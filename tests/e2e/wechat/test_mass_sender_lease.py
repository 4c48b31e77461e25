"""The account's mass-send calls come from one process at a time (WeChat's 60 a minute are
the account's): two processes, each its own `Database` on one SQLite file, its own WeChat
client and `MassSender`, against the fake WeChat API. While one holds the sender's lease the
other makes no call; it takes over at once when the first stops cleanly, and when the first
dies, once its lease has run out (virtual time); and no call is carried out twice. A
subscription account's calls tagging the topics' followers go under the same lease."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.channels.wechat.api import WechatApi
from bot.channels.wechat.mass import LEASE, SENDER_LEASE, MassSender
from storage.database import Database
from storage.records import MassJob
from tests.e2e.wechat.conftest import APPID, SECRET
from tests.fakes.clock import FakeTime
from tests.fakes.wechat_api import FakeWechatApi, Interactions
from tests.support import eventually

MASS = "/cgi-bin/message/mass/"
MASS_SEND = MASS + "send"
TOPIC = "morning"
FOLLOWERS = [f"o_follower_{i:02d}_000000000000000000" for i in range(5)]
# The sender's pace is real time (60 a minute); here it is too fast to matter.
UNPACED = 600_000


class Killed(BaseException):
    """The process is gone (SIGKILL): nothing after this point of it runs."""


class Account:
    """What the processes share besides the database: which of them has a call in flight,
    and what went wrong (the sender's loop logs and swallows errors, so they are kept)."""

    def __init__(self) -> None:
        self.flying: set[str] = set()
        self.wrong: list[str] = []

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.wrong.append(what)
            raise AssertionError(what)


class Process:
    """What one bot process brings to mass sends: its own connection pool on the shared
    database, its own WeChat client and its own `MassSender`. Each of its calls checks that
    it holds the sender's lease and that no other process has a call in flight."""

    def __init__(
        self,
        name: str,
        url: str,
        clock: FakeTime,
        api: FakeWechatApi,
        account: Account,
        *,
        tags: bool = False,
    ) -> None:
        self.name = name
        self.db = Database(url, clock=clock)
        if tags:  # a subscription account: each topic's followers carry the topic's tag
            self.db.mass_topics, self.db.mass_kind = frozenset({TOPIC}), "tag"
        self.api = WechatApi(self.db, base=api.base_url, app_id=APPID, secret=SECRET)
        self.sender = MassSender(self.api, self.db, per_minute=UNPACED, poll=0.01, tags=tags)
        self.calls: list[str] = []  # mass sends' clientmsgids, in the order this process called
        self.tagging: list[str] = []  # its other calls for the account (tags)
        self.tries = 0  # looks for work (send_next), a call made or not
        self.answering = asyncio.Event()  # cleared: a call stays in flight until it is set
        self.answering.set()
        self.dies_after_call = False  # killed once WeChat took the next call, unanswered
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        call, look = self.api.call, self.sender.send_next

        async def account_call(path: str, body: dict[str, Any]) -> dict[str, Any]:
            """Every call made for the account (all but the token's), checked."""
            mass = path.startswith(MASS)
            (self.calls if mass else self.tagging).append(body["clientmsgid"] if mass else path)
            flying = account.flying
            account.check(await self.holds_lease(), f"{self.name} called {path} without the lease")
            account.check(not flying, f"{self.name} called {path} while {flying} had one in flight")
            flying.add(self.name)
            try:
                await self.answering.wait()
                answer = await call(path, body)
            finally:
                flying.discard(self.name)
            if mass and self.dies_after_call:
                raise Killed
            return answer

        async def send_next() -> bool:
            self.tries += 1
            return await look()

        self.api.call = account_call  # type: ignore[method-assign]
        self.sender.send_next = send_next  # type: ignore[method-assign]

    async def holds_lease(self) -> bool:
        async with self.db.read() as tx:
            return await tx.leases.holder(SENDER_LEASE) == self.sender.owner

    def run(self) -> None:
        """The process's sender loop, as the WeChat channel runs it."""
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
async def api(clock: FakeTime) -> AsyncIterator[FakeWechatApi]:
    """WeChat on the same virtual time (tokens, the 60 calls a minute)."""
    fake = FakeWechatApi(APPID, SECRET, interactions=Interactions(clock=clock.epoch))
    for openid in FOLLOWERS:
        fake.interactions.add_follower(openid)
    async with fake:
        yield fake


@pytest.fixture
async def processes(
    db_url: str, clock: FakeTime, api: FakeWechatApi
) -> AsyncIterator[Callable[..., Process]]:
    started: list[Process] = []
    account = Account()

    def start(name: str, *, tags: bool = False) -> Process:
        started.append(Process(name, db_url, clock, api, account, tags=tags))
        return started[-1]

    yield start
    for process in started:
        await process.close()
    assert not account.wrong


class Planner:
    """Broadcasts' mass-send calls, due now, as `tx.wechat_mass.plan` writes them."""

    def __init__(self) -> None:
        self.broadcasts = itertools.count(1)

    async def plan(self, process: Process, n: int) -> list[int]:
        """`n` calls (one broadcast each, to two followers); the broadcasts."""
        planned = []
        async with process.db.write() as tx:
            for _ in range(n):
                broadcast_id = next(self.broadcasts)
                chats = [f"wechat:{openid}" for openid in FOLLOWERS[:2]]
                await tx.wechat_mass.plan(broadcast_id, "zh", f"早盘提示 {broadcast_id}", chats)
                planned.append(broadcast_id)
        process.sender.wake.set()
        return planned


async def jobs(process: Process, broadcasts: list[int]) -> list[MassJob]:
    async with process.db.read() as tx:
        return [job for b in broadcasts for job in await tx.wechat_mass.of_broadcast(b)]


def taken_once(api: FakeWechatApi) -> list[str | None]:
    """The calls WeChat carried out, by clientmsgid; none twice (that is a second send)."""
    taken = [mass.clientmsgid for mass in api.mass_sends]
    assert len(taken) == len(set(taken)), f"a mass send carried out twice: {taken}"
    return taken


def called(api: FakeWechatApi) -> list[int | None]:
    """WeChat's answer to every mass-send call that reached it, in order."""
    return [c.errcode for c in api.calls if c.path == MASS_SEND]


def all_sent(process: Process, broadcasts: list[int]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await jobs(process, broadcasts)
        return len(found) == len(broadcasts) and all(j.status == "sent" for j in found)

    return check


async def clientmsgids(process: Process, broadcasts: list[int]) -> list[str]:
    return [job.clientmsgid for job in await jobs(process, broadcasts)]


async def test_while_one_process_holds_the_lease_the_other_makes_no_call(
    processes: Callable[..., Process], clock: FakeTime, api: FakeWechatApi
) -> None:
    a, b = processes("a"), processes("b")
    planner = Planner()
    due = await planner.plan(a, 3)
    assert await a.sender.send_next()
    for _ in range(3):
        assert not await b.sender.send_next(), "calls are due, but a holds the lease"
    assert await a.sender.send_next() and await a.sender.send_next()
    assert not await a.sender.send_next()  # nothing left
    assert a.calls == await clientmsgids(a, due) and b.calls == []

    # A live sender keeps its lease by looking for work, idle or not, however long.
    for _ in range(4):
        clock.advance(LEASE.total_seconds() * 3 / 4)
        assert not await b.sender.send_next()
        assert not await a.sender.send_next()
    later = await planner.plan(b, 1)
    assert not await b.sender.send_next()
    assert await a.sender.send_next()
    assert a.calls == await clientmsgids(a, due + later) and b.calls == []
    assert called(api) == [0, 0, 0, 0] and taken_once(api) == a.calls


async def test_a_clean_stop_hands_the_calls_to_the_other_process_at_once(
    processes: Callable[..., Process], clock: FakeTime, api: FakeWechatApi
) -> None:
    a, b = processes("a"), processes("b")
    planner = Planner()
    started = clock()
    a.run()
    await eventually(a.holds_lease, what="a to take the sender's lease")
    b.run()
    a.answering.clear()  # a's first call stays in flight a while; two more are due
    first = await planner.plan(a, 3)
    await eventually(lambda: a.calls, what="a's first call")
    tries = b.tries
    await eventually(lambda: b.tries >= tries + 5, what="b to look for work meanwhile")
    assert b.calls == [] and len(a.calls) == 1
    a.answering.set()
    await eventually(all_sent(a, first), what="a's calls")
    assert a.calls == await clientmsgids(a, first) and b.calls == []

    await a.stop_cleanly()  # the lease is given back: b need not wait for it to run out
    second = await planner.plan(b, 2)
    await eventually(all_sent(b, second), what="b's calls")
    assert b.calls == await clientmsgids(b, second) and len(a.calls) == 3
    assert await b.holds_lease()
    assert clock() == started, "taken over with no time passing, not on the lease's expiry"
    assert called(api) == [0] * 5 and taken_once(api) == a.calls + b.calls


async def test_when_the_holder_dies_the_other_waits_out_its_lease_and_sends_nothing_twice(
    processes: Callable[..., Process], clock: FakeTime, api: FakeWechatApi
) -> None:
    a, b = processes("a"), processes("b")
    due = await Planner().plan(a, 3)
    assert await a.sender.send_next()  # the first call, answered
    a.dies_after_call = True
    with pytest.raises(Killed):  # WeChat takes the second; a dies before hearing so
        await a.sender.send_next()
    first, second, third = await jobs(b, due)
    assert (first.status, second.status, third.status) == ("sent", "sending", "pending")

    assert not await b.sender.send_next()
    clock.advance(LEASE.total_seconds() - 1)
    assert not await b.sender.send_next(), "a's lease has a second left"
    assert b.calls == []
    clock.advance(2)
    assert await b.sender.send_next()  # a's cut-off call again, under its clientmsgid
    assert await b.sender.send_next()
    assert not await b.sender.send_next()
    assert await b.holds_lease()
    assert a.calls == [first.clientmsgid, second.clientmsgid]
    assert b.calls == [second.clientmsgid, third.clientmsgid]
    assert called(api) == [0, 0, 45065, 0], "WeChat refused the repeat as a duplicate"
    assert taken_once(api) == [first.clientmsgid, second.clientmsgid, third.clientmsgid]
    assert [j.status for j in await jobs(b, due)] == ["sent", "sent", "sent"]


async def subscribe(process: Process, openids: list[str]) -> None:
    async with process.db.write() as tx:
        for openid in openids:
            client, _ = await tx.clients.get_or_create(
                f"wechat:{openid}", language="zh", display_name=None, username=None
            )
            await tx.subscriptions.subscribe(client.id, TOPIC, channel="wechat", actor="t")


def tagged(api: FakeWechatApi) -> set[str]:
    return api.tagged(f"({TOPIC})") if api.tags else set()


async def plan_tag(process: Process, broadcast_id: int) -> str:
    """The day's call to the topic's tag, due now; its clientmsgid."""
    async with process.db.write() as tx:
        chats = [f"wechat:{openid}" for openid in FOLLOWERS]
        await tx.wechat_mass.plan_tag(broadcast_id, TOPIC, f"早盘提示 {broadcast_id}", chats)
        [job] = await tx.wechat_mass.of_broadcast(broadcast_id)
    process.sender.wake.set()
    return job.clientmsgid


async def test_a_subscription_accounts_tagging_goes_under_the_same_lease(
    processes: Callable[..., Process], clock: FakeTime, api: FakeWechatApi
) -> None:
    """Tagging the topic's followers (in the background, and before the day's send to the
    tag) is the account's calls too: made by the lease holder only, and after a clean stop
    by the other process."""
    api.account = "subscription"
    a, b = processes("a", tags=True), processes("b", tags=True)
    await subscribe(a, FOLLOWERS[:3])
    a.run()
    await eventually(lambda: tagged(api) == set(FOLLOWERS[:3]), what="a's background tagging")
    await subscribe(a, FOLLOWERS[3:4])  # a new subscriber: tagging to do when b starts
    b.run()
    tries = b.tries
    await eventually(lambda: b.tries >= tries + 5, what="b to look for work meanwhile")
    first = await plan_tag(a, 1)  # a tags the new subscriber first
    await eventually(lambda: api.mass_sends, what="a's send to the tag")
    assert sorted(api.mass_sends[0].sent) == FOLLOWERS[:4]
    assert a.calls == [first] and a.tagging and b.calls == b.tagging == []

    await a.stop_cleanly()
    made = len(a.tagging)
    clock.advance(days=1)  # the next day's one send
    await subscribe(b, FOLLOWERS[4:])
    second = await plan_tag(b, 2)
    await eventually(lambda: len(api.mass_sends) == 2, what="b's send to the tag")
    assert sorted(api.mass_sends[1].sent) == FOLLOWERS
    assert b.calls == [second] and b.tagging and len(a.tagging) == made
    assert taken_once(api) == [first, second]
