"""The Alibaba SMS client against the fake dysmsapi: real HTTP, signatures checked by the
fake's own code, Alibaba's answers mapped to what the caller does next."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.channels.sms.aliyun import AliyunSms, SendDetail
from bot.channels.sms.errors import (
    BadNumber,
    ChannelStopped,
    MessageRefused,
    NoAnswer,
    RetryLater,
    Unreachable,
)
from tests.fakes.aliyun_sms import VERIFY, FakeAliyunSms, Template
from tests.fakes.clock import ManualClock as Clock
from tests.fakes.http_base import FakeHttpServer
from tests.support import free_port

KEY_ID, SECRET = "LTAI5tFakeKeyId0000", "fakeSecret0123456789abcdefghij"
SIGN = "国瑞投资"
NOTICE = Template("SMS_400100001", "您好，${text}")
CODE = Template("SMS_400100002", "您的绑定验证码为${code}，5分钟内有效。", VERIFY)
ALICE, BOB, CAROL = "13912345678", "13800000001", "15000000002"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def api(clock: Clock) -> AsyncIterator[FakeAliyunSms]:
    fake = FakeAliyunSms({KEY_ID: SECRET}, sign_names=[SIGN], templates=[NOTICE, CODE], clock=clock)
    async with fake:
        yield fake


def client_for(api: FakeAliyunSms, clock: Clock, *, secret: str = SECRET) -> AliyunSms:
    return AliyunSms(
        access_key_id=KEY_ID, access_key_secret=secret, base=api.base_url, clock=clock.datetime
    )


@pytest.fixture
async def sms(api: FakeAliyunSms, clock: Clock) -> AsyncIterator[AliyunSms]:
    client = client_for(api, clock)
    yield client
    await client.close()


async def test_a_send_goes_with_the_template_and_its_variables(
    sms: AliyunSms, api: FakeAliyunSms
) -> None:
    sent = await sms.send(ALICE, SIGN, NOTICE.code, {"text": "您的工单已回复"}, out_id="ticket-7")
    assert sent.biz_id and sent.request_id
    (text,) = api.sent
    assert (text.phone, text.template, text.params) == (
        ALICE,
        NOTICE.code,
        {"text": "您的工单已回复"},
    )
    assert text.content == "【国瑞投资】您好，您的工单已回复" and text.out_id == "ticket-7"
    assert text.biz_id == sent.biz_id
    call = api.calls[-1]
    assert call.method == "POST" and call.params["Action"] == "SendSms"
    assert json.loads(call.params["TemplateParam"]) == {"text": "您的工单已回复"}


async def test_a_wrong_secret_is_refused_and_nothing_goes(api: FakeAliyunSms, clock: Clock) -> None:
    client = client_for(api, clock, secret="not-the-secret")
    try:
        with pytest.raises(ChannelStopped) as caught:
            await client.send(ALICE, SIGN, NOTICE.code, {"text": "x"})
    finally:
        await client.close()
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.status == 400
    assert api.sent == []


async def test_each_request_has_a_fresh_nonce_and_timestamp(
    sms: AliyunSms, api: FakeAliyunSms, clock: Clock
) -> None:
    await sms.send(ALICE, SIGN, NOTICE.code, {"text": "一"})
    clock.now += 1
    await sms.send(BOB, SIGN, NOTICE.code, {"text": "二"})
    first, second = (c.params for c in api.calls)
    assert first["SignatureNonce"] != second["SignatureNonce"]
    assert first["Timestamp"] == "2026-12-01T01:00:00Z" and second["Timestamp"].endswith("01Z")


async def test_a_numbers_frequency_limits_say_retry_later_for_that_number(
    sms: AliyunSms, api: FakeAliyunSms, clock: Clock
) -> None:
    await sms.send(ALICE, SIGN, CODE.code, {"code": "1234"})
    with pytest.raises(RetryLater) as minute:
        await sms.send(ALICE, SIGN, CODE.code, {"code": "2345"})
    assert minute.value.code == "isv.BUSINESS_LIMIT_CONTROL" and minute.value.per_number
    assert minute.value.retry_after == 60
    await sms.send(BOB, SIGN, CODE.code, {"code": "2345"})  # another number still goes
    for _ in range(4):
        clock.now += 61
        await sms.send(ALICE, SIGN, CODE.code, {"code": "3456"})
    clock.now += 61
    with pytest.raises(RetryLater) as hour:  # 5 within the hour
        await sms.send(ALICE, SIGN, CODE.code, {"code": "4567"})
    assert hour.value.retry_after == 3600
    for _ in range(5):
        clock.now += 3601
        await sms.send(ALICE, SIGN, CODE.code, {"code": "5678"})
    clock.now += 3601
    with pytest.raises(RetryLater) as day:  # 10 within 24 hours
        await sms.send(ALICE, SIGN, CODE.code, {"code": "6789"})
    assert day.value.retry_after == 86400
    assert len(api.to(ALICE)) == 10


async def test_notices_allow_fifty_a_day_per_number_and_template(
    sms: AliyunSms, api: FakeAliyunSms, clock: Clock
) -> None:
    for i in range(50):
        clock.now += 1
        await sms.send(ALICE, SIGN, NOTICE.code, {"text": f"第{i}条"})
    with pytest.raises(RetryLater, match="天级"):
        await sms.send(ALICE, SIGN, NOTICE.code, {"text": "再一条"})


async def test_the_qps_cap_throttles_the_account_not_a_number(
    sms: AliyunSms, api: FakeAliyunSms, clock: Clock
) -> None:
    api.qps = 2
    await sms.send(ALICE, SIGN, NOTICE.code, {"text": "一"})
    await sms.send(BOB, SIGN, NOTICE.code, {"text": "二"})
    with pytest.raises(RetryLater) as caught:
        await sms.send(CAROL, SIGN, NOTICE.code, {"text": "三"})
    assert caught.value.code == "Throttling.User" and not caught.value.per_number
    clock.now += 1
    await sms.send(CAROL, SIGN, NOTICE.code, {"text": "三"})


@pytest.mark.parametrize(
    "code", ["isv.AMOUNT_NOT_ENOUGH", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL"]
)
async def test_balance_template_and_signature_refusals_stop_the_channel(
    sms: AliyunSms, api: FakeAliyunSms, code: str
) -> None:
    api.refuse(code)
    with pytest.raises(ChannelStopped) as caught:
        await sms.send(ALICE, SIGN, NOTICE.code, {"text": "x"})
    assert caught.value.code == code and caught.value.message
    api.refuse(None)
    await sms.send(ALICE, SIGN, NOTICE.code, {"text": "x"})


async def test_an_unknown_template_or_sign_name_stops_the_channel(sms: AliyunSms) -> None:
    with pytest.raises(ChannelStopped, match="SMS_TEMPLATE_ILLEGAL"):
        await sms.send(ALICE, SIGN, "SMS_000000000", {"text": "x"})
    with pytest.raises(ChannelStopped, match="SMS_SIGNATURE_ILLEGAL"):
        await sms.send(ALICE, "别的公司", NOTICE.code, {"text": "x"})


async def test_a_bad_number_concerns_that_recipient_only(
    sms: AliyunSms, api: FakeAliyunSms
) -> None:
    with pytest.raises(BadNumber) as caught:
        await sms.send("12345", SIGN, NOTICE.code, {"text": "x"})
    assert caught.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    await sms.send(ALICE, SIGN, NOTICE.code, {"text": "x"})


async def test_a_variable_too_long_or_missing_refuses_the_message(sms: AliyunSms) -> None:
    with pytest.raises(MessageRefused, match="PARAM_LENGTH_LIMIT"):
        await sms.send(ALICE, SIGN, NOTICE.code, {"text": "字" * 36})
    with pytest.raises(MessageRefused, match="TEMPLATE_MISSING_PARAMETERS"):
        await sms.send(ALICE, SIGN, NOTICE.code, {})


async def test_a_batch_goes_to_each_number_with_its_own_variables(
    sms: AliyunSms, api: FakeAliyunSms
) -> None:
    phones = [ALICE, BOB, CAROL]
    params = [{"text": f"{name}，课程明天开始"} for name in ("王先生", "李女士", "张先生")]
    sent = await sms.send_batch(phones, SIGN, NOTICE.code, params)
    assert [s.phone for s in api.by_biz(sent.biz_id)] == phones
    assert [s.params for s in api.by_biz(sent.biz_id)] == params
    call = api.calls[-1].params
    assert call["Action"] == "SendBatchSms" and json.loads(call["SignNameJson"]) == [SIGN] * 3
    with pytest.raises(ValueError, match="pair up"):
        await sms.send_batch(phones, SIGN, NOTICE.code, params[:2])


async def test_a_batch_with_one_bad_number_sends_nothing(
    sms: AliyunSms, api: FakeAliyunSms
) -> None:
    with pytest.raises(BadNumber):
        await sms.send_batch([ALICE, "999"], SIGN, NOTICE.code, [{"text": "a"}, {"text": "b"}])
    assert api.sent == []


async def test_query_send_details_tells_what_became_of_a_text(
    sms: AliyunSms, api: FakeAliyunSms, clock: Clock
) -> None:
    sent = await sms.send(ALICE, SIGN, NOTICE.code, {"text": "您的交易编码已开通"}, out_id="o-1")
    day = clock.datetime().date()
    waiting = await sms.query(ALICE, day, biz_id=sent.biz_id)
    assert waiting.total == 1 and waiting.details[0].status == SendDetail.WAITING
    api.settle(api.by_biz(sent.biz_id)[0])
    (done,) = (await sms.query(ALICE, day, biz_id=sent.biz_id)).details
    assert done.status == SendDetail.DELIVERED and done.err_code == "DELIVERED"
    assert done.content == "【国瑞投资】您好，您的交易编码已开通" and done.out_id == "o-1"
    assert done.send_date == "2026-12-01 09:00:00" and done.receive_date == "2026-12-01 09:00:03"
    clock.now += 1
    failed = await sms.send(ALICE, SIGN, NOTICE.code, {"text": "二"})
    api.settle(api.by_biz(failed.biz_id)[0], delivered=False, err_code="MK:0005")
    (row,) = (await sms.query(ALICE, day, biz_id=failed.biz_id)).details
    assert (row.status, row.err_code) == (SendDetail.FAILED, "MK:0005")
    assert (await sms.query(ALICE, day)).total == 2


class Receiver(FakeHttpServer):
    """Where the bot would take Alibaba's pushes: keeps each POSTed array, answers code 0."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[dict[str, object]]] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/sms/aliyun", self._take)

    async def _take(self, request: web.Request) -> web.Response:
        self.batches.append(await request.json())
        return web.json_response({"code": 0, "msg": "成功"})


