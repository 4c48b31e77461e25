"""A simulator of WeChat's servers calling the bot's webhook, with its own message crypto.

The crypto follows Tencent's 消息加解密 scheme, written here with `cryptography` rather than
an SDK so that it cross-checks the bot's (wechatpy-based) side: AES-256-CBC with key =
b64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 to 32-byte blocks, over
16 random bytes + 4-byte big-endian length + XML + appid. Like WeChat, the simulator signs
every push, retries one that gets no answer within `timeout` (same MsgId and CreateTime, a
fresh signature) up to three attempts, and records each user action in the `Interactions`
the API fake enforces.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.wechat_api import Interactions

BLOCK = 32
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh_x</ToUserName><FromUserName>o</FromUserName><CreateTime>1"
    "</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)


def billion_laughs(depth: int = 9) -> str:
    """The classic entity bomb: ~10**depth characters if a parser expands entities."""
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, depth + 1)
    ]
    return (
        f'<?xml version="1.0"?><!DOCTYPE xml [{"".join(entities)}]>'
        f"<xml><MsgType>text</MsgType><Content>&l{depth};</Content></xml>"
    )


def signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the parts sorted and joined (token, timestamp, nonce[,
    encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class CryptoError(ValueError):
    """Ciphertext that does not decrypt to a well-formed WeChat plaintext."""


class BadReply(AssertionError):
    """The bot's passive reply is not what WeChat would accept."""


