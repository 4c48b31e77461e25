"""What is not WeCom's is refused with a 4xx and never pulls anything: a wrong signature, a
stale timestamp, an unencrypted or undecryptable body, another corp's message, entities, a
body too large; nothing reaches the archive, and the bot goes on serving."""

from __future__ import annotations

import time

import sqlalchemy as sa

from storage.schema import messages as m
from tests.e2e.wecom.conftest import AES_KEY, CORP, KFID, WecomBot
from tests.fakes.wecom_server import WecomCrypto, WecomServer


def kf_xml(token: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><CreateTime>{int(time.time())}"
        "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]>"
        f"</Event><Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{KFID}]]></OpenKfId></xml>"
    )


async def test_forged_and_broken_callbacks_are_refused(wc: WecomBot) -> None:
    server = wc.wecom
    sealed = server.crypto.encrypt(kf_xml(wc.api.callback_token()))
    body = server.encrypted_body(sealed)
    good = server.sign_query(sealed)
    stale = server.sign_query(sealed, timestamp=str(int(time.time()) - 3600))
    other = WecomCrypto(AES_KEY, "ww9999888877776666")  # the same key, another corp
    foreign = other.encrypt(kf_xml("x"))
    cases = [
        (body, {**good, "msg_signature": "0" * 40}, 403),
        (body, stale, 403),
        (b"<xml><ToUserName>x</ToUserName></xml>", good, 400),
        (server.encrypted_body("not-base64!!"), server.sign_query("not-base64!!"), 400),
        (server.encrypted_body(foreign), server.sign_query(foreign), 400),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>', good, 400),
        (b"<xml>" + b"a" * 200_000 + b"</xml>", good, 413),
    ]
    for raw, query, status in cases:
        attempt = await server.post_raw(raw, query)
        assert attempt.status == status, (raw[:40], attempt.status, attempt.body)
    assert wc.api.syncs == 0  # nothing was pulled for any of them
    async with wc.app.db.read() as tx:
        assert (await tx.conn.execute(sa.select(sa.func.count()).select_from(m))).scalar() == 0
    assert await server.verify("42") == "42"  # and the bot goes on


async def test_a_signature_for_another_token_is_refused(wc: WecomBot) -> None:
    impostor = WecomServer(wc.url, "wrongToken", AES_KEY, CORP)
    try:
        result = await impostor.kf_event(KFID, wc.api.callback_token())
        assert result.attempts[0].status == 403
    finally:
        await impostor.close()
