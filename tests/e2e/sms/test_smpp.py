"""The SMPP provider against the fake SMPP 3.4 gateway: real TCP, PDUs encoded by smpplib on
one side and by the fake's own struct code on the other; the gateway's answers mapped to
what the caller does next, and receipts and replies through `Reports`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from bot.channels.sms.errors import (
    BadNumber,
    ChannelStopped,
    MessageRefused,
    NoAnswer,
    RetryLater,
    Unreachable,
)
from bot.channels.sms.provider import Receipt, Reply, Reports
from bot.channels.sms.smpp import SmppSms
from bot.channels.sms.smpp_receipts import BEIJING
from tests.fakes.clock import ManualClock as Clock
from tests.fakes.smpp_gateway import RBINDFAIL, RX_T_APPN, FakeSmppGateway
from tests.support import eventually

SYSTEM_ID, PASSWORD, SOURCE, SIGN = "guorui", "s3cret", "1069012345", "国瑞投资"
ALICE, BOB = "13912345678", "13800000001"


@dataclass
class Collected:
    """What the provider reported; `failing` calls to on_reply raise (after being recorded)."""

    receipts: list[Receipt] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    failing: int = 0

    async def on_receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)

    async def on_reply(self, reply: Reply) -> None:
        self.replies.append(reply)
        if self.failing:
            self.failing -= 1
            raise RuntimeError("the database is down")

    @property
    def reports(self) -> Reports:
        return Reports(self.on_receipt, self.on_reply)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def gateway(clock: Clock) -> AsyncIterator[FakeSmppGateway]:
    fake = FakeSmppGateway(system_id=SYSTEM_ID, password=PASSWORD, source_addr=SOURCE, clock=clock)
    async with fake:
        yield fake


@pytest.fixture
def collected() -> Collected:
    return Collected()


def client_for(gateway: FakeSmppGateway, clock: Clock, **kw: object) -> SmppSms:
    settings: dict[str, object] = {
        "host": "127.0.0.1", "port": gateway.port, "system_id": SYSTEM_ID,
        "password": PASSWORD, "source_addr": SOURCE, "sign_name": SIGN, "timeout": 1.0,
        "clock": clock.datetime, "backoff": (0.01, 0.05), **kw,
    }  # fmt: skip
    return SmppSms(**settings)  # type: ignore[arg-type]


class Running:
    """A client with `run` under way, bound; stopped and closed on leaving."""

    def __init__(self, client: SmppSms, collected: Collected) -> None:
        self.client, self.collected = client, collected
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SmppSms:
        self.task = asyncio.create_task(self.client.run(self.stop, self.collected.reports))
        await eventually(lambda: self.client.bound, timeout=3, what="the bind")
        return self.client

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop.set()
        await self.client.close()
        assert self.task is not None
        await asyncio.wait_for(self.task, 3)


@pytest.fixture
async def sms(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> AsyncIterator[SmppSms]:
    async with Running(client_for(gateway, clock), collected) as client:
        yield client


# ---- sending ----------------------------------------------------------------------------------


async def test_a_chinese_text_goes_as_ucs2_with_the_sign_name(
    sms: SmppSms, gateway: FakeSmppGateway
) -> None:
    message_id = await sms.send(ALICE, "notice", "您的工单已回复", "ticket-7")
    (message,) = gateway.messages
    assert message.text == "【国瑞投资】您的工单已回复" and message.phone == ALICE
    assert message.data_coding == 8 and message.message_ids == [message_id]
    (submit,) = gateway.submits
    assert submit.registered_delivery == 1 and submit.source_addr == SOURCE
    assert gateway.binds == [(SYSTEM_ID, PASSWORD, "", 0)]


async def test_a_long_text_goes_in_parts_and_the_first_id_is_returned(
    sms: SmppSms, gateway: FakeSmppGateway
) -> None:
    body = "尊敬的客户，" + "您预约的投资者教育课程将于明天上午九点开始。" * 7
    message_id = await sms.send(ALICE, "notice", body, "o-2")
    (message,) = gateway.messages
    assert message.text == f"【{SIGN}】{body}"
    assert len(message.message_ids) == 3 and message.message_ids[0] == message_id
    assert all(s.esm_class & 0x40 and len(s.short_message) <= 140 for s in gateway.submits)


async def test_numbers_can_be_addressed_with_the_country_code(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> None:
    async with Running(client_for(gateway, clock, country_code=True), collected) as client:
        await client.send(BOB, "alert", "风险提示", "o-3")
    (submit,) = gateway.submits
    assert (submit.destination, submit.dest_ton) == ("86" + BOB, 1)


async def test_submits_in_flight_are_matched_by_sequence_number_within_the_window(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> None:
    gateway.hold_submits = True
    async with Running(client_for(gateway, clock, window=2), collected) as client:
        sends = [asyncio.create_task(client.send(p, "notice", f"第{p[-1]}条", "o")) for p in
                 (ALICE, BOB, "15000000002")]  # fmt: skip
        await eventually(lambda: len(gateway.submits) == 2, what="two submits in flight")
        for _ in range(20):  # let the loop run: a third submit would be written by now
            await asyncio.sleep(0)
        assert len(gateway.submits) == 2  # the window is full
        gateway.release(reverse=True)  # answered last first
        await eventually(lambda: len(gateway.submits) == 3, what="the third submit")
        gateway.release()
        ids = await asyncio.gather(*sends)
    assert ids == [gateway.messages_to(p)[0].message_ids[0] for p in (ALICE, BOB, "15000000002")]


# ---- refusals ---------------------------------------------------------------------------------


async def test_a_wrong_password_stops_the_channel(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> None:
    client = client_for(gateway, clock, password="wrong")
    with pytest.raises(ChannelStopped) as caught:
        await asyncio.wait_for(client.run(asyncio.Event(), collected.reports), 3)
    assert caught.value.code == "ESME_RBINDFAIL"
    assert [b[3] for b in gateway.binds] == [RBINDFAIL]  # not tried again
    with pytest.raises(ChannelStopped):
        await client.send(ALICE, "notice", "x", "o")
    await client.close()


async def test_the_throttle_says_retry_later(
    sms: SmppSms, gateway: FakeSmppGateway, clock: Clock
) -> None:
    gateway.tps = 2
    await sms.send(ALICE, "notice", "一", "o")
    await sms.send(BOB, "notice", "二", "o")
    with pytest.raises(RetryLater) as caught:
        await sms.send(ALICE, "notice", "三", "o")
    assert caught.value.code == "ESME_RTHROTTLED" and caught.value.status == 0x58
    clock.now += 1
    await sms.send(ALICE, "notice", "三", "o")


@pytest.mark.parametrize(
    ("status", "error"),
    [(0x14, RetryLater), (0x0A, ChannelStopped), (0x45, MessageRefused), (0x0B, BadNumber)],
)
async def test_command_status_says_what_to_do(
    sms: SmppSms, gateway: FakeSmppGateway, status: int, error: type[Exception]
) -> None:
    gateway.refuse(status)
    with pytest.raises(error):
        await sms.send(ALICE, "notice", "x", "o")
    gateway.refuse(None)
    await sms.send(ALICE, "notice", "x", "o")


async def test_a_bad_number_concerns_that_recipient(sms: SmppSms, gateway: FakeSmppGateway) -> None:
    with pytest.raises(BadNumber) as caught:
        await sms.send("12345", "notice", "x", "o")
    assert caught.value.code == "ESME_RINVDSTADR"
    await sms.send(ALICE, "notice", "x", "o")


async def test_not_bound_is_unreachable_and_nothing_goes(
    gateway: FakeSmppGateway, clock: Clock
) -> None:
    with pytest.raises(Unreachable):
        await client_for(gateway, clock).send(ALICE, "notice", "x", "o")
    assert gateway.submits == []


async def test_a_submit_never_answered_is_no_answer(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> None:
    gateway.hold_submits = True
    async with Running(client_for(gateway, clock, timeout=0.2), collected) as client:
        with pytest.raises(NoAnswer):
            await client.send(ALICE, "notice", "x", "o")
    assert len(gateway.submits) == 1  # it left: a blind retry could send it twice


async def test_the_connection_dropping_after_a_submit_is_no_answer(
    sms: SmppSms, gateway: FakeSmppGateway
) -> None:
    gateway.drop_after_submit()
    with pytest.raises(NoAnswer):
        await sms.send(ALICE, "notice", "x", "o")
    assert len(gateway.submits) == 1


# ---- the link ---------------------------------------------------------------------------------


async def test_the_client_binds_again_after_the_gateway_drops_it(
    sms: SmppSms, gateway: FakeSmppGateway
) -> None:
    await sms.send(ALICE, "notice", "一", "o")
    gateway.drop()
    await eventually(lambda: len(gateway.binds) == 2 and sms.bound, what="a new bind")
    await sms.send(ALICE, "notice", "二", "o")
    assert [m.text for m in gateway.messages] == ["【国瑞投资】一", "【国瑞投资】二"]


async def test_the_gateways_unbind_is_answered_and_the_client_binds_again(
    sms: SmppSms, gateway: FakeSmppGateway
) -> None:
    assert await gateway.unbind() == 0
    await eventually(lambda: len(gateway.binds) == 2 and sms.bound, what="a new bind")
    await sms.send(ALICE, "notice", "一", "o")


async def test_a_link_that_stops_answering_enquire_link_is_bound_again(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> None:
    client = client_for(gateway, clock, enquire_seconds=0.02, timeout=0.1)
    async with Running(client, collected):
        gateway.answer_enquiries = False
        await eventually(lambda: gateway.bound_sessions == 0, what="the client hanging up")
        gateway.answer_enquiries = True
        await eventually(lambda: len(gateway.binds) >= 2 and client.bound, what="a new bind")


async def test_enquire_link_both_ways_and_unbind_on_close(
    gateway: FakeSmppGateway, clock: Clock, collected: Collected
) -> None:
    async with Running(client_for(gateway, clock, enquire_seconds=0.02), collected):
        assert await gateway.enquire() == 0
        await eventually(lambda: gateway.enquiries >= 2, what="the client's enquire_link")
    assert gateway.unbinds == 1 and gateway.bound_sessions == 0


# ---- receipts and replies ---------------------------------------------------------------------


async def test_a_receipt_is_reported_under_the_first_parts_id(
    sms: SmppSms, gateway: FakeSmppGateway, collected: Collected, clock: Clock
) -> None:
    body = "您的开户申请已经审核通过，" * 12
    first = await sms.send(ALICE, "notice", body, "o-9")
    ids = gateway.messages[0].message_ids
    assert await gateway.receipt(ids[1]) == [0]
    assert collected.receipts == []  # a later part's receipt does not decide
    clock.now += 60
    assert await gateway.receipt(ids[0]) == [0]
    (receipt,) = collected.receipts
    assert (receipt.message_id, receipt.phone, receipt.delivered) == (first, ALICE, True)
    assert receipt.code == "DELIVRD" and receipt.parts == 3
    assert receipt.at == datetime(2026, 12, 1, 9, 1, tzinfo=BEIJING)


async def test_an_undelivered_receipt_in_text_only_with_a_decimal_id(
    sms: SmppSms, gateway: FakeSmppGateway, collected: Collected
) -> None:
    message_id = await sms.send(BOB, "alert", "风险提示", "o")
    decimal = str(int(message_id, 16))
    await gateway.receipt(message_id, "UNDELIV", "013", tlvs=False, text_id=decimal)
    (receipt,) = collected.receipts
    assert (receipt.message_id, receipt.delivered) == (message_id, False)
    assert receipt.code == "UNDELIV:013"


async def test_a_reply_reaches_on_reply(
    sms: SmppSms, gateway: FakeSmppGateway, collected: Collected, clock: Clock
) -> None:
    assert await gateway.reply("86" + ALICE, "R") == [[0]]
    (reply,) = collected.replies
    assert (reply.phone, reply.text, reply.at) == (ALICE, "R", clock.datetime())
    assert reply.key.startswith(f"smpp:{ALICE}:")
    await gateway.reply(ALICE, "R")
    assert collected.replies[1].key != reply.key  # the same words again are another reply


async def test_a_long_reply_is_reported_once_whole(
    sms: SmppSms, gateway: FakeSmppGateway, collected: Collected
) -> None:
    text = "我想咨询一下明天的课程安排，" * 12
    answers = await gateway.reply(ALICE, text)
    assert answers == [[0], [0], [0]]
    (reply,) = collected.replies
    assert reply.text == text and reply.phone == ALICE


async def test_a_failing_callback_makes_the_gateway_deliver_again_under_the_same_key(
    sms: SmppSms, gateway: FakeSmppGateway, collected: Collected
) -> None:
    collected.failing = 1
    assert await gateway.reply(ALICE, "退订") == [[RX_T_APPN, 0]]
    first, second = collected.replies
    assert first == second and first.text == "退订"
    collected.failing = 1
    long = "请帮我把手机号改为新的号码，谢谢。" * 6
    answers = await gateway.reply(BOB, long)
    assert answers[:-1] == [[0]] * (len(answers) - 1) and answers[-1] == [RX_T_APPN, 0]
    again, once_more = collected.replies[2:]
    assert again.key == once_more.key and once_more.text == long
