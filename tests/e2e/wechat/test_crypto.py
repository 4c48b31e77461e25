"""The bot's own WeChat crypto against Tencent's published safe-mode sample (its Python
SDK's Sample.py): the signature, the decryption, the appid check, and round trips."""

from __future__ import annotations

import pytest

from bot.channels.wechat import xml
from bot.channels.wechat.crypto import Envelope, Guard, Refused, signature
from tests.fakes.wechat_server import WechatCrypto, parse_xml
from tests.unit.fakes.test_fake_wechat import (
    SAMPLE_APPID,
    SAMPLE_ENCRYPT,
    SAMPLE_KEY,
    SAMPLE_MSG_SIGNATURE,
    SAMPLE_NONCE,
    SAMPLE_PLAINTEXT,
    SAMPLE_TIMESTAMP,
    SAMPLE_TOKEN,
)

pytestmark = pytest.mark.dated  # run again on days years away (make test-dates)


def test_tencents_sample_message_checks_and_decrypts() -> None:
    guard = Guard(SAMPLE_TOKEN, skew=300, clock=lambda: int(SAMPLE_TIMESTAMP) + 5)
    guard.check(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    plain = Envelope(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID).open(SAMPLE_ENCRYPT)
    assert plain == SAMPLE_PLAINTEXT
    assert xml.read(plain)["Content"] == "abcdteT"


def test_the_sample_is_refused_for_another_appid_a_wrong_signature_or_late() -> None:
    with pytest.raises(Refused, match="wrong appid"):
        Envelope(SAMPLE_TOKEN, SAMPLE_KEY, "wx0000000000000000").open(SAMPLE_ENCRYPT)
    guard = Guard(SAMPLE_TOKEN, skew=300, clock=lambda: int(SAMPLE_TIMESTAMP))
    with pytest.raises(Refused, match="wrong signature"):
        guard.check(SAMPLE_MSG_SIGNATURE[::-1], SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    late = Guard(SAMPLE_TOKEN, skew=300, clock=lambda: int(SAMPLE_TIMESTAMP) + 301)
    with pytest.raises(Refused, match="stale"):
        late.check(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)


def test_a_sealed_reply_opens_with_an_independent_implementation() -> None:
    envelope = Envelope(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)
    reply = xml.text_reply("o_user", "gh_account", "收到 ]]> <b>&", 1409735670)
    sealed = parse_xml(envelope.seal(reply, timestamp="1409735670", nonce="abc123"))
    parts = (SAMPLE_TOKEN, sealed["TimeStamp"], sealed["Nonce"], sealed["Encrypt"])
    assert sealed["MsgSignature"] == signature(*parts)
    opened = parse_xml(WechatCrypto(SAMPLE_KEY, SAMPLE_APPID).decrypt(sealed["Encrypt"]))
    assert opened["Content"] == "收到 ]]> <b>&", "the CDATA terminator survives"


def test_a_nonce_is_one_message_only() -> None:
    guard = Guard("t", skew=300, clock=lambda: 1000)
    guard.once("1000", "n1", "wechat:msg:1")
    guard.once("1000", "n1", "wechat:msg:1")  # WeChat retrying the same message
    with pytest.raises(Refused, match="replayed"):
        guard.once("1000", "n1", "wechat:msg:2")
