"""SMPP 3.4 on the wire for the SMPP provider: PDUs encoded and parsed by smpplib's command
classes (smpplib's blocking socket client is not used; the connection is asyncio's), a text
cut into UCS2 parts with a concatenation header, a client's text decoded by its data_coding,
and what a command_status means for the caller.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any

from smpplib import consts, gsm, smpp
from smpplib import exceptions as smpplib_errors

from bot.channels.sms.errors import (
    BadNumber,
    ChannelStopped,
    MessageRefused,
    RetryLater,
    SmsApiError,
)

HEADER = struct.Struct(">IIII")  # command_length, command_id, command_status, sequence_number
MAX_PDU = 64 * 1024  # far above any PDU of SMPP 3.4; a larger length means a broken stream
RESPONSE = 0x80000000
GENERIC_NACK, ENQUIRE_LINK, UNBIND, DELIVER_SM = 0x80000000, 0x15, 0x06, 0x05
OK = consts.SMPP_ESME_ROK
UDHI = consts.SMPP_GSMFEAT_UDHI  # esm_class: the text starts with a user data header
RECEIPT = 0x04  # esm_class: an SMSC delivery receipt
UCS2 = consts.SMPP_ENCODING_ISO10646
NAMES = {v: k.removeprefix("SMPP_") for k, v in vars(consts).items() if k.startswith("SMPP_ESME_R")}

RETRY_LATER = frozenset({
    consts.SMPP_ESME_RTHROTTLED, consts.SMPP_ESME_RMSGQFUL,
    consts.SMPP_ESME_RSYSERR,  # the SMSC's own trouble, not this message's
})  # fmt: skip
CHANNEL_STOPPED = frozenset({
    consts.SMPP_ESME_RBINDFAIL, consts.SMPP_ESME_RINVPASWD, consts.SMPP_ESME_RINVSYSID,
    0x53,  # ESME_RINVSYSTYP
    consts.SMPP_ESME_RINVSRCADR,  # our 106 number is not (or no longer) ours to send from
})  # fmt: skip
BIND_TRANSIENT = RETRY_LATER | {consts.SMPP_ESME_RALYBND}  # bind again later, same settings


class _NoSequence:
    """smpplib numbers a new request from its client; ours are numbered by the caller."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_NO_SEQUENCE = _NoSequence()


def encode(command: str, sequence: int, *, status: int = OK, **fields: Any) -> bytes:
    pdu = smpp.make_pdu(command, client=_NO_SEQUENCE, status=status, **fields)
    pdu.sequence = sequence  # smpplib's constructor ignores a given sequence
    return bytes(pdu.generate())


def decode(raw: bytes) -> Any:
    """smpplib's command object (fields as bytes or ints, absent TLVs None); vendors' TLVs are
    skipped. Raises smpplib's errors (or struct's) on a PDU it cannot read."""
    return smpp.parse_pdu(raw, client=_NO_SEQUENCE, allow_unknown_opt_params=True)


@dataclass(frozen=True, slots=True)
class Frame:
    command_id: int
    status: int
    sequence: int
    raw: bytes


async def read_frame(reader: asyncio.StreamReader) -> Frame:
    """One whole PDU; IncompleteReadError when the stream ends, ConnectionError on garbage."""
    header = await reader.readexactly(HEADER.size)
    length, command_id, status, sequence = HEADER.unpack(header)
    if not HEADER.size <= length <= MAX_PDU:
        raise ConnectionError(f"PDU length {length}: not SMPP")
    return Frame(command_id, status, sequence, header + await reader.readexactly(length - 16))


def text(value: bytes | str | None) -> str:
    """A C-octet string field as smpplib parses it (bytes, maybe NUL-ended) or None."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.rstrip("\0")


# ---- texts ----------------------------------------------------------------------------------


def text_parts(message: str) -> tuple[list[bytes], int]:
    """The short_message of each part (UCS2; over 70 characters, parts of 67 with a UDH
    concatenation header) and the esm_class they go with."""
    try:
        parts, _, esm_class = gsm.make_parts(message, UCS2)
    except smpplib_errors.MessageTooLong:
        raise MessageRefused("TOO_LONG", "more than 255 parts") from None
    return list(parts), int(esm_class)


@dataclass(frozen=True, slots=True)
class Segment:
    """Where one part of a concatenated text belongs."""

    ref: int
    total: int
    index: int  # 1-based


def split_udh(data: bytes) -> tuple[Segment | None, bytes]:
    """A user data header's concatenation element (8- or 16-bit reference) and the text
    after the header."""
    if not data:
        return None, data
    end = 1 + data[0]
    header, body = data[1:end], data[end:]
    segment, at = None, 0
    while at + 2 <= len(header):
        iei, size = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + size]
        if iei == 0x00 and size == 3:
            segment = Segment(value[0], value[1], value[2])
        elif iei == 0x08 and size == 4:
            segment = Segment(value[0] << 8 | value[1], value[2], value[3])
        at += 2 + size
    return segment, body


def gsm_decode(data: bytes) -> str:
    """GSM 03.38 default alphabet, one septet per octet (as SMPP carries it), with the
    escape to the extension table."""
    table, out, escaped = gsm.GSM_CHARACTER_TABLE, [], False
    for octet in data:
        if octet == 0x1B and not escaped:
            escaped = True
            continue
        index = (0x80 if escaped else 0) + (octet & 0x7F)
        out.append(table[index] if index < len(table) else "?")
        escaped = False
    return "".join(out)


def decode_text(data: bytes, data_coding: int | None) -> str:
    """A client's text by its data_coding: 8 UCS2 (UTF-16, as handsets write it), 0 the GSM
    default alphabet, 1 ASCII, 15 GBK (Chinese gateways' habit from CMPP), else Latin-1."""
    coding = data_coding or 0
    if coding == UCS2:
        return data.decode("utf-16-be", errors="replace")
    if coding == 0:
        return gsm_decode(data)
    if coding == 1:
        return data.decode("ascii", errors="replace")
    if coding == 15:
        return data.decode("gbk", errors="replace")
    return data.decode("latin-1")


# ---- command_status -------------------------------------------------------------------------


def status_name(status: int) -> str:
    return NAMES.get(status, f"0x{status:08X}")


def error_for(status: int) -> SmsApiError:
    """The exception for a submit_sm_resp's (or a bind's) command_status."""
    code, message = status_name(status), consts.DESCRIPTIONS.get(status, "")
    if status in RETRY_LATER:
        return RetryLater(code, message, status=status)
    if status in CHANNEL_STOPPED:
        return ChannelStopped(code, message, status=status)
    if status == consts.SMPP_ESME_RINVDSTADR:
        return BadNumber(code, message, status=status)
    return MessageRefused(code, message, status=status)


def mainland(number: str) -> str:
    """A handset's address as 11 digits where it is a mainland mobile (86, +86, 0086 cut)."""
    digits = "".join(c for c in number if c.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits
