"""A client adds an advisor in WeCom and no file was found for them: the advisor is asked
who it is — one of the clients on file WeCom's names point to, a phone or file number typed,
or a new client — on a channel without buttons too, later too (`/wecom new`), once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.types import Inbound
from tests.conftest import SettingsFactory
from tests.harness import Harness

CONTACT = "wecom:wmNewContact0001"


@pytest.fixture
async def bot(make_settings: SettingsFactory) -> AsyncIterator[Harness]:
    harness = Harness(make_settings(), buttons=False)  # as on WeChat, QQ and the console
    await harness.start()
    await harness.say("/grant console:adv1 advisor", user="admin")
    await harness.say("/grant console:adv2 advisor", user="admin")
    await harness.say("/grant console:desk staff", user="admin")
    try:
        yield harness
    finally:
        await harness.stop()


async def on_file(bot: Harness, address: str, name: str, phone: str | None = None) -> int:
    """A client the firm has on file (imported, say)."""
    async with bot.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            address, language="zh", display_name=name, username=None
        )
        await tx.files.set(client.id, advisor="console:adv1", phone=phone)
    return client.id


async def contact_added(bot: Harness, chat: str = CONTACT, name: str = "张三") -> str:
    """What the WeCom channel does for a contact with no file (see bot/channels/wecom/
    contacts.py): a file of its own, the question opened, the event handed to the handlers.
    Returns what the advisor was told."""
    async with bot.app.db.write() as tx:
        client, _ = await tx.clients.get_or_create(
            chat, language="zh", display_name=name, username=None
        )
        await tx.files.set(client.id, advisor="console:adv1")
        await tx.wecom_questions.ask(client.id, chat, "console:adv1", name)
    event = Inbound("wecom", chat, chat, kind="contact", dedupe_key=f"wecom:contact:{chat}")
    sent = await bot.send(event)
    assert all(s.chat == "console:adv1" for s in sent), "nothing goes to the client's chat"
    return "\n".join(s.plain for s in sent)


async def file_of(bot: Harness, address: str) -> int | None:
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address(address)
        return client.id if client else None


async def test_the_advisor_picks_the_client_by_number_and_it_is_answered_once(
    bot: Harness,
) -> None:
    known = await on_file(bot, "telegram:4242", "张三", phone="13912345678")
    await on_file(bot, "telegram:4343", "李四")
    asked = await contact_added(bot)
    assert "张三" in asked and CONTACT in asked and "哪位已有客户" in asked
    assert f"1. 张三 #{known} 尾号5678" in asked and "2. 是新客户" in asked
    assert "李四" not in asked  # only the clients WeCom's names point to

    mine = await file_of(bot, CONTACT)
    merged = await bot.text("1", user="adv1")
    assert f"并入 #{known}" in merged
    assert await file_of(bot, CONTACT) == known
    again = await bot.press(f"wcq:{mine}:{known}", user="adv1")  # an old button, on Telegram
    assert "已经回答过了" in again[0].plain
    assert await file_of(bot, "telegram:4242") == known
    assert "没有待确认" in await bot.text("/wecom new", user="adv1")


async def test_a_phone_or_file_number_typed_answers_and_the_next_question_follows(
    bot: Harness,
) -> None:
    known = await on_file(bot, "telegram:5151", "王五", phone="13800001111")
    other = await on_file(bot, "telegram:5252", "赵六")
    await contact_added(bot, "wecom:wmFirst", name="Sunny")
    asked = await contact_added(bot, "wecom:wmSecond", name="小赵")
    assert "是已有客户吗" in asked and "1. 是新客户" in asked  # no name matched: no candidate

    nobody = await bot.text("13999999999", user="adv1")
    assert "没有手机号为 13999999999" in nobody
    assert await file_of(bot, "wecom:wmSecond") != other  # nothing merged

    answered = await bot.text(f"#{other}", user="adv1")  # the newest question: wmSecond
    assert f"并入 #{other}" in answered
    assert "Sunny" in answered, "the next open question is shown at once"
    assert await file_of(bot, "wecom:wmSecond") == other

    answered = await bot.text("+86 138-0000-1111", user="adv1")
    assert f"并入 #{known}" in answered
    assert await file_of(bot, "wecom:wmFirst") == known


async def test_a_new_client_by_label_later_and_only_by_their_advisor_or_staff(
    bot: Harness,
) -> None:
    await contact_added(bot, "wecom:wmA", name="客户A")
    await contact_added(bot, "wecom:wmB", name="客户B")
    mine = await file_of(bot, "wecom:wmB")
    await bot.say("/help", user="adv1")  # other messages in between: asked again on request
    shown = await bot.text("/wecom new", user="adv1")
    assert "客户B" in shown and "还有 1 位" in shown
    kept = await bot.text("是新客户", user="adv1")
    assert f"#{mine} 保留为新客户" in kept and "客户A" in kept

    not_theirs = await bot.press(f"wcq:{await file_of(bot, 'wecom:wmA')}:new", user="adv2")
    assert "console:adv1" in not_theirs[0].plain
    by_staff = await bot.press(f"wcq:{await file_of(bot, 'wecom:wmA')}:new", user="desk")
    assert "保留为新客户" in by_staff[0].plain
    async with bot.app.db.read() as tx:
        assert not await tx.wecom_questions.open_for("console:adv1")
        logged = await tx.audit.recent("wecom.contact_answer")
    assert len(logged) == 2


async def test_typed_numbers_without_an_open_question_are_not_taken(bot: Harness) -> None:
    await on_file(bot, "telegram:6161", "孙七", phone="13700002222")
    answer = await bot.text("13700002222", user="adv1")
    assert "并入" not in answer and "手机号为" not in answer


async def test_a_file_merged_by_hand_or_erased_leaves_nothing_to_ask(bot: Harness) -> None:
    known = await on_file(bot, "telegram:7171", "周八")
    await contact_added(bot, "wecom:wmC", name="周八")
    mine = await file_of(bot, "wecom:wmC")
    await bot.say(f"/client merge {known} {mine}", user="adv1")
    assert "没有待确认" in await bot.text("/wecom new", user="adv1")
    assert "已不存在" in (await bot.press(f"wcq:{mine}:new", user="adv1"))[0].plain

    await contact_added(bot, "wecom:wmD", name="吴九")
    erased = await file_of(bot, "wecom:wmD")
    async with bot.app.db.write() as tx:
        await tx.clients.erase(erased)  # type: ignore[arg-type]
    async with bot.app.db.read() as tx:
        assert await tx.wecom_questions.get(erased) is None  # type: ignore[arg-type]


async def test_staff_hear_of_a_wecom_member_no_advisor_is_linked_to(
    make_settings: SettingsFactory,
) -> None:
    bot = Harness(make_settings(STAFF_CHAT="console:desk"), buttons=False)
    await bot.start()
    try:
        await bot.say("/grant console:adv1 advisor", user="admin")
        await bot.say("/wecom me zhangsan", user="adv1")
        for userid, chat in (("lisi", "wecom:wmL"), ("zhangsan", "wecom:wmZ")):
            async with bot.app.db.write() as tx:
                await tx.clients.get_or_create(
                    chat, language="zh", display_name=None, username=None
                )
            event = Inbound(
                "wecom", chat, chat, kind="contact", args=[userid], dedupe_key=f"k:{chat}"
            )
            sent = await bot.send(event)
            if userid == "lisi":
                [told] = sent
                assert told.chat == "console:desk" and "/wecom 顾问地址 lisi" in told.plain
            else:
                assert not sent  # a linked member: their advisor was set by the channel
    finally:
        await bot.stop()
