"""SMPP receipt texts (SMPP 3.4 Appendix B as gateways write it), ids in either base, and the
wire helpers the SMPP provider decodes clients' texts with."""

from datetime import datetime

import pytest

from bot.channels.sms.errors import BadNumber, ChannelStopped, MessageRefused, RetryLater
from bot.channels.sms.smpp_codec import decode_text, error_for, mainland, split_udh, text_parts
from bot.channels.sms.smpp_receipts import BEIJING, id_keys, id_lookups, parse_receipt, parse_time

TEXT = (
    "id:0a1b2c3d sub:001 dlvrd:001 submit date:2612010900 done date:2612010901 "
    "stat:DELIVRD err:000 text:Hello world stat:x"
)


def test_the_receipt_text_of_appendix_b() -> None:
    receipt = parse_receipt(TEXT)
    assert receipt is not None
    assert receipt.message_id == "0a1b2c3d" and receipt.stat == "DELIVRD" and receipt.delivered
    assert receipt.submitted == datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)
    assert receipt.done == datetime(2026, 12, 1, 9, 1, tzinfo=BEIJING)
    assert receipt.text == "Hello world stat:x"  # text runs to the end, whatever it holds
    assert receipt.code == "DELIVRD"


def test_an_error_code_joins_the_stat_and_case_does_not_matter() -> None:
    receipt = parse_receipt("ID:77 Sub:001 Dlvrd:000 Submit_Date:261201090005 "
                            "Done_Date:261201091530 Stat:undeliv Err:013 Text:")  # fmt: skip
    assert receipt is not None and not receipt.delivered
    assert receipt.code == "UNDELIV:013" and receipt.text == ""
    assert receipt.done == datetime(2026, 12, 1, 9, 15, 30, tzinfo=BEIJING)


@pytest.mark.parametrize("text", ["", "hello", "sub:001 stat:DELIVRD", "id: stat:DELIVRD"])
def test_without_an_id_it_is_not_a_receipt(text: str) -> None:
    assert parse_receipt(text) is None


@pytest.mark.parametrize("value", ["", "26120109", "2613010900", "abcdefghij", "26120109001"])
def test_bad_dates_are_none(value: str) -> None:
    assert parse_time(value) is None


def test_ids_in_either_base_meet() -> None:
    submitted = "005a000000"
    assert set(id_lookups(str(0x5A000000))) & set(id_keys(submitted))  # decimal in the receipt
    assert set(id_lookups("5a000000")) & set(id_keys(submitted))
    assert set(id_lookups("5A000000")) & set(id_keys(submitted))
    assert set(id_lookups("1234")) & set(id_keys("1234"))
    assert not set(id_lookups("99")) & set(id_keys("005a000000"))
    assert set(id_lookups(f"{1509949440:x}")) & set(id_keys("1509949440"))  # hex receipt


def test_clients_texts_decode_by_data_coding() -> None:
    assert decode_text("退订".encode("utf-16-be"), 8) == "退订"
    assert decode_text(b"TD R@", 1) == "TD R@"
    assert decode_text(b"TD R\x00\x1b\x65", 0) == "TD R@€"  # GSM: 0x00 is @, ESC e is €
    assert decode_text("退订".encode("gbk"), 15) == "退订"
    assert decode_text(b"caf\xe9", 3) == "café"


def test_long_texts_split_with_a_concatenation_header_and_join_again() -> None:
    text = "【国瑞投资】" + "字" * 150
    parts, esm_class = text_parts(text)
    assert esm_class == 0x40 and len(parts) == 3 and all(len(p) <= 140 for p in parts)
    segments = [split_udh(p) for p in parts]
    assert [(s.total, s.index) for s, _ in segments if s] == [(3, 1), (3, 2), (3, 3)]
    assert b"".join(body for _, body in segments).decode("utf-16-be") == text
    assert text_parts("【国瑞投资】短") == (["【国瑞投资】短".encode("utf-16-be")], 0)


def test_a_16_bit_reference_is_read_too() -> None:
    segment, body = split_udh(bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + b"ab")
    assert segment is not None and (segment.ref, segment.total, segment.index) == (0x1234, 2, 1)
    assert body == b"ab"


@pytest.mark.parametrize(
    ("status", "error"),
    [(0x58, RetryLater), (0x14, RetryLater), (0x0E, ChannelStopped), (0x0F, ChannelStopped),
     (0x0D, ChannelStopped), (0x0B, BadNumber), (0x45, MessageRefused), (0x99, MessageRefused)],
)  # fmt: skip
def test_command_status_maps_to_what_the_caller_does(status: int, error: type) -> None:
    assert type(error_for(status)) is error


def test_handsets_come_back_as_eleven_digits() -> None:
    assert mainland("8613912345678") == mainland("+86 139 1234 5678") == "13912345678"
    assert mainland("008613912345678") == mainland("13912345678") == "13912345678"
    assert mainland("106900") == "106900"
