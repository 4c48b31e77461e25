"""A simulator of WeCom's servers calling the bot's callback URL, with its own message crypto.

The crypto follows WeCom's 加解密方案 (developer.work.weixin.qq.com 90968 / 90930), written
here with `cryptography` rather than an SDK so that it cross-checks the bot's side:
msg_signature = sha1 over the sorted [token, timestamp, nonce, encrypt] joined; AES-256-CBC
with key = b64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 to 32-byte blocks, over
16 random bytes + 4-byte big-endian length + message + receiveid (the corp id).

Rules the simulator follows (90930 回调配置 / 接收消息与事件):

- URL verification (`verify`): a GET with msg_signature, timestamp, nonce and echostr, the
  echostr encrypted and signed like a message; the URL must answer the decrypted plaintext,
  bare ("不能加引号，不能带bom头，不能带换行符"), within 1 second (`verify_timeout`).
- Pushes (`push`): a POST of ``<xml><ToUserName>corpid</ToUserName><Encrypt>…</Encrypt>
  <AgentID>…</AgentID></xml>`` with msg_signature/timestamp/nonce in the query. "企业微信服务器
  在五秒内收不到响应会断掉连接，并且重新发起请求，总共重试三次" and "http头部返回200表示接收ok，
  其他错误码企业微信后台会一律当做失败并发起重试": an attempt without an answer within `timeout`
  or with a status other than 200 is retried, the same message freshly encrypted and signed.
  "总共重试三次" is read as three retries, so four attempts (`attempts`; the reading where the
  three include the first is `attempts=3`).
- The events the bot needs: 微信客服's kf_msg_or_event (94670: ToUserName, CreateTime,
  MsgType=event, Event=kf_msg_or_event, Token, OpenKfId) and 客户联系's add_external_contact
  (92114: ToUserName, FromUserName=sys, CreateTime, MsgType=event,
  Event=change_external_contact, ChangeType=add_external_contact, UserID, ExternalUserID,
  State, WelcomeCode; State and WelcomeCode only when there is one).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 of the four strings sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, encrypt))).encode()).hexdigest()


class CryptoError(ValueError):
    """Ciphertext that does not decrypt to a well-formed WeCom plaintext."""


class WecomCrypto:
    """Encrypt/decrypt the way WeCom's WXBizMsgCrypt does, for one receiveid (the corp id)."""

    def __init__(self, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.receive_id = receive_id

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, text: str, random: bytes | None = None) -> str:
        random = secrets.token_bytes(16) if random is None else random
        body = text.encode()
        plain = random + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode()

    def unpack(self, encrypt: str) -> tuple[str, str]:
        """Return (message, receiveid) without checking the receiveid."""
        try:
            sealed = base64.b64decode(encrypt, validate=True)
        except ValueError as error:
            raise CryptoError(f"not base64: {error}") from None
        if not sealed or len(sealed) % 16:
            raise CryptoError(f"ciphertext length {len(sealed)} is not a multiple of 16")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(sealed) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad PKCS#7 padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CryptoError("plaintext too short")
        (size,) = struct.unpack(">I", plain[16:20])
        if 20 + size > len(plain):
            raise CryptoError(f"length field {size} exceeds the plaintext")
        try:
            return plain[20 : 20 + size].decode(), plain[20 + size :].decode()
        except UnicodeDecodeError:
            raise CryptoError("plaintext is not UTF-8") from None

    def decrypt(self, encrypt: str) -> str:
        text, receive_id = self.unpack(encrypt)
        if receive_id != self.receive_id:
            raise CryptoError(f"receiveid {receive_id!r} is not {self.receive_id!r}")
        return text


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: Mapping[str, str | int]) -> str:
    """WeCom's callback XML: strings in CDATA, numbers bare."""
    inner = "".join(
        f"<{k}>{v if isinstance(v, int) else _cdata(v)}</{k}>" for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>"


@dataclass
class Attempt:
    number: int
    status: int | None = None  # None: no answer (timeout or connection error)
    body: bytes = b""
    error: str | None = None
    elapsed: float = 0.0


@dataclass
class PushResult:
    """All attempts of one push; `status`/`body` are those of the last attempt."""

    message: dict[str, str | int]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return any(a.status == 200 for a in self.attempts)

    @property
    def status(self) -> int | None:
        return self.attempts[-1].status if self.attempts else None

    @property
    def body(self) -> bytes:
        return self.attempts[-1].body if self.attempts else b""


class WecomServer:
    """WeCom's side of the callback for one corp (and app), pushing to the bot's URL."""

    def __init__(
        self,
        url: str,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        *,
        agent_id: str | None = None,
        timeout: float = 5.0,
        attempts: int = 4,
        verify_timeout: float = 1.0,
        concurrent_retries: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`agent_id`: the <AgentID> of the envelope (None: no such element)."""
        self.url, self.token, self.corp_id, self.agent_id = url, token, corp_id, agent_id
        self.crypto = WecomCrypto(encoding_aes_key, corp_id)
        self.timeout, self.attempts, self.verify_timeout = timeout, attempts, verify_timeout
        self.concurrent_retries = concurrent_retries
        self.clock = clock  # for timestamps and CreateTime
        self.results: list[PushResult] = []
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # ---- URL verification -----------------------------------------------------------------------

    async def verify(self, echostr: str | None = None) -> str:
        """The GET WeCom makes when the URL is saved; returns what the URL answered (it must
        be `echostr`, the plaintext)."""
        echostr = echostr or str(secrets.randbelow(10**19))
        encrypted = self.crypto.encrypt(echostr)
        _, body = await self.get_raw(self.sign_query(encrypted) | {"echostr": encrypted})
        return body.decode(errors="replace")

    async def get_raw(self, query: Mapping[str, str]) -> tuple[int, bytes]:
        timeout = aiohttp.ClientTimeout(total=self.verify_timeout)
        async with self.session.get(self.url, params=dict(query), timeout=timeout) as response:
            return response.status, await response.read()

    # ---- events ---------------------------------------------------------------------------------

    async def kf_event(self, open_kfid: str, token: str) -> PushResult:
        """微信客服: "there are new messages or events for open_kfid; read them with token"."""
        return await self.push({
            "ToUserName": self.corp_id, "CreateTime": int(self.clock()), "MsgType": "event",
            "Event": "kf_msg_or_event", "Token": token, "OpenKfId": open_kfid,
        })  # fmt: skip

    async def contact_added(
        self,
        userid: str,
        external_userid: str,
        state: str = "",
        welcome_code: str | None = None,
    ) -> PushResult:
        """客户联系: a client added the advisor `userid` (through a 联系我 carrying `state`)."""
        message: dict[str, str | int] = {
            "ToUserName": self.corp_id, "FromUserName": "sys", "CreateTime": int(self.clock()),
            "MsgType": "event", "Event": "change_external_contact",
            "ChangeType": "add_external_contact", "UserID": userid,
            "ExternalUserID": external_userid,
        }  # fmt: skip
        if state:
            message["State"] = state
        if welcome_code:
            message["WelcomeCode"] = welcome_code
        return await self.push(message)

    # ---- delivery -------------------------------------------------------------------------------

    async def push(self, message: Mapping[str, str | int]) -> PushResult:
        """POST one message as WeCom does, retrying on silence and on any status but 200."""
        result = PushResult(dict(message))
        self.results.append(result)
        xml = build_xml(message)
        if self.concurrent_retries:
            tries = [self._attempt(n, xml) for n in range(1, self.attempts + 1)]
            result.attempts = list(await asyncio.gather(*tries))
            return result
        for number in range(1, self.attempts + 1):
            result.attempts.append(attempt := await self._attempt(number, xml))
            if attempt.status == 200:
                break
        return result

    async def _attempt(self, number: int, xml: str) -> Attempt:
        encrypt = self.crypto.encrypt(xml)
        return await self.post_raw(
            self.encrypted_body(encrypt), self.sign_query(encrypt), number=number
        )

    def sign_query(
        self, encrypt: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """msg_signature, timestamp and nonce for `encrypt`, correctly signed."""
        timestamp = timestamp or str(int(self.clock()))
        nonce = nonce or str(secrets.randbelow(10**10))
        signature = msg_signature(self.token, timestamp, nonce, encrypt)
        return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}

    def encrypted_body(self, encrypt: str) -> bytes:
        envelope: dict[str, str | int] = {"ToUserName": self.corp_id, "Encrypt": encrypt}
        if self.agent_id is not None:
            envelope["AgentID"] = self.agent_id
        return build_xml(envelope).encode()

    async def post_raw(
        self,
        body: bytes,
        query: Mapping[str, str] | None = None,
        *,
        number: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> Attempt:
        """One POST of any bytes with any query (no retry): for hostile-input tests."""
        attempt, started = Attempt(number), time.monotonic()
        headers = {"Content-Type": "text/xml", **(headers or {})}
        try:
            async with self.session.post(
                self.url,
                params=dict(query or {}),
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                attempt.status, attempt.body = response.status, await response.read()
        except TimeoutError:
            attempt.error = "timeout"
        except aiohttp.ClientError as error:
            attempt.error = f"connection error: {error!r}"
        attempt.elapsed = time.monotonic() - started
        return attempt
