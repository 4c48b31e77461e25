"""One client on several channels: a binding code asked for on one channel and sent from
another joins the two addresses into one file; wrong codes lock; staff link, unlink and
merge; the client chooses where notices go."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.core.commands import text_event
from storage.schema import audit_log
from tests.conftest import SettingsFactory
from tests.harness import Harness, Sent
from tests.support import eventually

TG = "telegram:4242"


@pytest.fixture
async def bot(make_settings: SettingsFactory) -> Harness:
    harness = Harness(make_settings())
    await harness.start()
    await harness.say("/grant console:desk staff", user="admin")
    yield harness  # type: ignore[misc]
    await harness.stop()


async def on_telegram(bot: Harness, text: str, chat: str = TG) -> list[Sent]:
    return await bot.send(text_event("telegram", chat, chat, text))


def code_in(sent: list[Sent]) -> str:
    [line] = [s.plain for s in sent if "绑定码" in s.plain]
    return line.split("绑定 ")[1][:6]


async def test_a_code_from_the_console_binds_a_telegram_account(bot: Harness) -> None:
    await bot.say("订阅早盘")
    sub = await on_telegram(bot, "订阅重要消息")
    assert "订阅成功" in "".join(s.plain for s in sub), [s.plain for s in sub]
    code = code_in(await bot.say("绑定"))
    assert "10 分钟" in (await bot.text("/bind"))  # asking again gives a new code…
    old = code
    code = code_in(await bot.say("/bind"))
    if old != code:  # …and the earlier one stops working
        assert "不正确" in "".join(s.plain for s in await on_telegram(bot, f"绑定 {old}"))

    [done] = await on_telegram(bot, f"绑定 {code}")
    assert "绑定成功" in done.plain and "Telegram" in done.plain and "控制台" in done.plain
    async with bot.app.db.read() as tx:
        alice = await tx.clients.by_address("console:alice")
        tg = await tx.clients.by_address(TG)
        assert alice is not None and tg is not None and alice.id == tg.id
        assert sorted(await tx.subscriptions.of(alice.id)) == ["morning", "news"]
        actions = [r.action for r in await tx.conn.execute(sa.select(audit_log))]
    assert "client.bind" in actions and "client.bind_code" in actions
    # Used once: the same code again from a third account does nothing.
    reused = await on_telegram(bot, f"绑定 {code}", "telegram:7")
    assert "不正确" in "".join(s.plain for s in reused)
    assert "已经在您的客户档案里" in "".join(
        s.plain for s in await on_telegram(bot, f"/bind {code_in(await bot.say('绑定'))}")
    )


async def test_wrong_codes_lock_binding_and_questions_about_binding_go_to_the_faq(
    bot: Harness,
) -> None:
    code = code_in(await bot.say("绑定"))
    wrong = "111111" if code != "111111" else "222222"
    answers = ["".join(s.plain for s in await on_telegram(bot, f"绑定 {wrong}")) for _ in range(5)]
    assert "还可以再试 4 次" in answers[0] and "还可以再试 1 次" in answers[3]
    assert "暂时不能绑定" in answers[4]
    assert "暂时不能绑定" in "".join(s.plain for s in await on_telegram(bot, f"绑定 {code}"))
    assert "6 位数字" in await bot.text("/bind 12ab")
    faq = await bot.text("绑定银行卡怎么操作")
    assert "绑定码" not in faq  # a question, left to the FAQ


async def test_staff_link_unlink_and_merge_files(bot: Harness) -> None:
    await bot.say("你好", user="wang")
    await on_telegram(bot, "你好", "telegram:88")
    async with bot.app.db.read() as tx:
        wang = await tx.clients.by_address("console:wang")
        other = await tx.clients.by_address("telegram:88")
    assert wang is not None and other is not None
    said = await bot.text(f"/client {wang.id} link telegram:88", user="desk")
    assert f"#{other.id}" in said and f"/client merge {wang.id} {other.id}" in said
    assert "已把 qq:10001 加入" in await bot.text(f"/client {wang.id} link qq:10001", user="desk")
    assert "已从客户" in await bot.text(f"/client {wang.id} unlink qq:10001", user="desk")
    assert "唯一的账号" in await bot.text(f"/client {other.id} unlink telegram:88", user="desk")

    merged = await bot.text(f"/client merge {other.id} {wang.id}", user="desk")
    assert f"客户 #{other.id} 并入 #{wang.id}" in merged  # the older file survives
    shown = await bot.text(f"/client {wang.id}", user="desk")
    assert "console:wang" in shown and "telegram:88" in shown
    assert "找不到客户" in await bot.text(f"/client {other.id}", user="desk")


async def test_the_client_chooses_where_notices_go(bot: Harness) -> None:
    await on_telegram(bot, f"绑定 {code_in(await bot.say('绑定'))}")
    [listing] = await bot.say("/channel")
    labels = [b.label for row in listing.buttons for b in row]
    assert "自动" in listing.plain and labels[-1].startswith("自动")
    assert any(label.startswith("Telegram") for label in labels)
    assert "以后的通知会发到:Telegram" in await bot.text("/channel telegram")
    async with bot.app.db.read() as tx:
        alice = await tx.clients.by_address("console:alice")
        assert alice is not None and await tx.files.preferred(alice.id) == TG
    assert "通知现在发到:Telegram" in await bot.text("我的渠道")
    assert "自动" in await bot.text("/channel 自动")
    async with bot.app.db.read() as tx:
        assert await tx.files.preferred(alice.id) is None


async def test_a_push_reaches_a_linked_client_once_and_staff_see_the_routes(
    bot: Harness,
) -> None:
    await bot.say("订阅盘中风险警示")
    await on_telegram(bot, "订阅盘中风险警示")
    await on_telegram(bot, f"绑定 {code_in(await bot.say('绑定'))}")
    await bot.say("订阅盘中风险警示", user="solo")
    await bot.say("/grant console:desk staff", user="admin")
    before = len(bot.sender.sent)
    said = await bot.text("/alert 金价短线波动加大,注意控制仓位", user="desk")
    assert "2 位客户" in said and "送达途径:" in said
    assert "Telegram 1" in said and "控制台 1" in said  # alice last wrote from Telegram
    await bot.idle()
    got = [s.chat for s in bot.sender.sent[before:] if "盘中风险警示】" in s.plain]
    assert sorted(got) == ["console:solo", TG]  # once each, alice where she last wrote


async def test_a_route_that_fails_for_good_tries_the_clients_next_one_once(
    bot: Harness,
) -> None:
    """Alice blocked the bot on Telegram, where she last wrote: the alert reaches her in the
    console instead, and she keeps her subscriptions (she is still a client there)."""
    await bot.say("订阅盘中风险警示")
    await on_telegram(bot, f"绑定 {code_in(await bot.say('绑定'))}")  # Telegram is the latest
    bot.telegram.blocked.add(TG)
    before = len(bot.sender.sent)
    await bot.say("/alert 金价短线波动加大,注意控制仓位", user="desk")

    async def rerouted() -> list[str] | None:  # the outcome, then the second try, are written
        await bot.idle()
        got = [s.chat for s in bot.sender.sent[before:] if "盘中风险警示】" in s.plain]
        return got or None

    assert await eventually(rerouted, what="the alert on the next route") == ["console:alice"]
    async with bot.app.db.read() as tx:
        alice = await tx.clients.by_address("console:alice")
        assert alice is not None and await tx.subscriptions.of(alice.id) == ["risk"]
        [alert] = await tx.broadcasts.recent(limit=1)

    async def routes() -> dict[str, dict[str, int]] | None:  # once the outcome is written
        async with bot.app.db.read() as tx:
            found = await tx.broadcasts.routes(alert.id)
        return None if any("sending" in v for v in found.values()) else found

    assert await eventually(routes, what="the outcomes") == {
        "telegram.direct": {"blocked": 1}, "console.direct": {"sent": 1},
    }  # fmt: skip
    # From now on the blocked address is passed over at once, until she writes there again.
    said = await bot.text("/alert 美元指数大幅走强,注意风险", user="desk")
    assert "控制台 1" in said and "Telegram" not in said
    bot.telegram.blocked.discard(TG)  # she unblocks the bot and writes there
    await on_telegram(bot, "你好")
    said = await bot.text("/alert 白银波动加剧,注意风险", user="desk")
    assert "Telegram 1" in said
