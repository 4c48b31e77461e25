"""The 微信客服 session follows the ticket: when an advisor takes the client's chat in the
WeCom app and answers there, the bot stops answering the client (what they write is kept,
the servicer answers it); when the ticket is resolved, the bot ends the session (handing it
back) and sends the resolution as the closing words; the client's next message is the bot's
again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.core.commands import text_event
from tests.e2e.wecom.conftest import ALICE, WecomBot
from tests.harness import RecordingSender
from tests.support import eventually

ADVISOR = "console:adv1"
SERVICER = "zhangsan"


@pytest.fixture
async def wc(make_wecom: Callable[..., Awaitable[WecomBot]]) -> WecomBot:
    bot = await make_wecom()
    bot.senders.append(RecordingSender())  # the advisor works from the console
    await bot.restart()
    return bot


async def as_advisor(bot: WecomBot, text: str) -> None:
    receipt = await bot.app.inbox.receive(text_event("console", ADVISOR, ADVISOR, text))
    assert receipt is not None


async def test_a_servicer_holds_the_session_until_the_ticket_is_resolved(wc: WecomBot) -> None:
    async with wc.app.db.write() as tx:
        await tx.roles.grant(ADVISOR, "advisor", by="test")
        await tx.advisors.link_wecom(ADVISOR, SERVICER)
    await as_advisor(wc, "/duty on")
    await wc.say("/advisor")
    asked = "\n".join(await wc.say("我的账户无法出金,请帮忙看一下"))
    number = "ZX-" + asked.split("ZX-")[1].split(",")[0]

    # The advisor takes the chat in the WeCom app and answers there.
    wc.api.servicers.add(SERVICER)
    wc.api.set_state(ALICE, 3, servicer=SERVICER)
    wc.api.servicer_says(ALICE, SERVICER, "您好,我是张三,正在为您查询。")
    assert not await wc.say("好的,我等您消息")  # the servicer's to answer, not the bot's
    async with wc.app.db.read() as tx:
        held = await tx.wecom_sessions.held(f"wecom:{ALICE}")
        archived = [m.text for m in await tx.messages.for_chat(f"wecom:{ALICE}", limit=50)]
    assert held == SERVICER
    assert "好的,我等您消息" in archived  # kept, like everything a client says
    async with wc.app.db.read() as tx:
        ticket = await tx.tickets.by_number(number)
        assert ticket is not None and ticket.responded_at is not None  # no SLA breach for it
        assert ticket.status == "waiting" and ticket.advisor == ADVISOR
        answers = [e for e in await tx.tickets.history(ticket.id) if e.action == "reply"]
    assert [(e.actor, e.text) for e in answers] == [(ADVISOR, "您好,我是张三,正在为您查询。")]

    before = len(wc.api.sent)
    await as_advisor(wc, f"/resolve {number} 已电话联系,出金已到账")

    async def closed() -> bool:
        return any(s.touser == ALICE for s in wc.api.sent[before:])

    await eventually(closed, what="the resolution to the client")
    [closing] = [s for s in wc.api.sent[before:] if s.touser == ALICE]
    assert closing.via == "send_msg_on_event"  # the closing words of the ended session
    assert closing.menu is not None and "出金已到账" in closing.menu["head_content"]
    assert wc.api.session(ALICE).state == 4
    assert wc.api.state_changes[-1][2:4] == (3, 4)

    answers = await wc.say("谢谢")  # a new session: the bot's again
    assert answers, "the bot answers once the session was handed back"
    async with wc.app.db.read() as tx:
        assert await tx.wecom_sessions.held(f"wecom:{ALICE}") is None


async def test_a_session_ended_in_the_app_is_the_bots_again(wc: WecomBot) -> None:
    await wc.say("你好")
    wc.api.servicers.add(SERVICER)
    wc.api.set_state(ALICE, 3, servicer=SERVICER)
    assert (await wc.announce()).delivered  # a page with nothing but WeCom's change event
    await wc.read_and_settle()
    async with wc.app.db.read() as tx:
        assert await tx.wecom_sessions.held(f"wecom:{ALICE}") == SERVICER
    assert not await wc.say("在吗")
    wc.api.set_state(ALICE, 4)  # the servicer ends it in the app
    assert await wc.say("你好")
