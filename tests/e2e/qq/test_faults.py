"""QQ faults and bad input: wrong tokens, a second connection for the account, the socket
dropped mid-broadcast, actions that never answer or fail, malformed and huge frames,
unknown events, a silent socket, and echo correlation under 1,000 concurrent actions."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.channels.qq import channel as qq_channel
from bot.channels.qq import sender as qq_sender
from bot.cli.clients import _import
from bot.core.types import Outbound
from broadcasts import lifecycle
from storage.schema import messages as m
from tests.e2e.qq.conftest import ADMIN, TOKEN, QQBot
from tests.fakes.onebot import FakeOneBot, ForwardServer
from tests.support import eventually

MakeQQ = Callable[..., Awaitable[QQBot]]


def hub(bot: QQBot):  # type: ignore[no-untyped-def]
    return bot.channels[0].hub  # type: ignore[attr-defined]


async def notices(bot: QQBot, outs: list[Outbound]) -> list[int]:
    async with bot.app.db.write() as tx:
        ids = await bot.app.delivery.enqueue(tx, outs)
    bot.app.delivery.notify()
    return ids


async def statuses(bot: QQBot, ids: list[int]) -> list[str]:
    async with bot.app.db.read() as tx:
        rows = await tx.conn.execute(m.select().where(m.c.id.in_(ids)).order_by(m.c.id))
        return [r.status for r in rows]


async def final(bot: QQBot, ids: list[int], timeout: float = 20) -> list[str]:
    async def done() -> list[str] | None:
        got = await statuses(bot, ids)
        return got if all(s not in ("pending", "queued", "sending") for s in got) else None

    return await eventually(done, timeout=timeout, what="the rows to be final")  # type: ignore[no-any-return]


async def test_wrong_or_missing_token_and_no_account_are_refused(make_qq: MakeQQ) -> None:
    bot = await make_qq(connect=False)
    for token in ("wrong", ""):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await FakeOneBot(token=token).connect(bot.url)
        assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
        await FakeOneBot(token=TOKEN).connect(bot.url, self_id="not-a-number")
    assert anonymous.value.status == 400
    assert hub(bot).api() is None
    await bot.onebot.connect(bot.url, query_token=True)
    await eventually(lambda: hub(bot).api() is not None, what="the query token to work")


async def test_a_new_connection_replaces_the_stale_one(qq: QQBot) -> None:
    first = qq.onebot
    second = FakeOneBot(token=TOKEN)
    await second.connect(qq.url)
    await asyncio.wait_for(first.closed.wait(), 5)
    qq.onebot = second
    assert await qq.say("/start"), "answers now go over the new connection"
    await second.close()


async def test_the_socket_dropped_mid_broadcast_loses_nothing(
    make_qq: MakeQQ, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(qq_channel, "GAP_WORTH_TELLING", 0.0)
    # Rows cut off wait this long for the link; ours is back in half a second, and the
    # default (5 s) would only make the test wait.
    monkeypatch.setattr(qq_sender, "RECONNECT_WAIT", 0.5)
    bot = await make_qq(ONEBOT_PRIVATE_RATE="5")
    listing = tmp_path / "clients.csv"
    people = [30000 + i for i in range(12)]
    listing.write_text("address,name,topics\n" + "".join(f"qq:{p},客户{p},news\n" for p in people))
    await _import(bot.app.db, bot.settings, listing, "utf-8")
    async with bot.app.db.write() as tx:
        plan = await lifecycle.plan(tx, bot.app.translator, author=f"qq:{ADMIN}",
                                  text="午间资讯", topics=["news"])  # fmt: skip
        cast = await lifecycle.create(tx, plan, author=f"qq:{ADMIN}", send_at=tx.now())
    bot.app.delivery.notify()
    await eventually(lambda: len(bot.onebot.sent) >= 3, what="some to go out")
    await bot.onebot.drop()
    await asyncio.sleep(0.5)
    await bot.onebot.connect(bot.url)

    async def counts() -> dict[str, int] | None:
        async with bot.app.db.read() as tx:
            got = await tx.broadcasts.counts(cast.id)
        return got if sum(got.get(k, 0) for k in ("sent", "ambiguous")) == 12 else None

    got = await eventually(counts, timeout=30, what="every row final")
    delivered = [s.target for s in bot.onebot.sent if s.target in people]
    assert len(delivered) == len(set(delivered)), "nothing of a broadcast is sent twice"
    assert len(set(people) - set(delivered)) <= got.get("ambiguous", 0), (
        "every one arrived, but for those whose answer was cut off (and those are counted)"
    )
    await eventually(lambda: any("断开" in t for t in bot.onebot.texts(ADMIN)), what="staff told")


async def test_an_action_that_never_answers_is_ambiguous_and_a_failure_is_failed(
    make_qq: MakeQQ,
) -> None:
    bot = await make_qq(ONEBOT_ACTION_TIMEOUT_SECONDS="1")
    bot.onebot.silent = True
    [row] = await notices(bot, [Outbound("一", chat="qq:40001")])
    assert await final(bot, [row], timeout=30) == ["ambiguous"]
    bot.onebot.silent, bot.onebot.fail_with = False, 100
    [row] = await notices(bot, [Outbound("二", chat="qq:40002")])
    assert await final(bot, [row]) == ["failed"]


async def test_malformed_and_huge_frames_and_unknown_events(qq: QQBot) -> None:
    await qq.onebot.push_raw("{not json")
    await qq.onebot.push_raw("[1, 2, 3]")
    await qq.onebot.push(qq.onebot._base("notice") | {"notice_type": "group_upload"})
    await qq.onebot.push(qq.onebot._base("something_new") | {"x": 1})
    assert await qq.say("/start"), "the connection still works"
    with contextlib.suppress(aiohttp.ClientError, ConnectionError):  # cut off mid-frame
        await qq.onebot.push_raw("x" * (10 << 20))
    await asyncio.wait_for(qq.onebot.closed.wait(), 10)  # the bot closes it: too big
    await qq.onebot.connect(qq.url)
    assert await qq.say("/help"), "and a new one is taken"


async def test_a_silent_connection_is_treated_as_gone(make_qq: MakeQQ) -> None:
    bot = await make_qq(ONEBOT_HEARTBEAT_TIMEOUT_SECONDS="1")
    await eventually(lambda: hub(bot).api() is None, timeout=5, what="the link dropped")
    await bot.onebot.connect(bot.url)
    for _ in range(3):  # heartbeats keep it
        await bot.onebot.push(bot.onebot.heartbeat(500))
        await asyncio.sleep(0.4)
    assert hub(bot).api() is not None


async def test_echo_correlation_under_a_thousand_concurrent_actions(qq: QQBot) -> None:
    qq.onebot.answer_delay = 0.2  # answers come back in a random order
    link = hub(qq).api()
    users = random.Random(7).sample(range(100_000, 999_999), 1000)
    answers = await asyncio.gather(
        *(link.call("get_stranger_info", {"user_id": u}, 20) for u in users)
    )
    assert [a["data"]["user_id"] for a in answers] == users


async def test_friend_requests_follow_the_setting(make_qq: MakeQQ) -> None:
    asking = await make_qq()
    await asking.onebot.push(asking.onebot.friend_request(50001, "想咨询开户"))
    await eventually(lambda: any("好友申请" in t for t in asking.onebot.texts(ADMIN)),
                     what="staff asked")  # fmt: skip
    accepting = await make_qq(ONEBOT_FRIEND_REQUESTS="accept")
    await accepting.onebot.push(accepting.onebot.friend_request(50002))
    await eventually(
        lambda: any(a.get("action") == "set_friend_add_request" for a in accepting.onebot.actions),
        what="the request accepted",
    )


async def test_forward_mode_connects_out_and_reconnects(make_qq: MakeQQ) -> None:
    fake = FakeOneBot(token=TOKEN)
    server = ForwardServer(fake, token=TOKEN)
    await server.start()
    try:
        bot = await make_qq(connect=False, ONEBOT_MODE="forward", ONEBOT_WS_URL=server.url)
        bot.onebot = fake
        await eventually(lambda: hub(bot).api() is not None, what="the bot to connect")
        assert await bot.say("/start")
        await fake.drop()
        await eventually(lambda: server.connections >= 2, timeout=10, what="a reconnect")
        await eventually(lambda: hub(bot).api() is not None, what="connected again")
        assert await bot.say("/help")
    finally:
        await server.stop()


async def test_group_messages_go_out_in_order_paced_as_configured(make_qq: MakeQQ) -> None:
    """The spacing itself is checked in virtual time (tests/unit/delivery/
    test_group_messages_keep_their_distance_with_jitter.py); here, that the settings reach
    the group sender and that every message arrives, in order."""
    bot = await make_qq(
        fast=False, ONEBOT_GROUP_INTERVAL_SECONDS="0.3", ONEBOT_GROUP_JITTER_SECONDS="0.2"
    )
    [groups] = [s for s in bot.channels[0].senders if s.channel == "qqgroup"]
    assert (groups.limits.group_interval, groups.limits.group_jitter) == (0.3, 0.2)
    ids = await notices(bot, [Outbound(f"群通知 {i}", chat=f"qqgroup:{800 + i % 2}")
                              for i in range(6)])  # fmt: skip
    assert await final(bot, ids) == ["sent"] * 6
    arrived = sorted(bot.onebot.sent, key=lambda s: s.at)
    assert [s.text for s in arrived] == [f"群通知 {i}" for i in range(6)]
    assert [s.target for s in arrived] == [800 + i % 2 for i in range(6)]


async def test_accepting_a_friend_request_does_not_hold_up_the_socket(
    make_qq: MakeQQ, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_qq(ONEBOT_FRIEND_REQUESTS="accept", ONEBOT_ACTION_TIMEOUT_SECONDS="2")
    await bot.onebot.push(bot.onebot.friend_request(50003))
    assert await bot.say("/start"), "answers keep flowing"
    await eventually(
        lambda: any(a.get("action") == "set_friend_add_request" for a in bot.onebot.actions),
        what="the request accepted",
    )
    await asyncio.sleep(0.3)
    assert "could not accept" not in caplog.text, "its answer was read, not waited out"


async def test_the_same_message_id_from_two_chats_is_two_messages(qq: QQBot) -> None:
    await qq.onebot.push(qq.onebot.private(21001, "/start", message_id=777))
    await qq.onebot.push(qq.onebot.private(21002, "/start", message_id=777))
    await eventually(lambda: qq.onebot.texts(21001) and qq.onebot.texts(21002),
                     what="both answered")  # fmt: skip