async def test_receipts_and_replies_are_pushed_as_json_arrays(
    sms: AliyunSms, api: FakeAliyunSms
) -> None:
    a = await sms.send(ALICE, SIGN, NOTICE.code, {"text": "一"}, out_id="n-1")
    b = await sms.send(BOB, SIGN, NOTICE.code, {"text": "二"})
    reports = [api.settle(api.by_biz(a.biz_id)[0]),
               api.settle(api.by_biz(b.biz_id)[0], delivered=False)]  # fmt: skip
    async with Receiver() as receiver:
        url = f"{receiver.base_url}/sms/aliyun?token=t"
        status, answer = await api.push_reports(url, reports)
        assert status == 200 and json.loads(answer)["code"] == 0
        await api.push_replies(url, [api.reply(ALICE, "R")])
    delivered, failed = receiver.batches[0]
    assert delivered["biz_id"] == a.biz_id and delivered["success"] is True
    assert delivered["out_id"] == "n-1" and delivered["err_code"] == "DELIVERED"
    assert failed["success"] is False and failed["phone_number"] == BOB
    assert set(delivered) == {"phone_number", "send_time", "report_time", "success", "err_code",
                              "err_msg", "sms_size", "biz_id", "out_id"}  # fmt: skip
    (reply,) = receiver.batches[1]
    assert reply["content"] == "R" and reply["sign_name"] == SIGN
    assert set(reply) == {"phone_number", "send_time", "content", "sign_name", "dest_code",
                          "sequence_id"}  # fmt: skip


async def test_no_server_is_unreachable(clock: Clock) -> None:
    client = AliyunSms(
        access_key_id=KEY_ID, access_key_secret=SECRET,
        base=f"http://127.0.0.1:{free_port()}", clock=clock.datetime,
    )  # fmt: skip
    try:
        with pytest.raises(Unreachable):
            await client.send(ALICE, SIGN, NOTICE.code, {"text": "x"})
    finally:
        await client.close()


async def test_an_answer_too_late_is_no_answer_though_the_text_went(
    api: FakeAliyunSms, clock: Clock
) -> None:
    api.latency = 1.0
    client = AliyunSms(
        access_key_id=KEY_ID, access_key_secret=SECRET, base=api.base_url,
        clock=clock.datetime, timeout=0.2,
    )  # fmt: skip
    try:
        with pytest.raises(NoAnswer):
            await client.send(ALICE, SIGN, NOTICE.code, {"text": "x"})
    finally:
        await client.close()
    assert len(api.to(ALICE)) == 1  # carried out: a blind retry would send it twice
