"""WeChat followers outside the customer-service window are reached by a service account's
mass send: one call for all of them (each counted against their month's 4), the clientmsgid
making a retry after a lost answer harmless, and WeChat's MASSSENDJOBFINISH kept as the
figures of that route. A follower whose 4 are spent is not planned a 5th."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa

from broadcasts import lifecycle
from storage.repos.routes import month_of
from storage.schema import messages as m
from storage.schema import wechat_mass_counts, wechat_mass_jobs, wechat_windows
from tests.e2e.wechat.conftest import ALICE, WechatBot
from tests.fakes.wechat_mass_api import MassSend
from tests.support import eventually

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)

BOB = "o_bob_00000000000000000000000"
CAROL = "o_carol_000000000000000000000"
DAVE = "o_dave_0000000000000000000000"


async def followers_of_morning(bot: WechatBot) -> None:
    for openid in (ALICE, BOB, CAROL, DAVE):
        await bot.say("订阅早盘", openid)
    async with bot.app.db.write() as tx:  # only Alice wrote within the last 48 hours
        await tx.conn.execute(
            wechat_windows.update()
            .where(wechat_windows.c.chat != f"wechat:{ALICE}")
            .values(until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        )
        month = month_of(tx.now())  # Dave had his 4 this month already
        await tx.conn.execute(
            wechat_mass_counts.insert().values(chat=f"wechat:{DAVE}", month=month, count=4)
        )


def report_back(bot: WechatBot) -> list[asyncio.Task[object]]:
    """WeChat posts MASSSENDJOBFINISH to the webhook a while after each accepted send."""
    tasks: list[asyncio.Task[object]] = []

    def finished(mass: MassSend) -> None:
        tasks.append(
            asyncio.ensure_future(
                bot.wechat.mass_finished(
                    mass.msg_id,
                    total=len(mass.openids),
                    sent=len(mass.sent),
                    errors=len(mass.errors),
                    filtered=len(mass.filtered),
                )
            )
        )

    bot.api.on_mass_send = finished
    return tasks


async def send_note(bot: WechatBot, text: str, *, mass: bool | None = None) -> int:
    async with bot.app.db.write() as tx:
        plan = await lifecycle.plan(
            tx, bot.app.translator, author=f"wechat:{ALICE}", text=text, topics=["morning"],
            mass=mass,
        )  # fmt: skip
        created = await lifecycle.create(tx, plan, author=f"wechat:{ALICE}", send_at=tx.now())
    bot.app.delivery.notify()
    return created.id


async def jobs_settled(bot: WechatBot, broadcast_id: int, state: str = "done") -> list[object]:
    async def settled() -> list[object] | None:
        async with bot.app.db.read() as tx:
            jobs = await tx.wechat_mass.of_broadcast(broadcast_id)
        return jobs if jobs and all(j.status == state for j in jobs) else None

    return await eventually(settled, timeout=20, what=f"the mass sends to be {state}")


async def test_outside_the_window_one_mass_send_reaches_each_follower_once(
    make_wechat: object,
) -> None:
    bot: WechatBot = await make_wechat(safe=False, BOT_ADMINS=f"wechat:{ALICE}")  # type: ignore[operator]
    await followers_of_morning(bot)
    reported = report_back(bot)
    async with bot.app.db.read() as tx:
        reach = await tx.broadcasts.reach({"topics": ["morning"], "wechat_mass": True})
    assert reach == {"wechat.window": 1, "wechat.mass": 2, "wechat.full": 1}

    broadcast_id = await send_note(bot, "早盘提示:黄金震荡,注意仓位。")
    [job] = await jobs_settled(bot, broadcast_id)
    await asyncio.gather(*reported)
    [mass] = bot.api.mass_sends
    assert sorted(mass.openids) == sorted([BOB, CAROL]) and "早盘提示" in mass.content
    assert "风险" in mass.content  # the advisory risk line, as everywhere
    assert (job.total, job.sent, job.errors) == (2, 2, 0)  # type: ignore[attr-defined]
    await bot.settled()
    assert any("早盘提示" in (t or "") for t in bot.api.texts(ALICE))  # inside: as usual
    assert not bot.api.texts(BOB) and not bot.api.texts(CAROL)  # nothing twice
    async with bot.app.db.read() as tx:
        rows = {
            r.chat: (r.status, r.error)
            for r in await tx.conn.execute(m.select().where(m.c.broadcast_id == broadcast_id))
        }
        counts = {r.chat: r.count for r in await tx.conn.execute(sa.select(wechat_mass_counts))}
    assert rows[f"wechat:{DAVE}"][0] == "failed" and "本月群发已满" in rows[f"wechat:{DAVE}"][1]
    assert rows[f"wechat:{BOB}"][0] == "mass"
    assert counts == {f"wechat:{BOB}": 1, f"wechat:{CAROL}": 1, f"wechat:{DAVE}": 4}

    async def reported_to_author() -> str | None:
        await bot.app.broadcast_tick()
        return next((t for t in bot.api.texts(ALICE) if t and "广播 #" in t), None)

    report = await eventually(reported_to_author, what="the report to the author")
    assert "微信群发:2 位粉丝" in report and "本月群发已满" in report
    async with bot.app.db.read() as tx:
        routes = await tx.broadcasts.routes(broadcast_id)
    assert routes == {
        "wechat.window": {"sent": 1}, "wechat.mass": {"mass": 2}, "wechat.full": {"failed": 1},
    }  # fmt: skip
    async with bot.app.db.read() as tx:  # the next push's preview says what it spends
        plan = await lifecycle.plan(
            tx, bot.app.translator, author=f"wechat:{ALICE}", text="晚盘提示", topics=["morning"]
        )
    assert "微信群发 2(本月第 2/4 次)" in plan.routes(bot.app.translator)


async def test_a_lost_answer_is_retried_under_the_same_clientmsgid_and_sends_once(
    make_wechat: object,
) -> None:
    bot: WechatBot = await make_wechat(safe=False, BOT_ADMINS=f"wechat:{ALICE}")  # type: ignore[operator]
    await followers_of_morning(bot)
    bot.api.lose_answers["/cgi-bin/message/mass/send"] = 1
    broadcast_id = await send_note(bot, "晚盘提示:关注美元指数。")
    [sender] = [c.mass for c in bot.channels if hasattr(c, "mass")]

    async def retried() -> bool:  # the retry waits out a backoff: brought forward here
        async with bot.app.db.write() as tx:
            await tx.conn.execute(wechat_mass_jobs.update().values(next_attempt_at=None))
        sender.wake.set()
        return len([c for c in bot.api.calls if c.path.endswith("/mass/send")]) >= 2

    await eventually(retried, timeout=20, what="the retry")
    [job] = await jobs_settled(bot, broadcast_id, "sent")
    assert len(bot.api.mass_sends) == 1  # the second call was refused as a duplicate
    assert [c.errcode for c in bot.api.calls if c.path.endswith("/mass/send")][-1] == 45065
    assert job.msg_id is None  # type: ignore[attr-defined]


async def test_staff_may_keep_a_push_to_the_window(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat(safe=False, BOT_ADMINS=f"wechat:{ALICE}")  # type: ignore[operator]
    await followers_of_morning(bot)
    broadcast_id = await send_note(bot, "早盘提示:只发窗口内。", mass=False)
    await bot.settled()
    async with bot.app.db.read() as tx:
        assert await tx.wechat_mass.of_broadcast(broadcast_id) == []
        failed = [
            r.chat for r in await tx.conn.execute(
                m.select().where(m.c.broadcast_id == broadcast_id, m.c.status == "failed")
            )
        ]  # fmt: skip
    assert not bot.api.mass_sends and len(failed) == 3
