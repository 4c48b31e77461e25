"""The WeChat fakes checked against Tencent's published vectors and the documented rules.

Vectors: Tencent's Python sample (Sample.py in the 消息加解密 cryptoDemo, token "spamtest"),
the Java sample's WXBizMsgCryptTest (fixed random "aaaabbbbccccdddd", token "pamtest") and
the plain-mode signature example of the 消息加解密说明 doc page.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.clock import FakeTime
from tests.fakes.wechat_api import FakeWechatApi, Interactions
from tests.fakes.wechat_server import (
    XXE,
    BadReply,
    CryptoError,
    WechatCrypto,
    WechatServer,
    billion_laughs,
    build_xml,
    parse_xml,
    signature,
)

# Tencent's Python sample (Sample.py, "测试解密接口"): a message pushed in safe mode.
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_TOKEN, SAMPLE_APPID = "spamtest", "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP, SAMPLE_NONCE = "1409735669", "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
SAMPLE_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>"
)
# Tencent's Java sample test: encrypting with a fixed random prefix.
JAVA_APPID, JAVA_RANDOM, JAVA_TEXT = "wxb11529c136998cb6", b"aaaabbbbccccdddd", "我是中文abcd123"
JAVA_ENCRYPT = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)
TOKEN, APPID, SECRET, KEY = "tok3n", "wx1111222233334444", "s3cret", SAMPLE_KEY
ALICE, BOB = "o_alice", "o_bob"
SLOW = 0.5  # the simulator's timeout in the retry tests; a slow webhook sleeps 2x this


# ---- crypto ------------------------------------------------------------------------------------


def test_tencent_python_sample_decrypts_and_signs() -> None:
    crypto = WechatCrypto(SAMPLE_KEY, SAMPLE_APPID)
    assert crypto.unpack(SAMPLE_ENCRYPT) == (SAMPLE_PLAINTEXT, SAMPLE_APPID)
    assert crypto.decrypt(SAMPLE_ENCRYPT) == SAMPLE_PLAINTEXT
    parts = (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    assert signature(*parts) == SAMPLE_MSG_SIGNATURE
    assert parse_xml(SAMPLE_PLAINTEXT)["Content"] == "abcdteT"


def test_tencent_java_sample_encrypts_byte_for_byte() -> None:
    crypto = WechatCrypto(SAMPLE_KEY, JAVA_APPID)
    assert crypto.encrypt(JAVA_TEXT, random=JAVA_RANDOM) == JAVA_ENCRYPT
    assert crypto.decrypt(JAVA_ENCRYPT) == JAVA_TEXT


def test_doc_plain_signature_example() -> None:
    assert signature("AAAAA", "1714037059", "486452656") == (
        "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    )


def test_round_trip_and_refusals() -> None:
    crypto = WechatCrypto(KEY, APPID)
    for text in ["", "x", "中" * 10, "a" * 32, "b" * 1000]:  # every padding length shape
        assert crypto.decrypt(crypto.encrypt(text)) == text
    assert crypto.encrypt("same") != crypto.encrypt("same")  # fresh random prefix
    with pytest.raises(CryptoError, match="appid"):
        WechatCrypto(KEY, "wx_other").decrypt(crypto.encrypt("hi"))
    for garbage in ["!!!not base64", "QUJD", "A" * 43 + "=", ""]:
        with pytest.raises(CryptoError):
            crypto.decrypt(garbage)
    with pytest.raises(ValueError, match="43"):
        WechatCrypto("short", APPID)
    assert "]]]]><![CDATA[>" in build_xml({"Content": "a]]>b"})
    assert parse_xml(build_xml({"Content": "a]]>b", "MsgId": 7})) == {
        "Content": "a]]>b",
        "MsgId": "7",
    }
    assert "<!ENTITY" in XXE and len(billion_laughs(3)) < 500


# ---- the API fake ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime(datetime.fromtimestamp(1_800_000_000, UTC))


@pytest.fixture
async def api(clock: FakeTime) -> AsyncIterator[FakeWechatApi]:
    fake = FakeWechatApi(
        APPID, SECRET, interactions=Interactions(clock.epoch), templates={"TPL_OK"}
    )
    async with fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


Caller = Callable[..., Any]


@pytest.fixture
def call(api: FakeWechatApi, http: aiohttp.ClientSession) -> Caller:
    async def call(path: str, body: Any = None, **query: str) -> Any:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        method = "GET" if body is None else "POST"
        async with http.request(method, api.base_url + path, params=query, data=data) as resp:
            return await resp.json()

    return call


async def get_token(call: Caller) -> str:
    answer = await call(
        "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET
    )
    return str(answer["access_token"])


def text(openid: str, content: str) -> dict[str, Any]:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


async def errcode(call: Caller, token: str, body: Any, path: str = "custom") -> int:
    answer = await call(f"/cgi-bin/message/{path}/send", body, access_token=token)
    return int(answer["errcode"])


async def test_token_fetch_expiry_and_refresh(
    api: FakeWechatApi, call: Caller, clock: FakeTime
) -> None:
    answer = await call(
        "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET
    )
    assert answer["expires_in"] == 7200 and api.token_fetches == 1
    first = answer["access_token"]
    bad = [("wx_wrong", SECRET, 40013), (APPID, "wrong", 40125), ("", SECRET, 41002)]
    for appid, secret, code in bad:
        answer = await call(
            "/cgi-bin/token", grant_type="client_credential", appid=appid, secret=secret
        )
        assert answer["errcode"] == code and "rid:" in answer["errmsg"]
    assert api.token_fetches == 1
    api.interactions.add_follower(ALICE)
    assert await errcode(call, first, text(ALICE, "hi")) == 45015  # token fine, no window
    assert await errcode(call, "made-up", text(ALICE, "hi")) == 40001
    assert (await call("/cgi-bin/message/custom/send", text(ALICE, "hi")))["errcode"] == 41001
    second = await get_token(call)
    assert second != first and api.token_fetches == 2
    clock.advance(299)  # the old token lives on for 5 minutes after a refresh
    assert await errcode(call, first, text(ALICE, "hi")) == 45015
    clock.advance(2)
    assert await errcode(call, first, text(ALICE, "hi")) == 40001
    clock.advance(7200)
    assert await errcode(call, second, text(ALICE, "hi")) == 42001
    third = await get_token(call)
    api.expire_tokens()
    assert await errcode(call, third, text(ALICE, "hi")) == 42001


async def test_message_window_five_in_48_hours(
    api: FakeWechatApi, call: Caller, clock: FakeTime
) -> None:
    token = await get_token(call)
    assert await errcode(call, token, text(ALICE, "hi")) == 40003  # never seen
    api.interactions.add_follower(ALICE)
    assert await errcode(call, token, text(ALICE, "hi")) == 45015
    api.interactions.message(ALICE)
    assert [await errcode(call, token, text(ALICE, f"m{i}")) for i in range(6)] == [0] * 5 + [45047]
    assert api.texts(ALICE) == [f"m{i}" for i in range(5)]
    api.interactions.message(ALICE)  # a new message restores the quota
    clock.advance(48 * 3600 - 1)
    token = await get_token(call)  # the old one expired long ago
    assert await errcode(call, token, text(ALICE, "late")) == 0
    clock.advance(1)
    assert await errcode(call, token, text(ALICE, "too late")) == 45015
    api.interactions.unfollow(ALICE)
    assert await errcode(call, token, text(ALICE, "gone")) == 43004
    api.interactions.message(BOB)
    assert await errcode(call, token, text(BOB, "x" * 2048)) == 0
    assert await errcode(call, token, text(BOB, "中" * 683)) == 45002  # 2049 bytes
    assert await errcode(call, token, text(BOB, "")) == 44004
    assert await errcode(call, token, {"touser": BOB, "msgtype": "voice"}) == 40008
    assert await errcode(call, token, b"{not json") == 47001
    assert await errcode(call, token, b"[1, 2]") == 47001
    assert await errcode(call, token, b"\xff\xfe") == 47001
    link = {"touser": BOB, "msgtype": "link", "link": {"title": "t", "url": "https://x"}}
    assert await errcode(call, token, link) == 0
    assert [s.msgtype for s in api.custom_sends if s.openid == BOB] == ["text", "link"]


async def test_event_window_and_quotas_do_not_add_up(
    api: FakeWechatApi, call: Caller, clock: FakeTime
) -> None:
    token = await get_token(call)
    api.interactions.click(ALICE)
    assert api.interactions.remaining(ALICE) == 3
    clock.advance(59)
    assert [await errcode(call, token, text(ALICE, "x")) for _ in range(4)] == [0, 0, 0, 45047]
    api.interactions.follow(BOB)
    clock.advance(60)
    assert await errcode(call, token, text(BOB, "x")) == 45015
    inter = api.interactions
    inter.message(BOB)
    inter.click(BOB)  # max(5, 3), not 8; expiry stays 48 h away
    assert inter.remaining(BOB) == 5
    clock.advance(3600)
    assert inter.remaining(BOB) == 5
    for _ in range(4):
        assert inter.consume(BOB) == 0
    inter.click(BOB)  # 1 left < 3: a click raises it to 3
    assert inter.remaining(BOB) == 3
    clock.advance(120)  # past the click's minute, still inside the message's 48 hours
    assert inter.remaining(BOB) == 3


async def test_template_and_daily_quota(api: FakeWechatApi, call: Caller) -> None:
    token = await get_token(call)
    body = {"touser": ALICE, "template_id": "TPL_OK", "data": {"first": {"value": "你好"}}}
    assert await errcode(call, token, body, "template") == 40003
    api.interactions.add_follower(ALICE)  # a follower needs no window for templates
    answer = await call("/cgi-bin/message/template/send", body, access_token=token)
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    assert await errcode(call, token, body | {"template_id": "TPL_NO"}, "template") == 40037
    assert await errcode(call, token, body | {"data": {"a": "flat"}}, "template") == 47001
    api.interactions.unfollow(ALICE)
    assert await errcode(call, token, body, "template") == 43004
    assert [s.body["data"] for s in api.template_sends] == [body["data"]]
    api.daily_quota = 4  # counted per API: 4 template calls so far
    assert await errcode(call, token, body, "template") == 45009
    api.interactions.message(BOB)
    assert await errcode(call, token, text(BOB, "x")) == 0
    api.reset_daily_quota()
    api.interactions.add_follower(ALICE)
    assert await errcode(call, token, body, "template") == 0


async def test_menu_validation(api: FakeWechatApi, call: Caller) -> None:
    token = await get_token(call)

    async def create(buttons: Any) -> int:
        answer = await call("/cgi-bin/menu/create", {"button": buttons}, access_token=token)
        return int(answer["errcode"])

    assert (await call("/cgi-bin/menu/get", access_token=token))["errcode"] == 46003
    click = {"type": "click", "name": "今日", "key": "TODAY"}
    view = {"type": "view", "name": "官网", "url": "https://example.com"}
    assert await create([click] * 4) == 40016
    assert await create([]) == 40016
    assert await create([click | {"type": "dance"}]) == 40017
    assert await create([click | {"name": "一二三四五六"}]) == 40018  # 18 bytes > 16
    assert await create([{"type": "click", "name": "无键"}]) == 40019
    assert await create([{"type": "view", "name": "无址"}]) == 40020
    assert await create([{"name": "更多", "sub_button": [click] * 6}]) == 40023
    assert await create([{"name": "更多", "sub_button": [view | {"type": "?"}]}]) == 40024
    assert await create([{"name": "更多", "sub_button": [click | {"name": "长" * 21}]}]) == 40025
    assert await create([{"name": "更多", "sub_button": [{"type": "click", "name": "k"}]}]) == 40026
    assert await create([{"name": "更多", "sub_button": [view | {"url": "u" * 1025}]}]) == 40027
    menu = [click, {"name": "更多", "sub_button": [view, click | {"name": "长" * 20}]}]
    assert await create(menu) == 0
    assert await call("/cgi-bin/menu/get", access_token=token) == {"menu": {"button": menu}}
    info = await call("/cgi-bin/get_current_selfmenu_info", access_token=token)
    assert info["is_menu_open"] == 1
    assert info["selfmenu_info"]["button"][1]["sub_button"]["list"] == menu[1]["sub_button"]
    assert api.menu == {"button": menu}


async def test_faults_and_call_log(
    api: FakeWechatApi, call: Caller, http: aiohttp.ClientSession
) -> None:
    token = await get_token(call)
    api.interactions.message(ALICE)
    api.script_errors([45015, -1])
    api.script_errors([40164], path="/cgi-bin/token")
    codes = [await errcode(call, token, text(ALICE, c)) for c in "abc"]
    assert codes == [45015, -1, 0] and api.texts(ALICE) == ["c"]
    answer = await call(
        "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET
    )
    assert answer["errcode"] == 40164 and api.token_fetches == 1
    api.latency = 0.2
    started = asyncio.get_running_loop().time()
    assert await errcode(call, token, text(ALICE, "slow")) == 0
    assert asyncio.get_running_loop().time() - started >= 0.2
    api.latency = 0.0
    api.down = True
    async with http.post(f"{api.base_url}/cgi-bin/message/custom/send") as resp:
        assert resp.status == 503
    api.down, api.drop_connections = False, True
    with pytest.raises(aiohttp.ClientError):
        await errcode(call, token, text(ALICE, "dropped"))
    api.drop_connections = False
    async with http.get(f"{api.base_url}/cgi-bin/nothing") as resp:
        assert resp.status == 404
    assert api.paths()[:2] == ["/cgi-bin/token", "/cgi-bin/message/custom/send"]
    assert [c.errcode for c in api.calls[1:4]] == [45015, -1, 0]
    assert api.calls[-2].errcode is None and b"dropped" in api.calls[-2].body
    assert api.calls[0].at <= api.calls[1].at


# ---- the webhook simulator ------------------------------------------------------------------


class Webhook:
    """A minimal webhook, independent of the bot, to drive the simulator against."""

    def __init__(self, key: str | None = None) -> None:
        self.crypto = WechatCrypto(key, APPID) if key else None
        self.delays: deque[float] = deque()  # how long each next hit stalls
        self.reply = "echo"  # echo | success | bad_signature | wrong_appid | plain
        self.hits: list[tuple[dict[str, str], dict[str, str], bytes]] = []
        self.seen: Counter[str] = Counter()
        self.dedupe = True  # answer "success" to a message seen before
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/wx", self.get)
        self.app.router.add_post("/wx", self.post)

    async def get(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("signature") != signature(TOKEN, q.get("timestamp", ""), q.get("nonce", "")):
            return web.Response(status=403)
        return web.Response(text=q.get("echostr", ""))

    async def post(self, request: web.Request) -> web.Response:
        q, body = dict(request.query), await request.read()
        if q.get("signature") != signature(TOKEN, q.get("timestamp", ""), q.get("nonce", "")):
            return web.Response(status=403)
        try:
            fields = parse_xml(body)
            if self.crypto is not None:
                parts = (TOKEN, q["timestamp"], q["nonce"], fields["Encrypt"])
                if q.get("msg_signature") != signature(*parts):
                    return web.Response(status=403)
                fields = parse_xml(self.crypto.decrypt(fields["Encrypt"]))
        except (BadReply, CryptoError, KeyError):
            return web.Response(status=400)
        self.hits.append((q, fields, body))
        if self.delays:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.delays.popleft())
        key = fields.get("MsgId") or fields["FromUserName"] + fields["CreateTime"]
        self.seen[key] += 1
        if (
            (self.dedupe and self.seen[key] > 1)
            or self.reply == "success"
            or fields["MsgType"] != "text"
        ):
            return web.Response(text="success")
        return web.Response(text=self.render(fields), content_type="application/xml")

    def render(self, fields: dict[str, str]) -> str:
        reply = build_xml({
            "ToUserName": fields["FromUserName"], "FromUserName": fields["ToUserName"],
            "CreateTime": 1, "MsgType": "text", "Content": "echo: " + fields["Content"],
        })  # fmt: skip
        if self.crypto is None or self.reply == "plain":
            return reply
        crypto = WechatCrypto(KEY, "wx_other") if self.reply == "wrong_appid" else self.crypto
        encrypt, stamp, nonce = crypto.encrypt(reply), "1700000000", "42"
        sign = signature(TOKEN, stamp, nonce, encrypt)
        if self.reply == "bad_signature":
            sign = sign[::-1]
        envelope = {"Encrypt": encrypt, "MsgSignature": sign, "TimeStamp": 1700000000}
        return build_xml(envelope | {"Nonce": nonce})


async def serve(webhook: Webhook) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(webhook.app, shutdown_timeout=0.5)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}/wx"


@pytest.fixture(params=["plain", "safe"])
async def hook(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Webhook, WechatServer]]:
    key = KEY if request.param == "safe" else None
    webhook = Webhook(key)
    runner, url = await serve(webhook)
    server = WechatServer(url, TOKEN, APPID, encoding_aes_key=key, timeout=5.0)
    yield webhook, server
    webhook.release.set()
    await server.close()
    await runner.cleanup()


async def test_verify_handshake(hook: tuple[Webhook, WechatServer]) -> None:
    _, server = hook
    assert await server.verify("5409487345474747472") == "5409487345474747472"
    assert (await server.verify()).isdigit()
    status, _ = await server.get_raw(server.sign_query() | {"signature": "0" * 40})
    assert status == 403


async def test_text_message_and_reply(hook: tuple[Webhook, WechatServer]) -> None:
    webhook, server = hook
    result = await server.user(ALICE).send("你好 <&>", msg_id=6054768590064713728)
    assert result.status == 200 and len(result.attempts) == 1
    assert result.reply is not None
    assert (result.reply.msg_type, result.reply.content) == ("text", "echo: 你好 <&>")
    assert (result.reply.to_user, result.reply.from_user) == (ALICE, server.account)
    [(query, fields, body)] = webhook.hits
    assert fields["MsgId"] == "6054768590064713728" and fields["ToUserName"] == server.account
    assert fields["FromUserName"] == ALICE and fields["CreateTime"].isdigit()
    assert query["openid"] == ALICE
    if server.crypto is None:
        assert "encrypt_type" not in query and b"<Content>" in body
    else:
        assert query["encrypt_type"] == "aes"
        assert set(parse_xml(body)) == {"ToUserName", "Encrypt"}
    assert server.interactions.remaining(ALICE) == 5
    webhook.reply = "success"
    assert (await server.send_text(ALICE, "again")).reply is None


async def test_events(hook: tuple[Webhook, WechatServer]) -> None:
    webhook, server = hook
    user = server.user(BOB)
    await user.follow()
    assert server.interactions.remaining(BOB) == 3
    assert (await user.click("TODAY")).reply is None
    await user.unfollow()
    events = [(f["MsgType"], f["Event"], f["EventKey"]) for _, f, _ in webhook.hits]
    assert events == [
        ("event", "subscribe", ""),
        ("event", "CLICK", "TODAY"),
        ("event", "unsubscribe", ""),
    ]
    assert all("MsgId" not in f for _, f, _ in webhook.hits)
    assert server.interactions.check(BOB) == 43004


async def test_bad_replies_raise(hook: tuple[Webhook, WechatServer]) -> None:
    webhook, server = hook
    if server.crypto is None:
        assert server.decode_reply(b"") is None
        with pytest.raises(BadReply, match="not XML"):
            server.decode_reply(b"<xml><Content>")
        with pytest.raises(BadReply, match="DTD"):
            server.decode_reply(XXE.encode())
        return
    modes = {"bad_signature": "MsgSignature", "wrong_appid": "appid", "plain": "plain reply"}
    for mode, message in modes.items():
        webhook.reply = mode
        with pytest.raises(BadReply, match=message):
            await server.send_text(ALICE, mode)


async def test_retries_the_same_message_when_slow(hook: tuple[Webhook, WechatServer]) -> None:
    webhook, server = hook
    server.timeout = SLOW
    webhook.delays, webhook.dedupe = deque([2 * SLOW, 2 * SLOW]), False
    result = await server.send_text(ALICE, "slow")
    assert [a.error for a in result.attempts] == ["timeout", "timeout", None]
    assert result.attempts[0].elapsed >= SLOW and result.status == 200
    assert result.reply is not None and result.reply.content == "echo: slow"
    fields = [f for _, f, _ in webhook.hits]
    assert len({(f["MsgId"], f["CreateTime"]) for f in fields}) == 1 and len(fields) == 3
    assert len({q["nonce"] for q, _, _ in webhook.hits}) == 3  # each attempt freshly signed
    webhook.delays.extend([2 * SLOW] * 3)
    result = await server.send_text(ALICE, "never")
    assert result.status is None and result.reply is None
    assert [a.error for a in result.attempts] == ["timeout"] * 3


async def test_concurrent_retries_arrive_together(hook: tuple[Webhook, WechatServer]) -> None:
    webhook, server = hook
    server.concurrent_retries = True
    result = await server.send_text(ALICE, "dup", msg_id=77)
    assert [a.status for a in result.attempts] == [200] * 3
    assert webhook.seen["77"] == 3
    assert sum(a.reply is not None for a in result.attempts) == 1  # the webhook deduplicated


async def test_hostile_requests(hook: tuple[Webhook, WechatServer]) -> None:
    webhook, server = hook
    forged = server.sign_query() | {"signature": "f" * 40}
    assert (await server.post_raw(b"<xml/>", forged)).status == 403
    if server.crypto is None:
        assert (await server.post_raw(XXE.encode(), server.sign_query())).status == 400
        assert (await server.post_raw(b"<xml><MsgType>te", server.sign_query())).status == 400
        return
    garbage = "A" * 44
    attempt = await server.post_raw(server.encrypted_body(garbage), server.sign_query(garbage))
    assert attempt.status == 400  # signature fine, ciphertext not
    bomb = server.crypto.encrypt(billion_laughs())
    attempt = await server.post_raw(server.encrypted_body(bomb), server.sign_query(bomb))
    assert attempt.status == 400
    assert webhook.hits == []
