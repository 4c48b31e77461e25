"""The WeCom fakes checked against Tencent's published vectors and the documented rules.

Vectors: Tencent's WeCom callback sample (weworkapi_python, callback/Sample.py: token
"hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", corp ww1436e0e65a779aee), for URL verification and for
a pushed message. Time is the fake clock's (1 December 2026, 09:00 in Beijing), never today's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import struct
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.clock import FakeTime
from tests.fakes.wecom_api import FakeWecomApi
from tests.fakes.wecom_server import CryptoError, WecomCrypto, WecomServer, msg_signature

# Tencent's WeCom sample (callback/Sample.py).
SAMPLE_TOKEN, SAMPLE_CORP = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "ww1436e0e65a779aee"
SAMPLE_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
VERIFY = ("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683")
VERIFY_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
PUSH = ("0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914")
PUSH_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTk"
    "AgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJP"
    "QbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7Mhm"
    "EbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/"
    "oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
)
PUSH_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)
CORP, KF_SECRET, CONTACT_SECRET = "ww1111222233334444", "kf-s3cret", "contact-s3cret"
TOKEN, KEY = "t0ken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KFID, KFID2 = "wkAJ2GCAAA0000000000000000000001", "wkAJ2GCAAA0000000000000000000002"
ALICE, BOB, CAROL = "wmAliceAAAAAAAAAAAAAAAAAAAAAAAA", "wmBobBBBBBBBBBBBBB", "wmCarolCCCCCCCC"
ADVISOR, ADVISOR2 = "zhangsan", "lisi"
DAY = 86400
JSON = dict[str, Any]


def independent_decrypt(encoding_aes_key: str, encrypt: str) -> tuple[str, str]:
    """The doc's decryption, written out here apart from WecomCrypto: (message, receiveid)."""
    key = base64.b64decode(encoding_aes_key + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
    plain = plain[: -plain[-1]]
    (size,) = struct.unpack(">I", plain[16:20])
    return plain[20 : 20 + size].decode(), plain[20 + size :].decode()


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


# ---- crypto -------------------------------------------------------------------------------------


def test_tencent_sample_vectors() -> None:
    assert msg_signature(SAMPLE_TOKEN, VERIFY[1], VERIFY[2], VERIFY_ECHOSTR) == VERIFY[0]
    crypto = WecomCrypto(SAMPLE_KEY, SAMPLE_CORP)
    assert crypto.unpack(VERIFY_ECHOSTR) == ("1288432023552776189", SAMPLE_CORP)
    assert msg_signature(SAMPLE_TOKEN, PUSH[1], PUSH[2], PUSH_ENCRYPT) == PUSH[0]
    assert crypto.decrypt(PUSH_ENCRYPT) == PUSH_PLAINTEXT
    server = WecomServer("http://unused", SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP)
    assert server.sign_query(PUSH_ENCRYPT, timestamp=PUSH[1], nonce=PUSH[2]) == {
        "msg_signature": PUSH[0], "timestamp": PUSH[1], "nonce": PUSH[2],
    }  # fmt: skip


def test_encryption_round_trip_against_independent_decryption() -> None:
    crypto = WecomCrypto(KEY, CORP)
    for text in ["", "x", "中" * 10, "a" * 12, "b" * 1000]:  # every padding length shape
        sealed = crypto.encrypt(text)
        assert independent_decrypt(KEY, sealed) == (text, CORP)
        assert len(base64.b64decode(sealed)) % 32 == 0  # PKCS#7 to 32, not 16
        assert crypto.decrypt(sealed) == text
    assert crypto.encrypt("same") != crypto.encrypt("same")  # fresh random prefix
    with pytest.raises(CryptoError, match="receiveid"):
        WecomCrypto(KEY, "ww_other").decrypt(crypto.encrypt("hi"))
    for garbage in ["!!!not base64", "QUJD", "A" * 43 + "=", ""]:
        with pytest.raises(CryptoError):
            crypto.decrypt(garbage)
    with pytest.raises(ValueError, match="43"):
        WecomCrypto("short", CORP)


# ---- the API fake: fixtures ---------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # 09:00 in Beijing


@pytest.fixture
async def api(clock: FakeTime) -> AsyncIterator[FakeWecomApi]:
    secrets = {KF_SECRET: ["kf"], CONTACT_SECRET: ["contact"]}
    async with FakeWecomApi(CORP, secrets, open_kfids=(KFID, KFID2), clock=clock.epoch) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Get = Callable[..., Awaitable[JSON]]
Post = Callable[..., Awaitable[JSON]]


@pytest.fixture
def get(api: FakeWecomApi, http: aiohttp.ClientSession) -> Get:
    async def get(path: str, **query: str) -> JSON:
        async with http.get(api.base_url + path, params=query) as resp:
            return dict(await resp.json())

    return get


@pytest.fixture
def post(api: FakeWecomApi, http: aiohttp.ClientSession, get: Get) -> Post:
    """POST JSON (or bytes) with a token of `secret` (the kf app's unless told)."""

    async def post(path: str, body: Any, *, secret: str = KF_SECRET, token: str = "") -> JSON:
        if not token:
            token = (await get("/cgi-bin/gettoken", corpid=CORP, corpsecret=secret))["access_token"]
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = f"{api.base_url}/cgi-bin/{path}"
        async with http.post(url, params={"access_token": token}, data=data) as resp:
            return dict(await resp.json())

    return post


def text(user: str, content: str, kfid: str = KFID, **rest: Any) -> JSON:
    body = {"touser": user, "open_kfid": kfid, "msgtype": "text", "text": {"content": content}}
    return body | rest


async def errcode(post: Post, path: str, body: Any, **kw: Any) -> int:
    return int((await post(path, body, **kw))["errcode"])


# ---- tokens -------------------------------------------------------------------------------------


async def test_gettoken_expiry_and_scopes(
    api: FakeWecomApi, get: Get, post: Post, clock: FakeTime
) -> None:
    first = await get("/cgi-bin/gettoken", corpid=CORP, corpsecret=KF_SECRET)
    assert first["errcode"] == 0 and first["expires_in"] == 7200
    bad = [("ww_wrong", KF_SECRET, 40013), (CORP, "wrong", 40001), ("", KF_SECRET, 41002),
           (CORP, "", 41004)]  # fmt: skip
    for corp, secret, code in bad:
        answer = await get("/cgi-bin/gettoken", corpid=corp, corpsecret=secret)
        assert answer["errcode"] == code and "access_token" not in answer
        assert answer["errmsg"].endswith(
            f"more info at https://open.work.weixin.qq.com/devtool/query?e={code}"
        )
        assert ", hint: [" in answer["errmsg"] and "from ip: " in answer["errmsg"]
    clock.advance(100)
    again = await get("/cgi-bin/gettoken", corpid=CORP, corpsecret=KF_SECRET)
    assert again["access_token"] == first["access_token"] and again["expires_in"] == 7100
    token = first["access_token"]
    api.client_says(ALICE, "hi")
    assert await errcode(post, "kf/send_msg", text(ALICE, "ok"), token=token) == 0
    assert await errcode(post, "kf/send_msg", text(ALICE, "x"), token="made-up") == 40014
    assert await errcode(post, "kf/send_msg", text(ALICE, "x"), token=" ") == 40014
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/cgi-bin/kf/send_msg", data=b"{}") as resp:
            assert (await resp.json())["errcode"] == 41001
    clock.advance(7100)
    assert await errcode(post, "kf/send_msg", text(ALICE, "x"), token=token) == 42001
    fresh = await get("/cgi-bin/gettoken", corpid=CORP, corpsecret=KF_SECRET)
    assert fresh["access_token"] != token and fresh["expires_in"] == 7200
    api.expire_tokens()
    assert await errcode(post, "kf/send_msg", text(ALICE, "x"), token=fresh["access_token"]) > 0
    assert api.calls[-1].errcode == 42001
    # each app's token calls that app's APIs only
    body = {"msgid": "msg-none"}
    assert await errcode(post, "externalcontact/get_groupmsg_task", body) == 48002
    assert await errcode(post, "externalcontact/get_groupmsg_task", body,
                         secret=CONTACT_SECRET) == 41047  # fmt: skip
    assert await errcode(post, "kf/sync_msg", {}, secret=CONTACT_SECRET) == 48002
    assert api.token_fetches == 6


# ---- 微信客服: reading messages -----------------------------------------------------------------


async def sync(post: Post, **body: Any) -> JSON:
    answer = await post("kf/sync_msg", body)
    assert answer["errcode"] == 0, answer
    return answer


async def test_cursor_resumes_without_loss_or_repeat(api: FakeWecomApi, post: Post) -> None:
    sent = [api.client_says(ALICE, f"m{i}") for i in range(7)]
    api.page_cap = 3  # "可能会出现返回条数少于limit的情况"
    pages, cursor = [], ""
    while True:
        answer = await sync(post, cursor=cursor, token=api.callback_token())
        pages.append([m["msgid"] for m in answer["msg_list"]])
        cursor = answer["next_cursor"]
        assert 0 < len(cursor) <= 64
        if not answer["has_more"]:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [m for p in pages for m in p] == sent
    assert (await sync(post, cursor=cursor))["msg_list"] == []  # nothing new: nothing again
    later = [api.client_says(BOB, "late"), api.client_says(ALICE, "later", open_kfid=KFID2)]
    answer = await sync(post, cursor=cursor, limit=1)
    assert [m["msgid"] for m in answer["msg_list"]] == later[:1] and answer["has_more"] == 1
    answer = await sync(post, cursor=answer["next_cursor"])
    assert [m["msgid"] for m in answer["msg_list"]] == later[1:] and answer["has_more"] == 0
    only_second = await sync(post, open_kfid=KFID2)  # one account's messages
    assert [m["msgid"] for m in only_second["msg_list"]] == later[1:]
    api.page_cap = None
    everything = await sync(post, limit=5000)  # "默认值和最大值都为1000" (clamped here)
    assert len(everything["msg_list"]) == 9
    first = everything["msg_list"][0]
    assert first == {
        "msgid": sent[0], "open_kfid": KFID, "external_userid": ALICE,
        "send_time": int(api.clock()), "origin": 3, "msgtype": "text", "text": {"content": "m0"},
    }  # fmt: skip
    assert await errcode(post, "kf/sync_msg", {"cursor": "not-a-cursor"}) == 40058
    assert await errcode(post, "kf/sync_msg", {"open_kfid": "wkOther"}) == 95004
    assert await errcode(post, "kf/sync_msg", {"limit": 0}) == 40058


async def test_three_days_and_callback_token(
    api: FakeWecomApi, post: Post, clock: FakeTime
) -> None:
    old = api.client_says(ALICE, "old")
    clock.advance(2 * DAY)
    new = api.client_says(ALICE, "new")
    assert [m["msgid"] for m in (await sync(post))["msg_list"]] == [old, new]
    clock.advance(DAY - 1)
    assert len((await sync(post))["msg_list"]) == 2
    clock.advance(1)  # three days after "old": gone
    assert [m["msgid"] for m in (await sync(post))["msg_list"]] == [new]
    token = api.callback_token()
    clock.advance(599)
    await sync(post, token=token)
    clock.advance(1)  # a callback Token lasts 10 minutes
    assert await errcode(post, "kf/sync_msg", {"token": token}) == 95007
    assert await errcode(post, "kf/sync_msg", {"token": "ENCforged"}) == 95007
    assert api.untokened_syncs == 3 and api.syncs == 4
    api.untokened_limit = 4  # "如果不填接口有严格的频率限制"
    await sync(post)
    assert await errcode(post, "kf/sync_msg", {}) == 45009
    await sync(post, token=api.callback_token())


# ---- 微信客服: sending --------------------------------------------------------------------------


async def test_five_sends_within_48_hours(api: FakeWecomApi, post: Post, clock: FakeTime) -> None:
    assert await errcode(post, "kf/send_msg", text(ALICE, "first")) == 95018  # 未开始
    api.client_says(ALICE, "hello")
    codes = [await errcode(post, "kf/send_msg", text(ALICE, f"r{i}")) for i in range(6)]
    assert codes == [0] * 5 + [95001]
    assert api.texts(ALICE) == [f"r{i}" for i in range(5)]
    clock.advance(3600)
    api.client_says(ALICE, "again")  # each message of theirs opens 5 again
    assert await errcode(post, "kf/send_msg", text(ALICE, "r5")) == 0
    clock.advance(48 * 3600 - 1)
    assert await errcode(post, "kf/send_msg", text(ALICE, "r6")) == 0
    clock.advance(1)
    assert await errcode(post, "kf/send_msg", text(ALICE, "too late")) == 95002
    api.client_says(BOB, "hi")
    assert await errcode(post, "kf/send_msg", text(BOB, "x" * 2048)) == 0
    assert await errcode(post, "kf/send_msg", text(BOB, "中" * 683)) == 45002  # 2049 bytes
    assert await errcode(post, "kf/send_msg", text(BOB, "")) == 44004
    assert await errcode(post, "kf/send_msg", text(BOB, "x", kfid="wkNotOurs")) == 95004
    assert await errcode(post, "kf/send_msg", text(BOB, "x", kfid="")) == 95000
    assert await errcode(post, "kf/send_msg", text(BOB, "x", kfid=KFID2)) == 95018  # other account
    assert await errcode(post, "kf/send_msg", {**text(BOB, "x"), "msgtype": "voice"}) == 40008
    assert await errcode(post, "kf/send_msg", b"{not json") == 40058
    assert await errcode(post, "kf/send_msg", b"[1]") == 40058
    answer = await post("kf/send_msg", text(BOB, "with id", msgid="reply-0001"))
    assert answer == {"errcode": 0, "errmsg": "ok", "msgid": "reply-0001"}
    # a repeated msgid is an error, not an idempotent success (and it sends nothing)
    assert await errcode(post, "kf/send_msg", text(BOB, "retry", msgid="reply-0001")) == 40058
    assert await errcode(post, "kf/send_msg", text(BOB, "x", msgid="a" * 33)) == 40058
    assert await errcode(post, "kf/send_msg", text(BOB, "x", msgid="has space")) == 40058
    assert api.texts(BOB) == ["x" * 2048, "with id"]
    generated = (await post("kf/send_msg", text(BOB, "auto")))["msgid"]
    assert isinstance(generated, str) and 0 < len(generated) <= 32
    menu = {"head_content": "请选择", "list": [
        {"type": "click", "click": {"id": "101", "content": "今日行情"}},
        {"type": "view", "view": {"url": "https://example.com", "content": "官网"}},
    ], "tail_content": "谢谢"}  # fmt: skip
    send_menu = {"touser": BOB, "open_kfid": KFID, "msgtype": "msgmenu", "msgmenu": menu}
    assert await errcode(post, "kf/send_msg", send_menu) == 0
    assert api.sent[-1].menu == menu and api.sent[-1].content is None
    assert await errcode(post, "kf/send_msg", send_menu) == 0
    assert await errcode(post, "kf/send_msg", send_menu) == 95001  # the 5 are used
    api.client_says(BOB, "more")
    too_many = {**send_menu, "msgmenu": {"list": menu["list"] * 6}}  # type: ignore[operator]
    assert await errcode(post, "kf/send_msg", too_many) == 95008
    bad_item = {**send_menu, "msgmenu": {"list": [{"type": "dance", "dance": {}}]}}
    assert await errcode(post, "kf/send_msg", bad_item) == 95009
    api.client_clicks_menu(BOB, "101", "今日行情")
    [*_, clicked] = (await sync(post))["msg_list"]
    assert clicked["text"] == {"menu_id": "101", "content": "今日行情"} and clicked["origin"] == 3


async def test_welcome_code_once_within_20_seconds(
    api: FakeWecomApi, post: Post, clock: FakeTime
) -> None:
    code = api.client_enters(ALICE, scene="ad", scene_param="a=1")
    assert code is not None
    [event] = (await sync(post))["msg_list"]
    assert set(event) == {"msgid", "send_time", "origin", "msgtype", "event"}
    assert event["origin"] == 4 and event["msgtype"] == "event"
    assert event["event"] == {
        "event_type": "enter_session", "open_kfid": KFID, "external_userid": ALICE,
        "scene": "ad", "scene_param": "a=1", "welcome_code": code,
    }  # fmt: skip
    clock.advance(19)
    welcome = {"code": code, "msgtype": "text", "text": {"content": "您好"}}
    answer = await post("kf/send_msg_on_event", welcome)
    assert answer["errcode"] == 0 and answer["msgid"]
    assert await errcode(post, "kf/send_msg_on_event", welcome) == 40058  # only once
    assert api.sent[-1].via == "send_msg_on_event" and api.sent[-1].touser == ALICE
    assert api.client_enters(ALICE) is None  # welcomed within 48 hours
    assert await errcode(post, "kf/send_msg", text(ALICE, "x")) == 95018  # still 未开始
    late = api.client_enters(BOB)
    assert late is not None
    clock.advance(20)
    assert await errcode(post, "kf/send_msg_on_event", {**welcome, "code": late}) == 40058
    # the welcome does not use the window a message opens
    carol = api.client_enters(CAROL)
    menu = {"list": [{"type": "click", "click": {"id": "1", "content": "开户"}}]}
    assert await errcode(post, "kf/send_msg_on_event",
                         {"code": carol, "msgtype": "msgmenu", "msgmenu": menu}) == 0  # fmt: skip
    api.client_says(CAROL, "开户")
    codes = [await errcode(post, "kf/send_msg", text(CAROL, "x")) for _ in range(6)]
    assert codes[-2:] == [0, 95001]
    assert api.client_enters(CAROL) is None  # they talked within 48 hours
    clock.advance(48 * 3600)
    assert api.client_enters(CAROL) is not None
    api.native_welcome = True  # a welcome set in the admin console: no code
    clock.advance(48 * 3600)
    assert api.client_enters(ALICE) is None
    assert await errcode(post, "kf/send_msg_on_event", {**welcome, "code": ""}) == 40063


async def test_session_states(api: FakeWecomApi, post: Post) -> None:
    def who(state: int, **rest: Any) -> JSON:
        return {"open_kfid": KFID, "external_userid": ALICE, "service_state": state} | rest

    async def state() -> JSON:
        return await post("kf/service_state/get", {"open_kfid": KFID, "external_userid": ALICE})

    assert (await state())["service_state"] == 4  # 未开始
    assert await errcode(post, "kf/service_state/trans", who(1)) == 95016
    api.client_says(ALICE, "在吗")
    assert (await state())["service_state"] == 0
    answer = await post("kf/service_state/trans", who(1))
    assert answer == {"errcode": 0, "errmsg": "ok"}  # no code for 1
    assert await errcode(post, "kf/service_state/trans", who(4)) == 95016  # not from 1
    assert await errcode(post, "kf/service_state/trans", who(7)) == 40058
    pool = (await post("kf/service_state/trans", who(2)))["msg_code"]
    assert await errcode(post, "kf/service_state/trans", who(3)) == 95014  # no servicer
    assert await errcode(post, "kf/service_state/trans", who(3, servicer_userid=ADVISOR)) == 95014
    api.servicers.add(ADVISOR)
    human = (await post("kf/service_state/trans", who(3, servicer_userid=ADVISOR)))["msg_code"]
    got = await state()
    assert (got["service_state"], got["servicer_userid"]) == (3, ADVISOR)
    assert await errcode(post, "kf/send_msg", text(ALICE, "x")) == 95018  # a human has it
    on_event = {"code": pool, "msgtype": "text", "text": {"content": "排队中"}}
    assert await errcode(post, "kf/send_msg_on_event", on_event) == 95018  # no longer in 2
    menu = {"list": [{"type": "click", "click": {"id": "1", "content": "好"}}]}
    as_menu = {"code": human, "msgtype": "msgmenu", "msgmenu": menu}
    assert await errcode(post, "kf/send_msg_on_event", as_menu) == 40008  # text only for 3
    assert await errcode(post, "kf/send_msg_on_event", {**on_event, "code": human}) == 0
    api.servicers.add(ADVISOR2)
    answer = await post("kf/service_state/trans", who(3, servicer_userid=ADVISOR2))
    assert "msg_code" not in answer  # only the first change to 3 in a session has one
    end = (await post("kf/service_state/trans", who(4)))["msg_code"]
    assert await errcode(post, "kf/send_msg_on_event", {**as_menu, "code": end}) == 0
    assert await errcode(post, "kf/service_state/trans", who(0)) == 95016  # none from 4
    api.client_says(ALICE, "又来了")  # a new session
    assert (await state())["service_state"] == 0
    assert "msg_code" in await post("kf/service_state/trans", who(2))
    assert [change[2:4] for change in api.state_changes] == [(0, 1), (1, 2), (2, 3), (3, 3),
                                                             (3, 4), (0, 2)]  # fmt: skip


# ---- 客户联系 -----------------------------------------------------------------------------------


async def contact(post: Post, path: str, body: Any) -> JSON:
    return await post(f"externalcontact/{path}", body, secret=CONTACT_SECRET)


async def group(post: Post, clients: list[str], content: str = "早盘提示", **rest: Any) -> JSON:
    body = {"chat_type": "single", "external_userid": clients, "text": {"content": content}}
    return await contact(post, "add_msg_template", body | rest)


async def send_result(post: Post, msgid: str, userid: str = ADVISOR) -> dict[str, JSON]:
    answer = await contact(post, "get_groupmsg_send_result", {"msgid": msgid, "userid": userid})
    assert answer["errcode"] == 0, answer
    return {row["external_userid"]: row for row in answer["send_list"]}


async def test_group_message_waits_for_the_advisor(
    api: FakeWecomApi, post: Post, clock: FakeTime
) -> None:
    api.add_contact(ADVISOR, ALICE)
    api.add_contact(ADVISOR, BOB)
    created = await group(post, [ALICE, BOB, CAROL], sender=ADVISOR)
    assert created["errcode"] == 0 and created["fail_list"] == [CAROL]
    msgid = created["msgid"]
    tasks = await contact(post, "get_groupmsg_task", {"msgid": msgid})
    assert tasks["task_list"] == [{"userid": ADVISOR, "status": 0}] and tasks["next_cursor"] == ""
    assert await send_result(post, msgid) == {
        ALICE: {"external_userid": ALICE, "userid": ADVISOR, "status": 0},
        BOB: {"external_userid": BOB, "userid": ADVISOR, "status": 0},
    }
    api.remove_contact(ADVISOR, BOB)  # the advisor deleted Bob before confirming
    clock.advance(600)
    api.confirm_task(msgid)
    sent_at = int(api.clock())
    tasks = await contact(post, "get_groupmsg_task", {"msgid": msgid})
    assert tasks["task_list"] == [{"userid": ADVISOR, "status": 2, "send_time": sent_at}]
    results = await send_result(post, msgid)
    assert results[ALICE]["status"] == 1 and results[ALICE]["send_time"] == sent_at
    assert results[BOB] == {"external_userid": BOB, "userid": ADVISOR, "status": 2}
    assert api.received(ALICE) == ["早盘提示"] and api.received(BOB) == []
    # without a sender each client's task goes to the advisor who added them last
    api.add_contact(ADVISOR2, CAROL)
    api.add_contact(ADVISOR2, ALICE)
    both = await group(post, [ALICE, CAROL, BOB])
    assert both["fail_list"] == [BOB]
    tasks = await contact(post, "get_groupmsg_task", {"msgid": both["msgid"]})
    assert [t["userid"] for t in tasks["task_list"]] == [ADVISOR2]
    assert set(await send_result(post, both["msgid"], ADVISOR2)) == {ALICE, CAROL}
    assert await send_result(post, both["msgid"], ADVISOR) == {}
    api.confirm_all(ADVISOR2)
    assert api.group_tasks[-1].tasks[ADVISOR2].status == 2
    assert (await group(post, [BOB]))["errcode"] == 41048  # nobody to send to
    assert (await group(post, [ALICE], sender="nobody"))["errcode"] == 40003
    assert (await group(post, [ALICE], content=""))["errcode"] == 44004
    assert (await group(post, [ALICE], content="字" * 1334))["errcode"] == 40058  # 4002 bytes
    assert (await contact(post, "get_groupmsg_task", {}))["errcode"] == 41046
    assert (await contact(post, "get_groupmsg_task", {"msgid": "msgNone"}))["errcode"] == 41047
    assert (await contact(post, "get_groupmsg_send_result", {"msgid": msgid}))["errcode"] == 41009
    api.dispatch_seconds = 5  # "群发消息正在被派发中，请稍后再试"
    fresh = (await group(post, [ALICE], sender=ADVISOR))["msgid"]
    assert (await contact(post, "get_groupmsg_task", {"msgid": fresh}))["errcode"] == 41063
    clock.advance(5)
    assert (await contact(post, "get_groupmsg_task", {"msgid": fresh}))["errcode"] == 0


async def test_one_group_message_a_day_in_beijing(
    api: FakeWecomApi, post: Post, clock: FakeTime
) -> None:
    api.receive_rule = "day"  # 群发助手-设置群发规则: 每天接收一条
    api.add_contact(ADVISOR, ALICE)

    async def send_now(content: str) -> int:
        msgid = (await group(post, [ALICE], content, sender=ADVISOR))["msgid"]
        api.confirm_task(msgid, ADVISOR)
        return int((await send_result(post, msgid))[ALICE]["status"])

    assert await send_now("09:00") == 1
    clock.set(datetime(2026, 12, 1, 15, 59, 59, tzinfo=UTC))  # 23:59:59 in Beijing
    assert await send_now("23:59") == 3  # 因客户已经收到其他群发消息导致发送失败
    clock.advance(1)  # midnight in Beijing, still 1 December in UTC
    assert await send_now("00:00") == 1
    api.client_received_group_message(ALICE, "an advisor's own")  # counts as well
    clock.advance(12 * 3600)
    assert await send_now("noon") == 3
    assert api.received(ALICE) == ["09:00", "00:00", "an advisor's own"]


async def test_group_messages_a_month_by_default(
    api: FakeWecomApi, post: Post, clock: FakeTime
) -> None:
    assert api.receive_rule == "month"  # "每位客户每月最多可接收条数为当月天数"
    api.add_contact(ADVISOR, ALICE)
    api.add_contact(ADVISOR, BOB)
    for _ in range(30):
        api.client_received_group_message(ALICE)
    msgid = (await group(post, [ALICE], sender=ADVISOR))["msgid"]
    api.confirm_task(msgid)
    assert (await send_result(post, msgid))[ALICE]["status"] == 1  # the 31st in December
    msgid = (await group(post, [ALICE, BOB], sender=ADVISOR))["msgid"]
    api.confirm_task(msgid)
    statuses = {k: v["status"] for k, v in (await send_result(post, msgid)).items()}
    assert statuses == {ALICE: 3, BOB: 1}
    clock.set(datetime(2026, 12, 31, 16, 0, tzinfo=UTC))  # 1 January, 00:00 in Beijing
    msgid = (await group(post, [ALICE], sender=ADVISOR))["msgid"]
    api.confirm_task(msgid)
    assert (await send_result(post, msgid))[ALICE]["status"] == 1
    api.receive_rule = "week"
    for _ in range(5):  # 7 this week (1 January 2027 is a Friday) with the one just sent
        api.client_received_group_message(ALICE)
    clock.advance(2 * DAY)  # Sunday
    api.client_received_group_message(ALICE)
    msgid = (await group(post, [ALICE], sender=ADVISOR))["msgid"]
    api.confirm_task(msgid)
    assert (await send_result(post, msgid))[ALICE]["status"] == 3
    clock.advance(DAY)  # Monday: a new week
    msgid = (await group(post, [ALICE], sender=ADVISOR))["msgid"]
    api.confirm_task(msgid)
    assert (await send_result(post, msgid))[ALICE]["status"] == 1


async def test_group_results_pages(api: FakeWecomApi, post: Post) -> None:
    clients = [f"wmClient{i:03d}" for i in range(5)]
    for client in clients:
        api.add_contact(ADVISOR, client)
    msgid = (await group(post, clients, sender=ADVISOR))["msgid"]
    seen, cursor = [], ""
    while True:
        body = {"msgid": msgid, "userid": ADVISOR, "limit": 2, "cursor": cursor}
        answer = await contact(post, "get_groupmsg_send_result", body)
        seen += [row["external_userid"] for row in answer["send_list"]]
        if not (cursor := answer["next_cursor"]):
            break
    assert seen == clients
    body = {"msgid": msgid, "userid": ADVISOR, "limit": 5000}  # "超过最大值时取默认值" (500)
    assert len((await contact(post, "get_groupmsg_send_result", body))["send_list"]) == 5
    bad = {"msgid": msgid, "userid": ADVISOR, "cursor": "forged"}
    assert (await contact(post, "get_groupmsg_send_result", bad))["errcode"] == 40058


async def test_welcome_for_a_new_contact(api: FakeWecomApi, post: Post, clock: FakeTime) -> None:
    code = api.contact_added(ADVISOR, ALICE, state="channel-7")
    assert code and ALICE in api.friends and ADVISOR in api.members

    async def welcome(code: str | None, content: str = "欢迎") -> int:
        body = {"welcome_code": code, "text": {"content": content}}
        return int((await contact(post, "send_welcome_msg", body))["errcode"])

    clock.advance(19)
    assert await welcome(code, "") == 44004
    assert await welcome(code, "字" * 1334) == 40058
    assert await welcome(code) == 0
    assert await welcome(code) == 41051  # only once
    late = api.contact_added(ADVISOR, BOB)
    clock.advance(20)
    assert await welcome(late) == 41050  # 20 seconds
    assert await welcome("forged") == 41050
    assert await welcome(None) == 41049
    api.native_welcome_for.add(ADVISOR2)
    assert api.contact_added(ADVISOR2, CAROL) is None
    assert [(w.userid, w.external_userid, w.content) for w in api.welcomes] == [
        (ADVISOR, ALICE, "欢迎")
    ]


async def test_faults_and_call_log(
    api: FakeWecomApi, get: Get, post: Post, http: aiohttp.ClientSession
) -> None:
    token = (await get("/cgi-bin/gettoken", corpid=CORP, corpsecret=KF_SECRET))["access_token"]
    api.client_says(ALICE, "hi")
    api.lose_answers["/cgi-bin/kf/send_msg"] = 1
    with pytest.raises(aiohttp.ClientError):
        await post("kf/send_msg", text(ALICE, "lost"), token=token)
    assert api.texts(ALICE) == ["lost"]  # carried out all the same
    assert api.calls[-1].errcode is None
    api.script_errors([-1, 45009])
    api.script_errors([40013], path="/cgi-bin/gettoken")
    assert (await get("/cgi-bin/gettoken", corpid=CORP, corpsecret=KF_SECRET))["errcode"] == 40013
    assert await errcode(post, "kf/send_msg", text(ALICE, "a"), token=token) == -1
    assert await errcode(post, "kf/send_msg", text(ALICE, "b"), token=token) == 45009
    assert await errcode(post, "kf/send_msg", text(ALICE, "c"), token=token) == 0
    assert api.texts(ALICE) == ["lost", "c"]
    api.down = True
    async with http.post(f"{api.base_url}/cgi-bin/kf/send_msg") as resp:
        assert resp.status == 503
    api.down, api.drop_connections = False, True
    with pytest.raises(aiohttp.ClientError):
        await get("/cgi-bin/gettoken")
    api.drop_connections = False
    async with http.get(f"{api.base_url}/cgi-bin/nothing") as resp:
        assert resp.status == 404
    assert api.paths()[:2] == ["/cgi-bin/gettoken", "/cgi-bin/kf/send_msg"]
    sends = [c.errcode for c in api.calls if c.path == "/cgi-bin/kf/send_msg"]
    assert sends == [None, -1, 45009, 0, None]  # lost, scripted twice, sent, down


async def test_odd_bodies_answer_errcodes(api: FakeWecomApi, post: Post) -> None:
    """Whatever JSON arrives, every endpoint answers an errcode (never a 500)."""
    api.client_says(ALICE, "hi")
    fields = ["touser", "open_kfid", "msgtype", "text", "msgmenu", "msgid", "code", "cursor",
              "token", "limit", "voice_format", "external_userid", "service_state",
              "servicer_userid", "chat_type", "sender", "userid", "welcome_code"]  # fmt: skip
    for odd in ([], {}, [[]], 1.5, True, None, "中", -1):
        for path in api.endpoints():
            secret = CONTACT_SECRET if "externalcontact" in path else KF_SECRET
            name = path.removeprefix("/cgi-bin/")
            body = dict.fromkeys(fields, odd) | {"msgtype": "text", "text": {"content": odd}}
            answer = await post(name, body, secret=secret)
            assert isinstance(answer["errcode"], int), (path, odd, answer)
            menu = {"list": [{"type": odd, "click": odd}], "head_content": odd}
            answer = await post(name, body | {"msgtype": "msgmenu", "msgmenu": menu}, secret=secret)
            assert isinstance(answer["errcode"], int), (path, odd, answer)
    assert api.sent == []


# ---- the callback simulator ---------------------------------------------------------------------


class Callback:
    """A minimal callback URL, independent of the bot and of WecomCrypto."""

    def __init__(self) -> None:
        self.statuses: deque[int] = deque()  # the next answers' statuses (200 when empty)
        self.stalls: deque[bool] = deque()  # whether each next hit waits for `release`
        self.release = asyncio.Event()
        self.hits: list[tuple[dict[str, str], dict[str, str], dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/wecom", self.get)
        self.app.router.add_post("/wecom", self.post)

    async def get(self, request: web.Request) -> web.Response:
        q = request.query
        parts = (TOKEN, q.get("timestamp", ""), q.get("nonce", ""), q.get("echostr", ""))
        if q.get("msg_signature") != sha1_signature(*parts):
            return web.Response(status=403)
        plain, receive_id = independent_decrypt(KEY, q["echostr"])
        return web.Response(text=plain if receive_id == CORP else "")

    async def post(self, request: web.Request) -> web.Response:
        q, root = dict(request.query), ET.fromstring(await request.read())
        envelope = {child.tag: child.text or "" for child in root}
        parts = (TOKEN, q.get("timestamp", ""), q.get("nonce", ""), envelope.get("Encrypt", ""))
        if q.get("msg_signature") != sha1_signature(*parts):
            return web.Response(status=403)
        plain, receive_id = independent_decrypt(KEY, envelope["Encrypt"])
        assert receive_id == CORP
        fields = {child.tag: child.text or "" for child in ET.fromstring(plain)}
        self.hits.append((q, envelope, fields))
        if self.stalls and self.stalls.popleft():
            await self.release.wait()
        return web.Response(status=self.statuses.popleft() if self.statuses else 200)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[Callback, WecomServer]]:
    callback = Callback()
    runner = web.AppRunner(callback.app, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/wecom"
    server = WecomServer(url, TOKEN, KEY, CORP, agent_id="1000002")
    yield callback, server
    callback.release.set()
    await server.close()
    await runner.cleanup()


async def test_url_verification(hook: tuple[Callback, WecomServer]) -> None:
    _, server = hook
    assert await server.verify("5409487345474747472") == "5409487345474747472"
    assert (await server.verify()).isdigit()
    echostr = server.crypto.encrypt("123")
    forged = server.sign_query(echostr) | {"msg_signature": "0" * 40, "echostr": echostr}
    assert (await server.get_raw(forged))[0] == 403


async def test_kf_event_carries_the_token_sync_msg_takes(
    hook: tuple[Callback, WecomServer], api: FakeWecomApi, post: Post
) -> None:
    callback, server = hook
    said = api.client_says(ALICE, "你好")
    result = await server.kf_event(KFID, api.callback_token())
    assert result.delivered and [a.status for a in result.attempts] == [200]
    [(query, envelope, fields)] = callback.hits
    assert set(query) == {"msg_signature", "timestamp", "nonce"}
    assert set(envelope) == {"ToUserName", "Encrypt", "AgentID"}
    assert (envelope["ToUserName"], envelope["AgentID"]) == (CORP, "1000002")
    assert fields == {
        "ToUserName": CORP, "CreateTime": fields["CreateTime"], "MsgType": "event",
        "Event": "kf_msg_or_event", "Token": fields["Token"], "OpenKfId": KFID,
    }  # fmt: skip
    answer = await sync(post, token=fields["Token"], open_kfid=fields["OpenKfId"])
    assert [m["msgid"] for m in answer["msg_list"]] == [said] and api.untokened_syncs == 0


async def test_contact_added_event(hook: tuple[Callback, WecomServer], api: FakeWecomApi) -> None:
    callback, server = hook
    code = api.contact_added(ADVISOR, ALICE, state="channel-7")
    assert code is not None
    await server.contact_added(ADVISOR, ALICE, "channel-7", code)
    await server.contact_added(ADVISOR, BOB)
    (_, _, first), (_, _, second) = [hit for hit in callback.hits]
    assert first == {
        "ToUserName": CORP, "FromUserName": "sys", "CreateTime": first["CreateTime"],
        "MsgType": "event", "Event": "change_external_contact",
        "ChangeType": "add_external_contact", "UserID": ADVISOR, "ExternalUserID": ALICE,
        "State": "channel-7", "WelcomeCode": code,
    }  # fmt: skip
    assert "State" not in second and "WelcomeCode" not in second


async def test_retries_on_errors_and_silence(hook: tuple[Callback, WecomServer]) -> None:
    callback, server = hook
    callback.statuses.extend([500, 503])  # "其他错误码企业微信后台会一律当做失败并发起重试"
    result = await server.kf_event(KFID, "ENCtoken")
    assert [a.status for a in result.attempts] == [500, 503, 200] and result.delivered
    fields = [f for _, _, f in callback.hits]
    assert len({(f["CreateTime"], f["Token"]) for f in fields}) == 1  # the same message
    assert len({q["nonce"] for q, _, _ in callback.hits}) == 3  # each attempt signed afresh
    callback.hits.clear()
    server.timeout = 0.2
    callback.stalls.extend([True])  # no answer in time: the attempt is abandoned, retried
    result = await server.kf_event(KFID, "ENCtoken")
    assert [a.error for a in result.attempts] == ["timeout", None] and result.status == 200
    callback.statuses.extend([502] * 4)
    result = await server.kf_event(KFID, "ENCtoken")
    assert len(result.attempts) == 4 and not result.delivered  # one try, three retries


async def test_concurrent_retries_and_hostile_posts(hook: tuple[Callback, WecomServer]) -> None:
    callback, server = hook
    server.concurrent_retries, server.attempts = True, 3
    result = await server.kf_event(KFID, "ENCdup")
    assert [a.status for a in result.attempts] == [200] * 3 and len(callback.hits) == 3
    encrypt = server.crypto.encrypt("<xml><MsgType>event</MsgType></xml>")
    forged = server.sign_query(encrypt) | {"msg_signature": "f" * 40}
    assert (await server.post_raw(server.encrypted_body(encrypt), forged)).status == 403
    stale = server.sign_query(encrypt, timestamp="1", nonce="2")
    assert (await server.post_raw(server.encrypted_body(encrypt), stale)).status == 200
    assert len(callback.hits) == 4
