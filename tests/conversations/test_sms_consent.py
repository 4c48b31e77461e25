"""SMS consent said in a chat: the client's own `/sms on|off` (source chat), staff recording
it for a client (source staff, audited), and the client file showing it."""

from __future__ import annotations

import pytest

from bot.core.commands import text_event
from storage.records import SmsConsent
from tests.harness import Harness

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


async def consent(bot: Harness, address: str = "console:alice") -> SmsConsent:
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address(address)
        assert client is not None
        return await tx.sms.consent(client.id)


async def client_id(bot: Harness, address: str = "console:alice") -> int:
    async with bot.app.db.read() as tx:
        client = await tx.clients.by_address(address)
        assert client is not None
        return client.id


async def test_a_client_agrees_and_withdraws_in_the_chat(bot: Harness) -> None:
    shown = await bot.text("/sms")
    assert "短信推送:未表态" in shown and "/sms on" in shown
    assert "还没有您的手机号" in shown

    said = await bot.text("/sms on")
    assert "已记录您同意用短信接收" in said and "/sms off" in said
    given = await consent(bot)
    assert (given.consented, given.source) == (True, "chat")
    assert given.at is not None

    said = await bot.text("/sms off")
    assert "不再用短信" in said and "账户和工单的通知仍会发送" in said
    withdrawn = await consent(bot)
    assert (withdrawn.consented, withdrawn.source) == (False, "chat")
    assert "短信推送:不同意" in await bot.text("/SMS")


async def test_the_number_on_file_is_shown_masked(bot: Harness) -> None:
    await bot.say("/start")
    async with bot.app.db.write() as tx:
        client = await tx.clients.by_address("console:alice")
        await tx.files.set(client.id, phone="13912345678")
    said = await bot.text("/sms on")
    assert "139****5678" in said and "13912345678" not in said
    async with bot.app.db.read() as tx:  # /sms on lifts an earlier opt-out of that number
        assert await tx.sms.consenting() == [(await client_id(bot), "13912345678")]


async def test_english_speakers_get_english(bot: Harness) -> None:
    await bot.say("/lang en")
    said = await bot.text("/sms on")
    assert "you agreed to receive topic news and risk warnings by SMS" in said
    assert "Texts (SMS): agreed" in await bot.text("/sms")


async def test_nonsense_gets_the_usage_and_changes_nothing(bot: Harness) -> None:
    for text in ("/sms maybe", "/sms on please now", "/sms on telegram:1"):
        reply = await bot.text(text)
        assert "/sms on" in reply and "/sms off" in reply
        assert "地址或编号" not in reply, "a client is not shown the staff form"
    assert (await consent(bot)).consented is None


async def test_not_in_a_group(bot: Harness) -> None:
    event = text_event("telegram", "telegram:-100777", "telegram:5", "/sms on")
    [refused] = await bot.send(event)
    assert "私聊" in refused.plain
    assert (await consent(bot, "telegram:5")).consented is None


async def test_staff_record_a_clients_answer_audited_and_the_file_shows_it(bot: Harness) -> None:
    await bot.say("/start", user="bob")
    bob = await client_id(bot, "console:bob")
    await bot.say("/grant console:staff1 staff", user="admin")

    said = await bot.text(f"/sms on {bob}", user="staff1")
    assert f"已为客户 {bob} 登记:同意接收短信" in said
    assert "档案中还没有手机号" in said
    given = await consent(bot, "console:bob")
    assert (given.consented, given.source) == (True, "staff")

    said = await bot.text("/sms off console:bob", user="staff1")
    assert "不同意接收短信" in said
    assert (await consent(bot, "console:bob")).consented is False
    async with bot.app.db.read() as tx:
        audit = [r for r in await tx.audit.recent(limit=20) if r["action"] == "client.sms_consent"]
    assert [(r["actor"], r["detail"]) for r in reversed(audit)] == [
        ("console:staff1", {"client_id": bob, "consent": True}),
        ("console:staff1", {"client_id": bob, "consent": False}),
    ]

    file = await bot.text(f"/client {bob}", user="staff1")
    assert "短信:不同意(" in file and "工作人员登记" in file

    assert "找不到客户" in await bot.text("/sms on telegram:424242", user="staff1")
    assert "/sms on|off 地址或编号" in await bot.text("/sms yes 1", user="staff1")


async def test_the_file_says_when_nobody_asked(bot: Harness) -> None:
    await bot.say("/start", user="bob")
    await bot.say("/grant console:staff1 staff", user="admin")
    file = await bot.text("/client console:bob", user="staff1")
    assert "短信:未表态" in file
    await bot.say("/sms on", user="bob")
    file = await bot.text("/client console:bob", user="staff1")
    assert "短信:同意(" in file and "客户在聊天中" in file


async def test_a_client_cannot_record_for_another(bot: Harness) -> None:
    await bot.say("/start", user="bob")
    await bot.say("/sms on console:bob")
    assert (await consent(bot, "console:bob")).consented is None
