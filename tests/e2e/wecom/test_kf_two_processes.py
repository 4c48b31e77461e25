"""Two bot processes on one database serve one 微信客服 account: each may get WeCom's
callback and pull, and each may send. The welcome code one of them read reaches the other
through the database and is used once; pulls at the same moment record, handle and answer
every client message once, and the stored cursor never moves back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa

from bot.channels.wecom.channel import WecomChannel
from bot.core.types import Inbound
from storage.schema import messages as m
from tests.e2e.wecom.conftest import KFID, WecomBot
from tests.support import eventually

BOB = "wmBobBBBBBBBBBBBBB"
CLIENTS = [f"wmClient{i:02d}CCCCCCCCCCCCCCCCCCCCC" for i in range(6)]
CURSOR = f"wecom.kf.cursor.{KFID}"

Make = Callable[..., Awaitable[WecomBot]]


def channel(bot: WecomBot) -> WecomChannel:
    return next(c for c in bot.channels if c.name == "wecom")  # type: ignore[return-value]


async def two(make_wecom: Make) -> tuple[WecomBot, WecomBot]:
    """Two processes, each past the read it makes when it starts."""
    a, b = await make_wecom(), await make_wecom()
    await eventually(lambda: a.api.syncs >= 2, what="the reads at start")
    await channel(a).sync.pull()
    await channel(b).sync.pull()
    return a, b


async def stored_cursor(bot: WecomBot) -> str | None:
    async with bot.app.db.read() as tx:
        return await tx.meta.get(CURSOR)


async def inbound(bot: WecomBot) -> list[Any]:
    async with bot.app.db.read() as tx:
        query = sa.select(m.c.platform_id, m.c.status).where(
            m.c.direction == "in", m.c.channel == "wecom"
        )
        return list(await tx.conn.execute(query))


async def test_the_process_that_did_not_read_the_event_sends_the_welcome_with_its_code(
    make_wecom: Make,
) -> None:
    a, b = await two(make_wecom)
    dropped: list[tuple[int, Inbound]] = []

    def dies_before_handling(message_id: int, event: Inbound, **_: Any) -> None:
        dropped.append((message_id, event))  # recorded by a, which is gone before handling

    a.app.inbox.submit = dies_before_handling  # type: ignore[method-assign,assignment]
    code = a.api.client_enters(BOB, scene="site")
    assert code is not None
    await channel(a).sync.pull(a.api.callback_token())
    assert [event.text for _, event in dropped] == ["/start"]
    assert a.api.sent == []

    b.app.inbox.tenure.dead = (a.app.delivery.owner,)  # b learns a is gone: takes its events
    assert await b.app.inbox.recover() == 1
    await b.settled()
    [welcome] = [s for s in b.api.sent if s.touser == BOB]
    assert welcome.via == "send_msg_on_event"  # with the code a read, which b found
    assert welcome.menu is not None and "国瑞投资" in welcome.menu["head_content"]
    async with b.app.db.read() as tx:  # used once: nothing left for another sender
        assert await tx.wecom_kf.take(f"wecom:{BOB}") is None


async def test_two_processes_pulling_at_once_answer_every_message_once(
    make_wecom: Make,
) -> None:
    a, b = await two(make_wecom)
    a.api.page_cap = 2  # three pages each: the two pulls interleave
    for user in CLIENTS:
        a.api.client_says(user, "订阅早盘")
    token = a.api.callback_token()
    await asyncio.gather(channel(a).sync.pull(token), channel(b).sync.pull(token))
    await a.settled()
    await b.settled()
    rows = await inbound(a)
    assert len(rows) == len(CLIENTS) == len({r.platform_id for r in rows})
    assert {r.status for r in rows} == {"handled"}
    for user in CLIENTS:
        assert len(a.api.texts(user)) == 1, f"{user} answered {a.api.texts(user)}"
    assert a.api.cursor_position(await stored_cursor(a)) == len(CLIENTS)


async def test_a_pull_that_falls_behind_does_not_move_the_cursor_back(
    make_wecom: Make,
) -> None:
    """b reads page 1, then waits while a reads everything; b's page-1 cursor must not
    replace a's: the next pull would read pages 2 and 3 again."""
    a, b = await two(make_wecom)
    a.api.page_cap = 2
    for user in CLIENTS:
        a.api.client_says(user, "订阅早盘")
    b_api = channel(b).api
    first_page_read, a_done = asyncio.Event(), asyncio.Event()
    read = b_api.sync_msg
    pages = 0

    async def slow_sync_msg(*args: Any, **kwargs: Any) -> Any:
        nonlocal pages
        page = await read(*args, **kwargs)
        pages += 1
        if pages == 1:
            first_page_read.set()
            await a_done.wait()  # b's answer for page 1 arrives after a read everything
        return page

    b_api.sync_msg = slow_sync_msg  # type: ignore[method-assign]
    token = a.api.callback_token()
    b_pull = asyncio.create_task(channel(b).sync.pull(token))
    await first_page_read.wait()
    try:
        assert await channel(a).sync.pull(token) == len(CLIENTS)  # all three pages
    finally:
        a_done.set()
    end = a.api.cursor_position(await stored_cursor(a))
    assert end == len(CLIENTS)
    assert await b_pull == 0  # page 1 was recorded by a meanwhile
    assert a.api.cursor_position(await stored_cursor(a)) == end, "the cursor moved back"
    assert pages == 2  # b went on from a's cursor: one empty page, nothing read again
    syncs = a.api.syncs
    await channel(a).sync.pull(token)
    assert a.api.syncs == syncs + 1  # the next pull reads from the end
    await eventually(lambda: all(len(a.api.texts(u)) == 1 for u in CLIENTS), what="replies")
    await a.settled()
    await b.settled()
    assert all(len(a.api.texts(u)) == 1 for u in CLIENTS)
