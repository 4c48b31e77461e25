"""Clients on the official account: the handshake, a follow's greeting and menu, questions
answered in the HTTP response, menu clicks, buttons as numbered options, unfollow."""

from __future__ import annotations

from tests.e2e.wechat.conftest import ALICE, WechatBot


async def test_the_handshake_echoes_and_a_forged_one_is_refused(wx: WechatBot) -> None:
    assert await wx.wechat.verify("8923749238") == "8923749238"
    query = wx.wechat.sign_query() | {"echostr": "1", "signature": "0" * 40}
    status, _ = await wx.wechat.get_raw(query)
    assert status == 403


async def test_a_follow_gets_the_greeting_and_the_menu_as_numbered_options(
    wx: WechatBot,
) -> None:
    result = await wx.wechat.follow(ALICE)
    await wx.settled()
    assert result.status == 200 and result.reply is not None, "answered in the response"
    text = result.reply.content or ""
    assert "国瑞投资" in text and "1." in text and "回复数字" in text
    assert wx.api.custom_sends == [], "nothing needed the API"


async def test_a_question_is_answered_passively_and_a_number_presses_the_option(
    wx: WechatBot,
) -> None:
    await wx.wechat.follow(ALICE)
    await wx.settled()
    answer = await wx.say("怎么开户")
    assert answer.reply is not None and "开户" in (answer.reply.content or "")
    topics = await wx.say("/topics")
    assert topics.reply is not None and "1." in (topics.reply.content or "")
    picked = await wx.say("1")
    assert picked.reply is not None and (picked.reply.content or "").strip()
    async with wx.app.db.read() as tx:
        client = await tx.clients.by_address(f"wechat:{ALICE}")
    assert client is not None


async def test_a_menu_click_is_the_command_it_names(wx: WechatBot) -> None:
    await wx.wechat.follow(ALICE)
    await wx.settled()
    result = await wx.wechat.click(ALICE, "/mysubs")
    await wx.settled()
    assert result.reply is not None and (result.reply.content or "")


async def test_unfollow_ends_the_clients_wechat_deliveries(wx: WechatBot) -> None:
    await wx.wechat.follow(ALICE)
    await wx.settled()
    await wx.say("/subscribe morning")
    async with wx.app.db.read() as tx:
        client = await tx.clients.by_address(f"wechat:{ALICE}")
        assert client is not None and await tx.subscriptions.of(client.id)
    result = await wx.wechat.unfollow(ALICE)
    await wx.settled()
    assert result.status == 200 and result.reply is None
    async with wx.app.db.read() as tx:
        assert await tx.subscriptions.of(client.id) == []


async def test_events_with_nothing_to_say_are_kept_and_answered_success(wx: WechatBot) -> None:
    for event in ("VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "SOMETHING_NEW"):
        message = {"ToUserName": "gh_0123456789ab", "FromUserName": ALICE,
                   "CreateTime": 1_800_000_000, "MsgType": "event", "Event": event}  # fmt: skip
        result = await wx.wechat.push(message)
        assert result.status == 200 and result.reply is None, event
    photo = await wx.wechat.push({"ToUserName": "gh_0123456789ab", "FromUserName": ALICE,
                                  "CreateTime": 1_800_000_001, "MsgType": "image",
                                  "PicUrl": "http://x/y.jpg", "MsgId": 77})  # fmt: skip
    await wx.settled()
    assert photo.reply is not None and "文字" in (photo.reply.content or "")
    async with wx.app.db.read() as tx:
        assert await tx.messages.count(direction="in") == 5, "every one archived"
