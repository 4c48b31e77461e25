"""The fake Alibaba SMS server checked against Alibaba's published example, on its own
signing code (not the bot's).

Source: Alibaba Cloud SMS, "HTTP协议及签名" (help.aliyun.com/document_detail/101343, mirrored
at developer.aliyun.com/ask/218522): testId / testSecret, SendSms, published request URL
with Signature zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import aiohttp
import pytest

from tests.fakes.aliyun_sms import FakeAliyunSms, Template, encode, sign, string_to_sign

PUBLISHED_URL_QUERY = (
    "Signature=zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D&AccessKeyId=testId&Action=SendSms&Format=XML"
    "&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4"
    "%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1"
    "&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0"
    "&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
    "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
)
PUBLISHED_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26"
    "PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9"
    "%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595"
    "%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b"
    "-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26"
    "TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T"
    "02%253A42%253A19Z%26Version%3D2017-05-25"
)
THEN = datetime(2017, 7, 12, 2, 42, 19, tzinfo=UTC).timestamp()


def published_params() -> dict[str, str]:
    return dict(parse_qsl(PUBLISHED_URL_QUERY))


def test_the_fakes_own_signing_reproduces_the_published_example() -> None:
    params = published_params()
    assert string_to_sign("GET", params) == PUBLISHED_STRING_TO_SIGN
    assert (
        sign("testSecret", "GET", params) == params["Signature"] == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )
    assert encode("a b*~") == "a%20b%2A~"


@pytest.fixture
async def then() -> AsyncIterator[FakeAliyunSms]:
    """The fake as it was on 12 July 2017, with the example's key, sign name and template."""
    sms = FakeAliyunSms(
        {"testId": "testSecret"},
        sign_names=["阿里云短信测试专用"],
        templates=[Template("SMS_71390007", "尊敬的${customer}，您的业务已办理。")],
        clock=lambda: THEN,
    )
    async with sms:
        yield sms


async def test_the_published_request_is_accepted_as_is(then: FakeAliyunSms) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{then.base_url}/?{PUBLISHED_URL_QUERY}") as response:
            answer = await response.json()
        assert response.status == 200 and answer["Code"] == "OK" and answer["BizId"]
        (sms,) = then.sent
        assert sms.phone == "15300000001" and sms.params == {"customer": "test"}
        assert sms.content == "【阿里云短信测试专用】尊敬的test，您的业务已办理。"
        assert sms.out_id == "123"
        # The same request again: the nonce was used.
        async with session.get(f"{then.base_url}/?{PUBLISHED_URL_QUERY}") as response:
            assert response.status == 400
            assert (await response.json())["Code"] == "SignatureNonceUsed"


async def test_one_changed_parameter_breaks_the_signature(then: FakeAliyunSms) -> None:
    tampered = PUBLISHED_URL_QUERY.replace("OutId=123", "OutId=124")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{then.base_url}/?{tampered}") as response:
            answer = await response.json()
    assert response.status == 400 and answer["Code"] == "SignatureDoesNotMatch"
    assert "OutId%3D124" in answer["Message"]
    assert then.sent == []


async def test_an_old_timestamp_is_refused() -> None:
    async with FakeAliyunSms({"testId": "testSecret"}) as now:  # today's clock
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{now.base_url}/?{PUBLISHED_URL_QUERY}") as response:
                answer = await response.json()
    assert response.status == 400 and answer["Code"] == "InvalidTimeStamp.Expired"
