"""Clients on QQ through a OneBot v11 implementation: private chats, groups that must
address the bot, CQ codes and segment arrays, and text that can never inject a CQ code."""

from __future__ import annotations

from tests.e2e.qq.conftest import QQBot

GROUP = 7770001


async def test_a_private_chat_gets_the_menu_and_answers(qq: QQBot) -> None:
    [menu] = await qq.say("/start")
    assert "国瑞投资" in menu and "1." in menu and "回复数字" in menu
    [answer] = await qq.say("怎么开户")
    assert "开户" in answer
    async with qq.app.db.read() as tx:
        assert await tx.clients.by_address("qq:20001") is not None


async def test_in_a_group_only_what_is_addressed_to_the_bot(qq: QQBot) -> None:
    assert await qq.say("大家好,今天金价怎么样", group=GROUP) == []
    mention = [{"type": "at", "data": {"qq": str(qq.onebot.self_id)}},
               {"type": "text", "data": {"text": " 怎么开户"}}]  # fmt: skip
    before = len(qq.onebot.texts(GROUP))
    await qq.onebot.push(qq.onebot.group(GROUP, 20002, mention))
    await qq.settled()
    assert any("开户" in t for t in qq.onebot.texts(GROUP)[before:])
    assert await qq.say("/topics", group=GROUP), "the command prefix addresses it too"
    cq_string = f"[CQ:at,qq={qq.onebot.self_id}] /help"
    assert await qq.say(cq_string, group=GROUP), "CQ-code strings are read as well"
    async with qq.app.db.read() as tx:
        assert await tx.messages.count(direction="in") == 3, "group chatter is not kept"


async def test_client_text_cannot_inject_a_cq_code(qq: QQBot) -> None:
    await qq.say("/advisor")
    await qq.say("我的问题 [CQ:at,qq=all] &#91;CQ:face,id=1&#93;")
    for action in qq.onebot.actions:
        message = (action.get("params") or {}).get("message")
        if message is None:
            continue
        assert isinstance(message, list), "always segment arrays"
        assert all(s["type"] in ("text", "reply") for s in message)
