"""A subscription account (订阅号) reaches followers outside the window by its one mass send
a day, to the topic's WeChat tag: the tags follow the subscriptions (tagged on subscribing,
untagged on unsubscribing), the tag's followers get that send and nothing else for the push,
a second push the same day is told the day is used, and under API mass-send protection the
call waits, visibly, for an administrator to confirm it."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from broadcasts import lifecycle
from storage.schema import messages as m
from storage.schema import wechat_mass_days, wechat_mass_jobs, wechat_windows
from tests.e2e.wechat.conftest import ALICE, WechatBot
from tests.fakes.wechat_api import FakeWechatApi
from tests.support import eventually

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

BOB = "o_bob_00000000000000000000000"
CAROL = "o_carol_000000000000000000000"
DAVE = "o_dave_0000000000000000000000"


@pytest.fixture
async def bot(make_wechat: object, wechat_api: FakeWechatApi) -> WechatBot:
    wechat_api.account = "subscription"
    made: WechatBot = await make_wechat(  # type: ignore[operator]
        safe=False, BOT_ADMINS=f"wechat:{ALICE}", WECHAT_ACCOUNT_TYPE="subscription"
    )
    for openid in (ALICE, BOB, CAROL):
        await made.say("订阅早盘", openid)
    await made.say("订阅晚盘", DAVE)
    async with made.app.db.write() as tx:  # only Alice wrote within the last 48 hours
        await tx.conn.execute(
            wechat_windows.update()
            .where(wechat_windows.c.chat != f"wechat:{ALICE}")
            .values(until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
    return made


def sender_of(bot: WechatBot) -> object:
    [channel] = [c for c in bot.channels if hasattr(c, "mass")]
    return channel.mass  # type: ignore[attr-defined]


async def plan_note(bot: WechatBot, text: str) -> lifecycle.Plan:
    async with bot.app.db.read() as tx:
        return await lifecycle.plan(
            tx, bot.app.translator, author=f"wechat:{ALICE}", text=text, topics=["morning"]
        )


async def send_note(bot: WechatBot, text: str) -> int:
    async with bot.app.db.write() as tx:
        plan = await lifecycle.plan(
            tx, bot.app.translator, author=f"wechat:{ALICE}", text=text, topics=["morning"]
        )
        created = await lifecycle.create(tx, plan, author=f"wechat:{ALICE}", send_at=tx.now())
    bot.app.delivery.notify()
    return created.id


async def rows_of(bot: WechatBot, broadcast_id: int) -> dict[str, tuple[str, str | None]]:
    async with bot.app.db.read() as tx:
        query = m.select().where(m.c.broadcast_id == broadcast_id)
        return {r.chat: (r.status, r.error) for r in await tx.conn.execute(query)}


async def job_state(bot: WechatBot, broadcast_id: int, state: str) -> object:
    async def reached() -> object | None:
        async with bot.app.db.read() as tx:
            jobs = await tx.wechat_mass.of_broadcast(broadcast_id)
        return jobs[0] if jobs and jobs[0].status == state else None

    return await eventually(reached, timeout=20, what=f"the mass send to be {state}")


async def ask_again_now(bot: WechatBot) -> None:
    """A call held for an administrator is asked about again a minute later: now, here."""
    async with bot.app.db.write() as tx:
        await tx.conn.execute(wechat_mass_jobs.update().values(next_attempt_at=None))
    sender_of(bot).wake.set()  # type: ignore[attr-defined]


async def test_the_days_one_mass_send_goes_to_the_topics_tag_and_a_second_is_refused(
    bot: WechatBot,
) -> None:
    assert await sender_of(bot).tags.sync()  # type: ignore[attr-defined]
    assert bot.api.tagged("(morning)") == {ALICE, BOB, CAROL}
    assert bot.api.tagged("(evening)") == {DAVE}
    plan = await plan_note(bot, "早盘提示:黄金震荡,注意仓位。")
    assert plan.audience["wechat_mass"] == "tag"
    # Alice is inside her window, but she has the tag: the tag's send is her copy.
    assert plan.reach == {"wechat.mass": 3}
    assert "订阅号今天唯一的一次" in plan.routes(bot.app.translator)

    first = await send_note(bot, "早盘提示:黄金震荡,注意仓位。")
    await job_state(bot, first, "sent")
    [mass] = bot.api.mass_sends
    assert mass.tag_id is not None and sorted(mass.sent) == sorted([ALICE, BOB, CAROL])
    assert "早盘提示" in mass.content and "风险" in mass.content
    await bot.settled()
    assert not any("早盘提示" in (t or "") for t in bot.api.texts(ALICE))  # nothing twice
    assert {s for s, _ in (await rows_of(bot, first)).values()} == {"mass"}

    later = await plan_note(bot, "早盘补充:关注美元指数。")
    assert later.reach == {"wechat.window": 1, "wechat.day": 2}
    assert f"今天的群发已用于 #{first}" in later.routes(bot.app.translator)
    second = await send_note(bot, "早盘补充:关注美元指数。")
    await bot.settled()
    rows = await rows_of(bot, second)
    assert rows[f"wechat:{ALICE}"][0] == "sent"  # inside her window: as usual
    assert rows[f"wechat:{BOB}"][0] == "failed" and "今日群发已用" in rows[f"wechat:{BOB}"][1]
    assert len(bot.api.mass_sends) == 1
    async with bot.app.db.read() as tx:
        assert await tx.broadcasts.unreached(second) == {"wechat": {"day": 2}}


async def test_unsubscribing_and_unfollowing_take_the_tag_off(bot: WechatBot) -> None:
    sender = sender_of(bot)
    assert await sender.tags.sync()  # type: ignore[attr-defined]
    await bot.say("退订早盘", BOB)
    await bot.wechat.unfollow(CAROL)
    await bot.settled()
    assert await sender.tags.sync()  # type: ignore[attr-defined]
    assert bot.api.tagged("(morning)") == {ALICE}
    async with bot.app.db.read() as tx:
        assert await tx.broadcasts.reach({"topics": ["morning"], "wechat_mass": "tag"}) == {
            "wechat.mass": 1
        }


async def test_a_protected_send_waits_visibly_for_the_administrator(bot: WechatBot) -> None:
    bot.api.protected = True
    broadcast_id = await send_note(bot, "早盘提示:等待管理员确认。")
    job = await job_state(bot, broadcast_id, "confirming")
    assert not bot.api.mass_sends
    shown = bot.texts(await bot.say("/broadcasts"))
    assert any("等待公众号管理员在微信中确认" in t for t in shown)

    bot.api.confirm(job.clientmsgid)  # type: ignore[attr-defined]
    await ask_again_now(bot)
    await job_state(bot, broadcast_id, "sent")
    [mass] = bot.api.mass_sends
    assert sorted(mass.sent) == sorted([ALICE, BOB, CAROL])


async def test_a_refused_or_unconfirmed_send_fails_and_gives_the_day_back(bot: WechatBot) -> None:
    bot.api.protected = True
    refused = await send_note(bot, "早盘提示:管理员会拒绝。")
    job = await job_state(bot, refused, "confirming")
    bot.api.reject(job.clientmsgid)  # type: ignore[attr-defined]
    await ask_again_now(bot)
    await job_state(bot, refused, "failed")
    rows = await rows_of(bot, refused)
    assert {s for s, _ in rows.values()} == {"failed"}
    async with bot.app.db.read() as tx:
        assert (await tx.conn.execute(sa.select(wechat_mass_days))).all() == []
        assert await tx.broadcasts.unreached(refused) == {"wechat": {"mass": 3}}

    unconfirmed = await send_note(bot, "早盘提示:无人确认。")  # the day is free again
    await job_state(bot, unconfirmed, "confirming")
    async with bot.app.db.write() as tx:  # half an hour passes
        await tx.conn.execute(
            wechat_mass_jobs.update()
            .where(wechat_mass_jobs.c.broadcast_id == unconfirmed)
            .values(confirm_since=tx.now() - dt.timedelta(minutes=31))
        )
    await ask_again_now(bot)
    failed = await job_state(bot, unconfirmed, "failed")
    assert "30 minutes" in (failed.error or "")  # type: ignore[attr-defined]
    assert not bot.api.mass_sends


async def test_a_day_spent_in_wechats_own_pages_is_reported_and_kept(bot: WechatBot) -> None:
    bot.api.spend_today()
    first = await send_note(bot, "早盘提示:今天已在后台群发过。")
    failed = await job_state(bot, first, "failed")
    assert "45028" in (failed.error or "")  # type: ignore[attr-defined]
    await bot.settled()
    rows = await rows_of(bot, first)
    assert rows[f"wechat:{BOB}"][0] == "failed" and rows[f"wechat:{ALICE}"][0] == "failed"
    later = await plan_note(bot, "早盘补充。")  # the day stays spent: no second try today
    assert later.reach == {"wechat.window": 1, "wechat.day": 2}
