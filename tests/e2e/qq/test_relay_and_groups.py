"""QQ end to end: a consultation relayed between a QQ client and a QQ advisor, a broadcast to
the firm's client groups chosen by segment, and an implementation that connects twice (one
socket for actions, one for events), as OneBot allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.cli.clients import _import
from broadcasts import lifecycle
from tests.e2e.qq.conftest import ADMIN, TOKEN, QQBot
from tests.fakes.onebot import FakeOneBot
from tests.support import eventually

CLIENT, ADVISOR = 20001, 30001


async def test_a_consultation_between_a_qq_client_and_a_qq_advisor(qq: QQBot) -> None:
    await qq.say(f"/grant qq:{ADVISOR} advisor", user=ADMIN)
    await qq.say("/duty on", user=ADVISOR)
    await qq.say("/advisor", user=CLIENT)
    [filed] = await qq.say("白银账户无法出金 [CQ:face,id=1]", user=CLIENT)
    assert "ZX-" in filed
    number = "ZX-" + filed.split("ZX-")[1].split(",")[0]
    await eventually(lambda: any(number in t for t in qq.onebot.texts(ADVISOR)), what="notice")
    await qq.say(f"/reply {number} 您好,已为您查询,稍后回电。", user=ADVISOR)
    await eventually(lambda: any("稍后回电" in t for t in qq.onebot.texts(CLIENT)),
                     what="the answer relayed")  # fmt: skip
    await qq.say("好的谢谢", user=CLIENT)
    await eventually(lambda: any("好的谢谢" in t for t in qq.onebot.texts(ADVISOR)),
                     what="the client's answer relayed")  # fmt: skip


async def test_a_broadcast_to_client_groups_by_segment(qq: QQBot, tmp_path: Path) -> None:
    listing = tmp_path / "groups.csv"
    listing.write_text(
        "address,name,tier,tags,topics\n"
        "qqgroup:7770001,VIP 客户群,vip,黄金,news\n"
        "qqgroup:7770002,普通客户群,standard,白银,news\n"
        "qq:20009,张三,vip,黄金,news\n",
        "utf-8",
    )
    assert await _import(qq.app.db, qq.settings, listing, "utf-8") == (3, 0)
    author = f"qq:{ADMIN}"
    async with qq.app.db.write() as tx:
        plan = await lifecycle.plan(tx, qq.app.translator, author=author, text="今晚非农,注意风险",
                                  segment={"channel": "qqgroup", "tier": "vip"})  # fmt: skip
        assert plan.recipients == 1
        await lifecycle.create(tx, plan, author=author, send_at=tx.now())
    qq.app.delivery.notify()
    await eventually(lambda: qq.onebot.texts(7770001), what="the VIP group's message")
    [sent] = [s for s in qq.onebot.sent if s.target == 7770001]
    assert sent.action == "send_group_msg" and "非农" in sent.text and "风险" in sent.text
    assert qq.onebot.texts(7770002) == [] and qq.onebot.texts(20009) == []


async def test_separate_sockets_for_actions_and_events(
    make_qq: Callable[..., Awaitable[QQBot]],
) -> None:
    bot = await make_qq(connect=False)
    events, actions = FakeOneBot(token=TOKEN), FakeOneBot(token=TOKEN)
    await actions.connect(bot.url, role="API")
    await events.connect(bot.url, role="Event")
    try:
        await events.push(events.private(CLIENT, "/start"))
        await eventually(lambda: actions.texts(CLIENT), what="the answer on the API socket")
        assert events.sent == []
    finally:
        await events.close()
        await actions.close()
