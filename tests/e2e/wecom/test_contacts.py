"""客户联系: a client adds an advisor as a WeCom contact. The event is archived once (WeCom's
retries too), the client's WeCom address gets a file — joined to their existing one by the
binding code the 联系我 link carries — the advisor becomes theirs, and the welcome goes out
with the event's one-time code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.channels.wecom import contacts
from tests.conftest import SettingsFactory
from tests.e2e.wecom.conftest import CORP, KF_SECRET, KFID, WecomBot
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.wecom_api import FakeWecomApi
from tests.support import eventually

CONTACT_SECRET = "contactSecret0123456789abcdefghijklmn"
CLIENT = "wmClientCCCCCCCCCCCCCCCCCCCCCC"
ADVISOR = 501


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def wecom_api() -> AsyncIterator[FakeWecomApi]:
    api = FakeWecomApi(CORP, {KF_SECRET: ["kf"], CONTACT_SECRET: ["contact"]}, open_kfids=(KFID,))
    async with api:
        yield api


@pytest.fixture
async def wc(
    make_wecom: Callable[..., Awaitable[WecomBot]], make_settings: SettingsFactory
) -> WecomBot:
    bot = await make_wecom(WECOM_CONTACT_SECRET=CONTACT_SECRET)
    async with bot.app.db.write() as tx:
        await tx.roles.grant("console:adv1", "advisor", by="test")
        await tx.advisors.link_wecom("console:adv1", "zhangsan")
    return bot


async def added(bot: WecomBot, state: str = "") -> None:
    code = bot.api.contact_added("zhangsan", CLIENT, state=state)
    result = await bot.wecom.contact_added("zhangsan", CLIENT, state=state, welcome_code=code)
    assert result.delivered

    async def welcomed() -> bool:
        return bool(bot.api.welcomes)

    await eventually(welcomed, what="the welcome")

    async def handled() -> bool:  # (the advisor's notice waits for a console: not sent here)
        async with bot.app.db.read() as tx:
            return not await tx.messages.count(direction="in", status="received")

    await eventually(handled, what="the event to be handled")


async def test_a_new_contact_becomes_the_advisors_client_and_is_welcomed(wc: WecomBot) -> None:
    await added(wc)
    [welcome] = wc.api.welcomes
    assert welcome.external_userid == CLIENT and "国瑞投资" in welcome.content
    async with wc.app.db.read() as tx:
        client = await tx.clients.by_address(f"wecom:{CLIENT}")
        assert client is not None
        assert (await tx.files.fields(client.id)).advisor == "console:adv1"
        archived = await tx.messages.for_chat(f"wecom:{CLIENT}", limit=10)
        told = await tx.messages.for_chat("console:adv1", limit=10)
    assert [m.direction for m in archived] == ["in"]  # the event, kept like any client act
    [asked] = [m for m in told if f"#{client.id}" in m.text]
    assert "已有客户" in asked.text and asked.payload["buttons"]  # who is it? (none on file)


async def test_a_binding_code_in_the_link_joins_the_clients_file(wc: WecomBot) -> None:
    async with wc.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            "telegram:4242", language="zh", display_name=None, username=None
        )
        code = await tx.links.issue(client.id, "telegram:4242")
    await added(wc, state=f"bind_{code}")
    async with wc.app.db.read() as tx:
        joined = await tx.clients.by_address(f"wecom:{CLIENT}")
    assert joined is not None and joined.id == client.id


async def test_a_phone_the_advisor_noted_finds_the_clients_file(wc: WecomBot) -> None:
    async with wc.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            "telegram:4242", language="zh", display_name=None, username=None
        )
        await tx.files.set(client.id, phone="13912345678")
    wc.api.add_contact("zhangsan", CLIENT)
    wc.api.set_remark_mobiles("zhangsan", CLIENT, ["+86 139-1234-5678"])
    await added(wc)
    async with wc.app.db.read() as tx:
        joined = await tx.clients.by_address(f"wecom:{CLIENT}")
        told = await tx.messages.for_chat("console:adv1", limit=10)
    assert joined is not None and joined.id == client.id
    assert not told  # nothing to ask: no new file


async def test_the_advisor_on_telegram_says_which_client_on_file_it_is(
    make_wecom: Callable[..., Awaitable[WecomBot]], tg: FakeTelegram
) -> None:
    """No binding code and no noted phone: the advisor is asked, with the clients on file
    that WeCom's names for the contact (their WeChat name, the advisor's remark) point to."""
    bot = await make_wecom(
        WECOM_CONTACT_SECRET=CONTACT_SECRET,
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_BASE=tg.base_url,
        TELEGRAM_MODE="polling",
        TELEGRAM_CHAT_INTERVAL="0.05",
    )
    async with bot.app.db.write() as tx:
        await tx.roles.grant(f"telegram:{ADVISOR}", "advisor", by="test")
        await tx.advisors.link_wecom(f"telegram:{ADVISOR}", "zhangsan")
        known, _ = await tx.clients.get_or_create(
            "qq:10001", language="zh", display_name="张三(黄金)", username=None
        )
        await tx.files.set(known.id, phone="13912345678")
    bot.api.add_contact("zhangsan", CLIENT)
    bot.api.names[CLIENT] = "Sunny"
    bot.api.set_remark("zhangsan", CLIENT, "张三(黄金)")
    await added(bot)
    await eventually(lambda: bool(tg.sent(ADVISOR)), what="the question to the advisor")
    [question] = tg.sent(ADVISOR)
    assert "张三(黄金)" in question["text"]  # the advisor's remark names the new file
    rows = question["reply_markup"]["inline_keyboard"]
    labels = [row[0]["text"] for row in rows]
    assert labels == [f"张三(黄金) #{known.id} 尾号5678", "是新客户"]

    tg.push_update(
        tg.callback(ADVISOR, rows[0][0]["callback_data"], message_id=tg.last_message_id(ADVISOR))
    )
    await eventually(lambda: len(tg.sent(ADVISOR)) > 1, what="the answer")
    assert f"并入 #{known.id}" in tg.sent(ADVISOR)[-1]["text"]
    async with bot.app.db.read() as tx:
        joined = await tx.clients.by_address(f"wecom:{CLIENT}")
        file = await tx.files.fields(known.id)
    assert joined is not None and joined.id == known.id
    assert file.advisor == f"telegram:{ADVISOR}"  # the merge kept the advisor the contact gave


async def test_a_slow_contact_lookup_never_costs_the_welcome(
    wc: WecomBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeCom's welcome code lasts 20 seconds: reading the contact is given up in time (here
    the budget is shortened instead of waiting it out) and the client still gets a file, the
    advisor's question and the welcome."""
    monkeypatch.setattr(contacts, "LOOKUP_SECONDS", 0.05)
    wc.api.add_contact("zhangsan", CLIENT)
    wc.api.set_remark("zhangsan", CLIENT, "张三")
    wc.api.latency = 0.3
    await added(wc)
    assert len(wc.api.welcomes) == 1
    async with wc.app.db.read() as tx:
        client = await tx.clients.by_address(f"wecom:{CLIENT}")
        assert client is not None
        assert client.display_name is None  # the lookup was given up: no remark read
        assert await tx.wecom_questions.get(client.id) is not None