class WechatCrypto:
    """Encrypt/decrypt the way Tencent's WXBizMsgCrypt sample does."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        self.key = base64.b64decode(encoding_aes_key + "=")
        self.appid = appid

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, text: str, random: bytes | None = None) -> str:
        random = secrets.token_bytes(16) if random is None else random
        body = text.encode()
        plain = random + struct.pack(">I", len(body)) + body + self.appid.encode()
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode()

    def unpack(self, encrypt: str) -> tuple[str, str]:
        """Return (text, appid) without checking the appid."""
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
        text, appid = self.unpack(encrypt)
        if appid != self.appid:
            raise CryptoError(f"appid {appid!r} is not {self.appid!r}")
        return text


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: Mapping[str, str | int]) -> str:
    """Official push XML: strings in CDATA, numbers bare."""
    inner = "".join(
        f"<{k}>{v if isinstance(v, int) else _cdata(v)}</{k}>" for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>"


def parse_xml(text: str | bytes) -> dict[str, str]:
    """Flat <xml> children -> text; refuses DTDs (a reply has no business declaring any)."""
    raw = text.encode() if isinstance(text, str) else text
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise BadReply("reply XML declares a DTD")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as error:
        raise BadReply(f"reply is not XML: {error}: {raw[:200]!r}") from None
    if root.tag != "xml":
        raise BadReply(f"reply root is <{root.tag}>, not <xml>")
    return {child.tag: (child.text or "") for child in root}


@dataclass(frozen=True)
class Reply:
    """A decoded passive reply."""

    msg_type: str
    content: str | None
    to_user: str
    from_user: str
    fields: dict[str, str]


@dataclass
class Attempt:
    number: int
    status: int | None = None  # None: no answer (timeout or connection error)
    body: bytes = b""
    error: str | None = None
    elapsed: float = 0.0
    reply: Reply | None = None


@dataclass
class WebhookResult:
    """All attempts for one push; status/body/reply are those of the first answered one."""

    message: dict[str, str | int]
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def answered(self) -> Attempt | None:
        return next((a for a in self.attempts if a.status is not None), None)

    @property
    def status(self) -> int | None:
        return self.answered.status if self.answered else None

    @property
    def body(self) -> bytes:
        return self.answered.body if self.answered else b""

    @property
    def reply(self) -> Reply | None:
        return self.answered.reply if self.answered else None


class WechatServer:
    """WeChat's side of the webhook for one official account, pushing to the bot's URL."""

    def __init__(
        self,
        url: str,
        token: str,
        appid: str,
        *,
        encoding_aes_key: str | None = None,
        interactions: Interactions | None = None,
        account: str = "gh_0123456789ab",
        timeout: float = 5.0,
        attempts: int = 3,
        concurrent_retries: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url, self.token, self.appid, self.account = url, token, appid, account
        self.crypto = WechatCrypto(encoding_aes_key, appid) if encoding_aes_key else None
        self.interactions = interactions or Interactions()
        self.timeout, self.attempts = timeout, attempts
        self.concurrent_retries = concurrent_retries
        self.clock = clock  # for timestamps and CreateTime (real time: the bot checks them)
        self.results: list[WebhookResult] = []
        self._msg_ids = itertools.count(24_000_000_000_000_000 + secrets.randbelow(10**9))
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

    def user(self, openid: str) -> WechatUser:
        return WechatUser(self, openid)

    # ---- what users do -------------------------------------------------------------------------

    async def verify(self, echostr: str | None = None) -> str:
        """The GET handshake WeChat does when the URL is saved; the bot must echo echostr.
        Official accounts sign it with the plain signature even in safe mode."""
        echostr = echostr or str(secrets.randbelow(10**19))
        _, body = await self.get_raw(self.sign_query() | {"echostr": echostr})
        return body.decode(errors="replace")

    async def send_text(self, openid: str, text: str, msg_id: int | None = None) -> WebhookResult:
        self.interactions.message(openid)
        msg_id = next(self._msg_ids) if msg_id is None else msg_id
        return await self.push(self._message(openid, "text", Content=text, MsgId=msg_id))

    async def click(self, openid: str, key: str) -> WebhookResult:
        self.interactions.click(openid)
        return await self.push(self._message(openid, "event", Event="CLICK", EventKey=key))

    async def follow(self, openid: str) -> WebhookResult:
        self.interactions.follow(openid)
        return await self.push(self._message(openid, "event", Event="subscribe", EventKey=""))

    async def unfollow(self, openid: str) -> WebhookResult:
        self.interactions.unfollow(openid)
        return await self.push(self._message(openid, "event", Event="unsubscribe", EventKey=""))

    async def mass_finished(
        self, msg_id: int, *, total: int, sent: int, errors: int, filtered: int,
        status: str = "send success",
    ) -> WebhookResult:  # fmt: skip
        """WeChat's report of a mass send, from the account's mass-send helper: FilterCount
        is how many were left to send after filtering (not how many were filtered out)."""
        helper = "oMassHelper000000000000000000"
        return await self.push(
            self._message(
                helper,
                "event",
                Event="MASSSENDJOBFINISH",
                MsgID=msg_id,
                Status=status,
                TotalCount=total,
                FilterCount=total - filtered,
                SentCount=sent,
                ErrorCount=errors,
            )
        )

    def _message(self, openid: str, msg_type: str, **rest: str | int) -> dict[str, str | int]:
        head = {"ToUserName": self.account, "FromUserName": openid}
        return head | {"CreateTime": int(self.clock()), "MsgType": msg_type} | rest

    # ---- delivery --------------------------------------------------------------------------------

    async def push(self, message: dict[str, str | int]) -> WebhookResult:
        """POST one message as WeChat does, retrying on silence; decode the passive reply."""
        result = WebhookResult(dict(message))
        self.results.append(result)
        xml = build_xml(message)
        openid = str(message["FromUserName"])
        if self.concurrent_retries:
            tries = [self._attempt(n, xml, openid) for n in range(1, self.attempts + 1)]
            result.attempts = list(await asyncio.gather(*tries))
        else:
            for number in range(1, self.attempts + 1):
                result.attempts.append(attempt := await self._attempt(number, xml, openid))
                if attempt.status is not None:
                    break
        for attempt in result.attempts:
            if attempt.status == 200:
                attempt.reply = self.decode_reply(attempt.body)
        return result

    async def _attempt(self, number: int, xml: str, openid: str) -> Attempt:
        if self.crypto is None:
            body, query = xml.encode(), self.sign_query(openid=openid)
        else:
            encrypt = self.crypto.encrypt(xml)
            body = self.encrypted_body(encrypt)
            query = self.sign_query(encrypt, openid=openid)
        return await self.post_raw(body, query, number=number)

    def sign_query(
        self,
        encrypt: str | None = None,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        openid: str | None = None,
    ) -> dict[str, str]:
        """A correctly signed query; with `encrypt`, the safe-mode one with msg_signature."""
        timestamp = timestamp or str(int(self.clock()))
        nonce = nonce or str(secrets.randbelow(10**10))
        query = {
            "signature": signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
        }
        if openid is not None:
            query["openid"] = openid
        if encrypt is not None:
            query |= {"encrypt_type": "aes"}
            query["msg_signature"] = signature(self.token, timestamp, nonce, encrypt)
        return query

    def encrypted_body(self, encrypt: str) -> bytes:
        return build_xml({"ToUserName": self.account, "Encrypt": encrypt}).encode()

    async def post_raw(
        self,
        body: bytes,
        query: Mapping[str, str] | None = None,
        *,
        number: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> Attempt:
        """One POST of any bytes with any query (no retry, no decoding): for hostile tests."""
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

    async def get_raw(self, query: Mapping[str, str]) -> tuple[int, bytes]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with self.session.get(self.url, params=dict(query), timeout=timeout) as response:
            return response.status, await response.read()

    def decode_reply(self, body: bytes) -> Reply | None:
        """None for "success" or an empty body; else the reply, checked like WeChat would."""
        if body.strip() in (b"", b"success"):
            return None
        fields = parse_xml(body)
        if self.crypto is not None:
            if "Encrypt" not in fields:
                raise BadReply(f"plain reply in safe mode: {body[:200]!r}")
            parts = (fields.get("TimeStamp", ""), fields.get("Nonce", ""), fields["Encrypt"])
            if fields.get("MsgSignature") != signature(self.token, *parts):
                raise BadReply("reply MsgSignature does not match token/TimeStamp/Nonce/Encrypt")
            try:
                fields = parse_xml(self.crypto.decrypt(fields["Encrypt"]))
            except CryptoError as error:
                raise BadReply(f"reply does not decrypt: {error}") from None
        for name in ("ToUserName", "FromUserName", "MsgType"):
            if name not in fields:
                raise BadReply(f"reply lacks <{name}>: {fields}")
        return Reply(
            msg_type=fields["MsgType"],
            content=fields.get("Content"),
            to_user=fields["ToUserName"],
            from_user=fields["FromUserName"],
            fields=fields,
        )


@dataclass
class WechatUser:
    """One follower's side: ``user = server.user("o_abc"); await user.send("hi")``."""

    server: WechatServer
    openid: str

    async def send(self, text: str, msg_id: int | None = None) -> WebhookResult:
        return await self.server.send_text(self.openid, text, msg_id)

    async def click(self, key: str) -> WebhookResult:
        return await self.server.click(self.openid, key)

    async def follow(self) -> WebhookResult:
        return await self.server.follow(self.openid)

    async def unfollow(self) -> WebhookResult:
        return await self.server.unfollow(self.openid)
