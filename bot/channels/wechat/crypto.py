"""WeChat's request signatures and safe-mode encryption.

wechatpy does the AES envelope (`PrpCrypto`, which also checks the appid); the signatures
are computed here and compared in constant time (wechatpy compares with `!=`), and stale
timestamps and replayed nonces are refused before anything is decrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from wechatpy.crypto import PrpCrypto

NONCES_KEPT = 100_000  # replay memory; a nonce older than the skew is refused anyway


class Refused(Exception):
    """A request that is not WeChat's (or not any more): `status` is the HTTP answer."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


def signature(*parts: str) -> str:
    """sha1 over the sorted parts: WeChat's `signature` (token, timestamp, nonce) and, with
    the ciphertext added, its `msg_signature`."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class Guard:
    """Checks one request's signature and age, and that its nonce was not used for another
    message (WeChat's own retries of a message may repeat it: those are redeliveries)."""

    def __init__(self, token: str, *, skew: float, clock: Callable[[], float] = time.time) -> None:
        self.token = token
        self.skew = skew
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def check(self, given: str, timestamp: str, nonce: str, *extra: str) -> None:
        """Raises Refused unless the signature matches and the request is fresh."""
        if not (timestamp.isdigit() and len(timestamp) <= 12 and 0 < len(nonce) <= 64):
            raise Refused(400, "timestamp or nonce missing or malformed")
        expected = signature(self.token, timestamp, nonce, *extra)
        if not hmac.compare_digest(given.lower().encode(), expected.encode()):
            raise Refused(403, "wrong signature")
        if abs(self.clock() - int(timestamp)) > self.skew:
            raise Refused(403, "stale timestamp")

    def once(self, timestamp: str, nonce: str, message: str) -> None:
        """Refuse a (timestamp, nonce) seen before with a different message."""
        now = self.clock()
        seen = self._seen.get((timestamp, nonce))
        if seen is not None and seen[1] != message:
            raise Refused(403, "replayed nonce")
        self._seen[(timestamp, nonce)] = (now, message)
        while self._seen and (
            len(self._seen) > NONCES_KEPT or now - next(iter(self._seen.values()))[0] > self.skew
        ):
            self._seen.popitem(last=False)


class Envelope:
    """Safe mode: the message body is AES-encrypted for one appid."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._crypto = PrpCrypto(key)

    def open(self, encrypted: str) -> str:
        """The plaintext XML; Refused for anything that is not a message for our appid."""
        try:
            return str(self._crypto.decrypt(encrypted, self.app_id))
        except Exception as exc:  # bad base64, padding, length, UTF-8 or appid: all garbage
            name = type(exc).__name__
            why = "wrong appid" if name == "InvalidAppIdException" else "undecryptable"
            raise Refused(400, why) from None

    def seal(self, xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> str:
        """A passive reply in the encrypted envelope WeChat expects."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or secrets.token_hex(8)
        encrypted = self._crypto.encrypt(xml, self.app_id)
        encrypted = encrypted.decode() if isinstance(encrypted, bytes) else str(encrypted)
        sig = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
