"""Pushes to WeCom clients outside the 微信客服 window go as their advisor's group message
(客户联系): one task per advisor, sent when the advisor confirms it in WeCom, WeCom's results
written to each client's row; one a day per client; a task not confirmed in time is stopped
(a late confirmation sends nothing) and its clients are tried on another route."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import sqlalchemy as sa

from bot.core.commands import text_event
from broadcasts import lifecycle
from storage.schema import messages as m
from storage.schema import wecom_group_jobs
from tests.e2e.wecom.conftest import CORP, KF_SECRET, KFID, WecomBot
from tests.fakes.wecom_api import FakeWecomApi
from tests.support import eventually

pytestmark = pytest.mark.dated  # one a day, by Beijing date: run again on days years away

CONTACT_SECRET = "contactSecret0123456789abcdefghijklmn"
CAROL = "wmCarolCCCCCCCCCCCCCCCCCCCCCCCC"


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    api = FakeWecomApi(CORP, {KF_SECRET: ["kf"], CONTACT_SECRET: ["contact"]}, open_kfids=(KFID,))
    async with api:
        yield api


@pytest.fixture
async def wc(make_wecom: Callable[..., Awaitable[WecomBot]]) -> WecomBot:
    bot = await make_wecom(WECOM_CONTACT_SECRET=CONTACT_SECRET)
    async with bot.app.db.write() as tx:
        await tx.roles.grant("console:adv1", "advisor", by="test")
        await tx.advisors.link_wecom("console:adv1", "zhangsan")
    code = bot.api.contact_added("zhangsan", CAROL)
    await bot.wecom.contact_added("zhangsan", CAROL, welcome_code=code)

    async def linked() -> int | None:
        async with bot.app.db.write() as tx:
            client = await tx.clients.by_address(f"wecom:{CAROL}")
            if client is None:
                return None
            await tx.subscriptions.subscribe(client.id, "morning", channel="wecom", actor="t")
            return client.id

    await eventually(linked, what="Carol's file")
    return bot


def sender_of(bot: WecomBot) -> object:
    return next(c for c in bot.channels if c.name == "wecom").groups  # type: ignore[attr-defined]


async def push(bot: WecomBot, text: str, kind: str = "broadcast") -> lifecycle.Plan:
    async with bot.app.db.write() as tx:
        plan = await lifecycle.plan(
            tx, bot.app.translator, author="console:admin", text=text, topics=["morning"]
        )
        created = await lifecycle.create(
            tx, plan, author="console:admin", send_at=tx.now(), kind=kind
        )
    sender_of(bot).wake.set()  # type: ignore[attr-defined]
    return created  # type: ignore[return-value]


async def job_is(bot: WecomBot, broadcast_id: int, state: str) -> None:
    async def reached() -> bool:
        async with bot.app.db.read() as tx:
            jobs = await tx.wecom_groups.of_broadcast(broadcast_id)
        return bool(jobs) and jobs[0].status == state

    await eventually(reached, timeout=20, what=f"the group message to be {state}")


async def ask_now(bot: WecomBot) -> None:
    async with bot.app.db.write() as tx:
        await tx.conn.execute(wecom_group_jobs.update().values(next_at=None))
    sender_of(bot).wake.set()  # type: ignore[attr-defined]


async def row_of(bot: WecomBot, broadcast_id: int) -> tuple[str, str | None]:
    async with bot.app.db.read() as tx:
        row = (
            await tx.conn.execute(
                m.select().where(m.c.broadcast_id == broadcast_id, m.c.chat == f"wecom:{CAROL}")
            )
        ).one()
    return row.status, row.error


async def test_the_advisor_confirms_and_the_client_gets_it_once_a_day(wc: WecomBot) -> None:
    async with wc.app.db.read() as tx:
        plan = await lifecycle.plan(
            tx, wc.app.translator, author="console:admin", text="早盘提示", topics=["morning"]
        )
    assert plan.reach == {"wecom.group": 1}
    assert "企业微信群发 1(由顾问在企业微信中确认后发出)" in plan.routes(wc.app.translator)

    first = await push(wc, "早盘提示:黄金震荡,注意仓位。")
    await job_is(wc, first.id, "waiting")
    [task] = wc.api.group_tasks
    assert task.sender == "zhangsan" and "早盘提示" in task.content and "风险" in task.content
    assert await row_of(wc, first.id) == ("group", None)  # waiting for the advisor
    async with wc.app.db.write() as tx:
        await tx.roles.grant("console:desk", "staff", by="test")
    listed = await wc.app.inbox.receive(
        text_event("console", "console:desk", "console:desk", "/broadcasts")
    )
    assert listed is not None
    async with wc.app.db.read() as tx:
        [answer] = await tx.conn.execute(m.select().where(m.c.id.in_(listed[1])))
    assert "等待 1 位顾问在企业微信中确认群发" in answer.text
    wc.api.confirm_all("zhangsan")
    await ask_now(wc)
    await job_is(wc, first.id, "done")
    assert await row_of(wc, first.id) == ("sent", None)
    assert [c for _, c in wc.api.group_inbox[CAROL]] == [task.content]

    async with wc.app.db.read() as tx:  # the same day: not a second one
        later = await lifecycle.plan(
            tx, wc.app.translator, author="console:admin", text="午间提示", topics=["morning"]
        )
    assert later.reach == {"wecom.group_day": 1}
    second = await push(wc, "午间提示:关注美元。")
    status, error = await row_of(wc, second.id)
    assert status == "failed" and "今日已收到群发" in (error or "")
    assert len(wc.api.group_tasks) == 1


async def test_an_alert_not_confirmed_in_time_is_stopped_and_goes_another_way(
    wc: WecomBot,
) -> None:
    created = await push(wc, "风险提示:非农数据前注意仓位。", kind="alert")
    await job_is(wc, created.id, "waiting")
    async with wc.app.db.write() as tx:  # meanwhile Carol binds her console too
        client = await tx.clients.by_address(f"wecom:{CAROL}")
        assert client is not None
        await tx.links.attach(client.id, "console:carol")
    async with wc.app.db.write() as tx:  # the advisor's half hour passes
        await tx.conn.execute(
            wecom_group_jobs.update().values(confirm_by=tx.now() - dt.timedelta(seconds=1))
        )
    await ask_now(wc)
    await job_is(wc, created.id, "expired")
    status, error = await row_of(wc, created.id)
    assert status == "failed" and "did not confirm" in (error or "")
    wc.api.confirm_all("zhangsan")  # too late: stopped at WeCom, nothing goes
    assert CAROL not in wc.api.group_inbox
    async with wc.app.db.read() as tx:
        rerouted = (
            await tx.conn.execute(
                sa.select(m.c.chat).where(
                    m.c.broadcast_id == created.id, m.c.chat == "console:carol"
                )
            )
        ).all()
    assert rerouted, "the client is tried on her other address"
