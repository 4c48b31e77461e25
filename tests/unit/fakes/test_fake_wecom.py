"""The WeCom fakes checked against Tencent's published vectors and the documented rules.

Vectors: Tencent's WeCom callback sample (weworkapi_python, callback/Sample.py: token
"hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", corp ww1436e0e65a779aee), for URL verification and for
a pushed message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import struct
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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


async def test_kf_event(hook: tuple[Callback, WecomServer]) -> None:
    callback, server = hook
    token = "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"
    result = await server.kf_event(KFID, token)
    assert result.delivered and [a.status for a in result.attempts] == [200]
    [(query, envelope, fields)] = callback.hits
    assert set(query) == {"msg_signature", "timestamp", "nonce"}
    assert set(envelope) == {"ToUserName", "Encrypt", "AgentID"}
    assert (envelope["ToUserName"], envelope["AgentID"]) == (CORP, "1000002")
    assert fields == {
        "ToUserName": CORP, "CreateTime": fields["CreateTime"], "MsgType": "event",
        "Event": "kf_msg_or_event", "Token": token, "OpenKfId": KFID,
    }  # fmt: skip


async def test_contact_added_event(hook: tuple[Callback, WecomServer]) -> None:
    callback, server = hook
    code = "WELCOMECODE"
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
