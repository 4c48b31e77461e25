"""Hostile and broken requests to the WeChat webhook: refused with a clear status, never a
500, nothing recorded; WeChat's own retries handled once, even when they arrive together."""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
import time

from storage.schema import messages as m
from tests.e2e.wechat.conftest import AES_KEY, ALICE, WechatBot
from tests.fakes.wechat_server import XXE, WechatCrypto, billion_laughs, build_xml


async def inbound(bot: WechatBot) -> int:
    async with bot.app.db.read() as tx:
        return await tx.messages.count(direction="in")


def text_xml(content: str = "你好", msg_id: int = 1, openid: str = ALICE) -> str:
    return build_xml(
        {
            "ToUserName": "gh_0123456789ab",
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
        }
    )


async def post(bot: WechatBot, xml: str | bytes, **query: str) -> int | None:
    """A POST the way the bot's mode expects it (encrypted in safe mode), query overridable."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if bot.wechat.crypto is not None:
        encrypt = bot.wechat.crypto.encrypt(raw.decode(errors="replace"))
        body, signed = bot.wechat.encrypted_body(encrypt), bot.wechat.sign_query(encrypt)
    else:
        body, signed = raw, bot.wechat.sign_query()
    return (await bot.wechat.post_raw(body, signed | query)).status


async def test_wrong_signature_stale_timestamp_and_replayed_nonce(wx: WechatBot) -> None:
    assert await post(wx, text_xml(), signature="0" * 40) == 403
    if wx.wechat.crypto is not None:
        assert await post(wx, text_xml(), msg_signature="f" * 40) == 403
    stale = str(int(time.time()) - 3600)
    crypto = wx.wechat.crypto
    encrypt = crypto.encrypt(text_xml(msg_id=7)) if crypto else None
    query = wx.wechat.sign_query(encrypt, timestamp=stale)
    body = wx.wechat.encrypted_body(encrypt) if encrypt else text_xml(msg_id=7).encode()
    assert (await wx.wechat.post_raw(body, query)).status == 403
    assert await inbound(wx) == 0
    # The same signed query reused for another message is a replay; for the same one, a retry.
    encrypt = crypto.encrypt(text_xml(msg_id=8)) if crypto else None
    query = wx.wechat.sign_query(encrypt)
    body = wx.wechat.encrypted_body(encrypt) if encrypt else text_xml(msg_id=8).encode()
    assert (await wx.wechat.post_raw(body, query)).status == 200
    assert (await wx.wechat.post_raw(body, query)).status == 200, "WeChat's retry"
    other = crypto.encrypt(text_xml(msg_id=9)) if crypto else None
    if crypto is None:  # plain mode: the signature does not cover the body
        assert (await wx.wechat.post_raw(text_xml(msg_id=9).encode(), query)).status == 403
    else:
        forged = wx.wechat.sign_query(other, timestamp=query["timestamp"], nonce=query["nonce"])
        assert (await wx.wechat.post_raw(wx.wechat.encrypted_body(other), forged)).status == 403
    await wx.settled()
    assert await inbound(wx) == 1


async def test_malformed_truncated_and_entity_payloads(wx: WechatBot) -> None:
    whole = text_xml()
    started = time.monotonic()
    for xml in (
        whole[: len(whole) // 2],
        "<xml><MsgType>text</MsgType>",
        "not xml at all",
        "<xml></xml>",
        "<root><MsgType>text</MsgType></root>",
        XXE,
        billion_laughs(),
        text_xml(openid="bad id with spaces"),
        "\ufeff\x00<xml>",
    ):
        assert await post(wx, xml) == 400, xml[:60]
    assert time.monotonic() - started < 10, "nothing expanded"
    assert await inbound(wx) == 0


async def test_an_oversize_body_is_refused(wx: WechatBot) -> None:
    assert await post(wx, text_xml("长" * 40_000)) == 413
    assert await inbound(wx) == 0


async def test_a_message_for_another_appid_is_refused(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat(safe=True)  # type: ignore[operator]
    foreign = WechatCrypto(AES_KEY, "wx9999888877776666").encrypt(text_xml())
    query = bot.wechat.sign_query(foreign)
    assert (await bot.wechat.post_raw(bot.wechat.encrypted_body(foreign), query)).status == 400
    plain = bot.wechat.sign_query()
    assert (await bot.wechat.post_raw(text_xml().encode(), plain)).status == 400, (
        "safe mode takes no plaintext"
    )
    assert await inbound(bot) == 0


async def test_garbage_ciphertext_with_a_valid_signature_is_never_a_500(
    make_wechat: object,
) -> None:
    bot: WechatBot = await make_wechat(safe=True)  # type: ignore[operator]
    rng = random.Random(20261201)
    crypto = bot.wechat.crypto
    assert crypto is not None
    good = crypto.encrypt(text_xml())
    samples = [
        "",
        "=",
        "!!!!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(32)).decode(),
        good[:-8],
        good[:16] + good[20:],
    ]
    sizes = [16, 31, 32, 48, 64, 4096]
    samples += [base64.b64encode(secrets.token_bytes(rng.choice(sizes))).decode()
                for _ in range(60)]  # fmt: skip
    samples += ["".join(rng.choice("AZaz09+/=") for _ in range(rng.randint(1, 300)))
                for _ in range(60)]  # fmt: skip
    statuses = set()
    for encrypt in samples:
        query = bot.wechat.sign_query(encrypt)
        attempt = await bot.wechat.post_raw(bot.wechat.encrypted_body(encrypt), query)
        statuses.add(attempt.status)
    assert statuses <= {400}, statuses
    assert await inbound(bot) == 0


async def test_retries_arriving_together_are_handled_once(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat(safe=True)  # type: ignore[operator]
    bot.wechat.concurrent_retries = True
    result = await bot.wechat.send_text(ALICE, "怎么开户")
    await bot.settled()
    assert [a.status for a in result.attempts] == [200, 200, 200]
    replies = [a.reply for a in result.attempts if a.reply is not None]
    assert len(replies) == 1 and "开户" in (replies[0].content or ""), "one answer"
    assert bot.api.custom_sends == [], "and not a second one through the API"
    async with bot.app.db.read() as tx:
        rows = await tx.conn.execute(m.select().where(m.c.direction == "in"))
        assert len(rows.all()) == 1


async def test_many_clients_at_once(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat(safe=True)  # type: ignore[operator]
    results = await asyncio.gather(
        *(bot.wechat.send_text(f"o_user_{i:022d}", "怎么开户") for i in range(30))
    )
    await bot.settled()
    assert all(r.status == 200 for r in results)
    assert sum(r.reply is not None for r in results) + len(bot.api.custom_sends) == 30


async def test_a_body_arriving_in_pieces_is_read_whole(make_wechat: object) -> None:
    bot: WechatBot = await make_wechat(safe=True)  # type: ignore[operator]
    crypto = bot.wechat.crypto
    assert crypto is not None
    encrypt = crypto.encrypt(text_xml("金价" * 1500, msg_id=4242))
    body, query = bot.wechat.encrypted_body(encrypt), bot.wechat.sign_query(encrypt)
    s = bot.settings
    path = s.wechat.webhook_path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    reader, writer = await asyncio.open_connection(s.http.host, s.http.port)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    writer.write(head + body[:1000])
    await writer.drain()
    await asyncio.sleep(0.2)  # the rest comes in a later segment
    writer.write(body[1000:])
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert b" 200 " in status
    await bot.settled()
    assert await inbound(bot) == 1


async def test_an_event_with_nothing_to_say_takes_no_passive_reply(wx: WechatBot) -> None:
    webhook = wx.channels[0].webhook  # type: ignore[attr-defined]
    message = {"ToUserName": "gh_0123456789ab", "FromUserName": ALICE,
               "CreateTime": 1_800_000_000, "MsgType": "event", "Event": "VIEW"}  # fmt: skip
    result = await wx.wechat.push(message)
    assert result.body == b"success" and webhook.passive._open == {}
