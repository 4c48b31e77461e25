"""The SMS client's request signature against Alibaba's published example.

Source: Alibaba Cloud SMS, "HTTP协议及签名" (dysmsapi, help.aliyun.com/document_detail/101343,
mirrored at developer.aliyun.com/ask/218522): AccessKeyId testId, secret testSecret, SendSms
to 15300000001 with SignName 阿里云短信测试专用, TemplateCode SMS_71390007, TemplateParam
{"customer":"test"}, OutId 123, Format XML, nonce 45e25e9b-…, Timestamp 2017-07-12T02:42:19Z,
method GET; published Signature zJDF+Lrzhj/ThnlvIToysFRq6t4= (URL-encoded
zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.channels.sms.aliyun import (
    AliyunSms,
    BadNumber,
    ChannelStopped,
    MessageRefused,
    RetryLater,
    canonical_query,
    error_for,
    percent_encode,
    signature,
    string_to_sign,
)

EXAMPLE = {
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "AccessKeyId": "testId",
    "SignatureVersion": "1.0",
    "Timestamp": "2017-07-12T02:42:19Z",
    "Format": "XML",
    "Action": "SendSms",
    "Version": "2017-05-25",
    "RegionId": "cn-hangzhou",
    "PhoneNumbers": "15300000001",
    "SignName": "阿里云短信测试专用",
    "TemplateParam": '{"customer":"test"}',
    "TemplateCode": "SMS_71390007",
    "OutId": "123",
}
PUBLISHED_QUERY = (
    "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001"
    "&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B"
    "%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1"
    "&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0"
    "&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D"
    "&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
)
PUBLISHED_SIGNATURE = "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_the_published_example_signs_to_the_published_value() -> None:
    assert canonical_query(EXAMPLE) == PUBLISHED_QUERY
    assert string_to_sign("GET", EXAMPLE).startswith("GET&%2F&AccessKeyId%3DtestId%26Action")
    assert signature("testSecret", "GET", EXAMPLE) == PUBLISHED_SIGNATURE
    assert percent_encode(PUBLISHED_SIGNATURE) == "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D"


def test_signature_itself_is_left_out_of_what_is_signed() -> None:
    assert signature("testSecret", "GET", {**EXAMPLE, "Signature": "x"}) == PUBLISHED_SIGNATURE


def test_percent_encoding_follows_alibabas_rules() -> None:
    assert percent_encode("a b*c~d+e/f") == "a%20b%2Ac~d%2Be%2Ff"
    assert percent_encode("-_.") == "-_."
    assert percent_encode("短") == "%E7%9F%AD"


def test_the_client_signs_its_own_requests_the_same_way() -> None:
    client = AliyunSms(
        access_key_id="testId",
        access_key_secret="testSecret",
        clock=lambda: datetime(2017, 7, 12, 2, 42, 19, tzinfo=UTC),
        nonce=lambda: "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    )
    request = {k: EXAMPLE[k] for k in ("PhoneNumbers", "SignName", "TemplateParam",
                                       "TemplateCode", "OutId", "Format")}  # fmt: skip
    params = client.signed("SendSms", request, "GET")
    assert params["Signature"] == PUBLISHED_SIGNATURE
    assert client.signed("SendSms", request, "POST")["Signature"] != PUBLISHED_SIGNATURE


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5", RetryLater),
        ("Throttling.User", "Request was denied due to user flow control.", RetryLater),
        ("isv.AMOUNT_NOT_ENOUGH", "账户余额不足", ChannelStopped),
        ("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板", ChannelStopped),
        ("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名", ChannelStopped),
        ("InvalidAccessKeyId.NotFound", "Specified access key is not found.", ChannelStopped),
        ("SignatureDoesNotMatch", "Specified signature is not matched", ChannelStopped),
        ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", BadNumber),
        ("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制", MessageRefused),
        ("isv.SOMETHING_NEW", "?", MessageRefused),
    ],
)
def test_codes_map_to_what_the_caller_does_next(code: str, message: str, kind: type) -> None:
    error = error_for(code, message)
    assert type(error) is kind and error.code == code


def test_a_numbers_limit_says_how_long_to_wait() -> None:
    minute = error_for("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
    day = error_for("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")
    assert isinstance(minute, RetryLater) and minute.per_number and minute.retry_after == 60
    assert isinstance(day, RetryLater) and day.retry_after == 86400
    throttled = error_for("Throttling.User", "")
    assert isinstance(throttled, RetryLater) and not throttled.per_number
