"""A fake SMPP 3.4 gateway (an SMSC as a Chinese "106" provider runs one), an asyncio TCP
server on 127.0.0.1, written from the SMPP 3.4 specification with `struct`.

It imports nothing from the bot and not smpplib, so it cross-checks the bot's client: PDUs are
encoded and parsed here independently (header: command_length, command_id, command_status,
sequence_number, big-endian; C-octet strings NUL-ended; TLVs tag, length, value).

Rules enforced:

- bind_transceiver only (other binds: generic_nack ESME_RINVCMDID); system_id and password
  must match, else ESME_RBINDFAIL with no body; a second bind on one connection
  ESME_RALYBND. Before a bind, submit_sm answers ESME_RINVBNDSTS.
- enquire_link answered (and counted; not answered with `answer_enquiries = False`); the
  gateway's own `enquire()` waits for the answer. unbind answered, then the connection is
  closed; the gateway's own `unbind()` waits for unbind_resp and closes.
- submit_sm: destination a mainland mobile (11 digits 1[3-9]…, or 86 and those with TON 1),
  else ESME_RINVDSTADR; source_addr our 106 number (an extension after it allowed), else
  ESME_RINVSRCADR; short_message at most 140 octets, else ESME_RINVMSGLEN; data_coding 8
  (UCS2) decoded as UTF-16BE, 0 and 1 as ASCII; with UDHI set, the concatenation element
  (8- or 16-bit reference) reassembles parts into one `Message`. Answers a message_id of 10
  hex digits. More than `tps` accepted submits in any rolling second of the clock:
  ESME_RTHROTTLED. `refuse(status)` answers that status to every submit until
  `refuse(None)`; `drop_after_submit()` closes the connection after reading the next submit,
  unanswered (it is recorded: it may have gone); `hold_submits` leaves them unanswered
  until `release()` (in the order they came, or the reverse).
- deliver_sm pushes to the most recently bound connection: `receipt(message_id, stat, err)`
  (esm_class 0x04, the receipt text of Appendix B with YYMMDDhhmm dates in Beijing time,
  and the receipted_message_id and message_state TLVs unless `tlvs=False`) and
  `reply(phone, text)` (UCS2; over 70 characters in parts of 67 with an 8-bit reference
  UDH, each part pushed after the previous one was answered). Each waits for
  deliver_sm_resp and delivers again when the answer is an error, does not come within
  `answer_timeout`, or the connection drops first (then on the next bind); a redelivery on the
  same connection carries the same sequence_number, on a new one the next number there.
  The pushes return the command_status of every attempt (None: no answer).

UNCONFIRMED about real gateways: whether a redelivery reuses the sequence_number (here it
does on the same connection); receipt ids in hex like submit_sm_resp (some SMSCs write them
in decimal in the receipt text); the TON/NPI a gateway wants (any accepted here); whether a
gateway sends parts of a reply before the previous part is answered; its throttle window
(per second here) and whether it counts throttled submits (not here); whether data_coding 0
means GSM or ASCII (ASCII here); the receipt text's `text:` field (its first ASCII
characters here). The window of unanswered submits is not enforced (answers are immediate).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Self

HEADER = struct.Struct(">IIII")
BEIJING = timezone(timedelta(hours=8))
GENERIC_NACK, RESP = 0x80000000, 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
ROK, RINVMSGLEN, RINVCMDID, RINVBNDSTS, RALYBND = 0x00, 0x01, 0x03, 0x04, 0x05
RINVDSTADR, RINVSRCADR, RBINDFAIL = 0x0B, 0x0A, 0x0D
RMSGQFUL, RTHROTTLED, RX_T_APPN = 0x14, 0x58, 0x64
TLV_RECEIPTED_ID, TLV_MESSAGE_STATE = 0x001E, 0x0427
STATES = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6,
          "UNKNOWN": 7, "REJECTD": 8}  # fmt: skip
_MOBILE = re.compile(r"1[3-9]\d{9}")


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = ROK) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


def cstr(value: str) -> bytes:
    return value.encode("ascii") + b"\0"


class Body:
    """Reads a PDU body field by field."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def cstr(self) -> str:
        end = self.data.index(b"\0", self.at)
        value, self.at = self.data[self.at : end].decode("latin-1"), end + 1
        return value

    def int8(self) -> int:
        self.at += 1
        return self.data[self.at - 1]

    def octets(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n : self.at]

    def tlvs(self) -> dict[int, bytes]:
        found = {}
        while self.at + 4 <= len(self.data):
            tag, length = struct.unpack_from(">HH", self.data, self.at)
            found[tag] = self.data[self.at + 4 : self.at + 4 + length]
            self.at += 4 + length
        return found


def udh_segment(data: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """((reference, total, index) of the concatenation element, the text after the UDH)."""
    end = 1 + data[0]
    header, rest, at, found = data[1:end], data[end:], 0, None
    while at + 2 <= len(header):
        iei, size = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + size]
        if iei == 0x00 and size == 3:
            found = (value[0], value[1], value[2])
        elif iei == 0x08 and size == 4:
            found = (value[0] << 8 | value[1], value[2], value[3])
        at += 2 + size
    return found, rest


def decode(data: bytes, coding: int) -> str:
    return data.decode("utf-16-be") if coding == 8 else data.decode("ascii", errors="replace")


@dataclass
class Submit:
    """One submit_sm as it arrived; `status` what was answered (None: nothing)."""

    sequence: int
    source_addr: str
    dest_ton: int
    dest_npi: int
    destination: str
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    at: float
    status: int | None = None
    message_id: str = ""


@dataclass
class Message:
    """A whole text as the handset shows it (its parts put together)."""

    phone: str  # as addressed
    text: str
    message_ids: list[str]
    data_coding: int


@dataclass
class Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    bound: bool = False
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    pending: dict[int, asyncio.Future[int | None]] = field(default_factory=dict)
    closed: bool = False

    def close(self) -> None:
        self.closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_result(None)
        self.writer.close()


class FakeSmppGateway:
    def __init__(
        self,
        *,
        system_id: str = "guorui",
        password: str = "s3cret",
        source_addr: str = "1069012345",
        clock: Callable[[], float] = time.time,
        tps: int | None = None,
        answer_timeout: float = 5.0,
    ) -> None:
        self.system_id, self.password, self.source_addr = system_id, password, source_addr
        self.clock, self.tps, self.answer_timeout = clock, tps, answer_timeout
        self.binds: list[tuple[str, str, str, int]] = []  # system_id, password, type, status
        self.submits: list[Submit] = []
        self.messages: list[Message] = []
        self.enquiries = 0  # enquire_link from the client
        self.unbinds = 0
        self.hold_submits = False
        self.answer_enquiries = True  # False: a link that is up but no longer answers
        self.refusing: int | None = None
        self._drop_next = False
        self._recent: deque[float] = deque()
        self._held: list[tuple[Session, Submit]] = []
        self._parts: dict[tuple[str, int, int], dict[int, Submit]] = {}
        self._ids = itertools.count(0x5A000000)
        self._sessions: list[Session] = []
        self._bound = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- controls for tests -------------------------------------------------------------------

    @property
    def bound_sessions(self) -> int:
        return sum(1 for s in self._sessions if s.bound and not s.closed)

    def refuse(self, status: int | None) -> None:
        """Answer `status` to every submit from now on (None: accept again)."""
        self.refusing = status

    def drop_after_submit(self) -> None:
        """Close the connection after reading the next submit_sm, without answering it."""
        self._drop_next = True

    def drop(self) -> None:
        """Close every connection now (the gateway restarting, a network cut)."""
        for session in self._sessions:
            session.close()
        self._bound.clear()

    def messages_to(self, phone: str) -> list[Message]:
        return [m for m in self.messages if m.phone.removeprefix("86")[-11:] == phone]

    def by_id(self, message_id: str) -> Submit:
        return next(s for s in self.submits if s.message_id == message_id)

    async def enquire(self) -> int | None:
        """Send enquire_link to the bound client; its answer's status (None: no answer)."""
        session = await self._session()
        sequence = next(session.sequence)
        return await self._exchange(session, sequence, pdu(ENQUIRE_LINK, sequence))

    async def unbind(self) -> int | None:
        """Send unbind to the bound client (the gateway going down), wait for unbind_resp, close
        that connection; the answer's status (None: no answer)."""
        session = await self._session()
        sequence = next(session.sequence)
        answer = await self._exchange(session, sequence, pdu(UNBIND, sequence))
        session.close()
        return answer

    async def receipt(
        self, message_id: str, stat: str = "DELIVRD", err: str = "000", *, tlvs: bool = True,
        text_id: str | None = None,
    ) -> list[int | None]:  # fmt: skip
        """Push the carrier's receipt for one submitted part; `text_id` writes another id in
        the receipt text (a decimal one, say)."""
        sub = self.by_id(message_id)
        submitted = datetime.fromtimestamp(sub.at, BEIJING).strftime("%y%m%d%H%M")
        done = datetime.fromtimestamp(self.clock(), BEIJING).strftime("%y%m%d%H%M")
        quoted = "".join(c if c.isascii() else "?" for c in self._text_of(sub)[:20])
        delivered = "001" if stat == "DELIVRD" else "000"
        words = (f"id:{text_id or message_id} sub:001 dlvrd:{delivered} submit date:{submitted} "
                 f"done date:{done} stat:{stat} err:{err} text:{quoted}")  # fmt: skip
        extra = b""
        if tlvs:
            rid = cstr(message_id)
            extra = struct.pack(">HH", TLV_RECEIPTED_ID, len(rid)) + rid
            extra += struct.pack(">HHB", TLV_MESSAGE_STATE, 1, STATES.get(stat, 7))
        body = self._deliver_body(sub.destination, 0x04, 0, words.encode("ascii")) + extra
        return await self._push(body)

    async def reply(self, phone: str, text: str) -> list[list[int | None]]:
        """A client's text to our 106 number, UCS2, in parts when long; per part, the
        status of every attempt."""
        data = text.encode("utf-16-be")
        if len(data) <= 140:
            return [await self._push(self._deliver_body(phone, 0x00, 8, data))]
        chunks = [data[i : i + 134] for i in range(0, len(data), 134)]
        ref = next(self._ids) & 0xFF
        answers = []
        for index, chunk in enumerate(chunks, start=1):
            udh = bytes([5, 0, 3, ref, len(chunks), index])
            answers.append(await self._push(self._deliver_body(phone, 0x40, 8, udh + chunk)))
        return answers

    # ---- deliver_sm ---------------------------------------------------------------------------

    def _deliver_body(self, source: str, esm_class: int, coding: int, message: bytes) -> bytes:
        return (cstr("") + bytes([0, 1]) + cstr(source) + bytes([0, 0]) + cstr(self.source_addr)
                + bytes([esm_class, 0, 0]) + cstr("") + cstr("") + bytes([0, 0, coding, 0])
                + bytes([len(message)]) + message)  # fmt: skip

    async def _session(self) -> Session:
        while True:
            await asyncio.wait_for(self._bound.wait(), self.answer_timeout)
            found = next((s for s in reversed(self._sessions) if s.bound and not s.closed), None)
            if found is not None:
                return found
            self._bound.clear()

    async def _push(self, body: bytes, attempts: int = 5) -> list[int | None]:
        answers: list[int | None] = []
        session: Session | None = None
        sequence = 0
        while len(answers) < attempts:
            latest = await self._session()
            if latest is not session:
                session, sequence = latest, next(latest.sequence)
            answer = await self._exchange(session, sequence, pdu(DELIVER_SM, sequence, body))
            answers.append(answer)
            if answer == ROK:
                break
        return answers

    async def _exchange(self, session: Session, sequence: int, data: bytes) -> int | None:
        answer: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        session.pending[sequence] = answer
        session.writer.write(data)
        try:
            return await asyncio.wait_for(answer, self.answer_timeout)
        except TimeoutError:
            return None
        finally:
            session.pending.pop(sequence, None)

    # ---- the connection -----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(reader, writer)
        self._sessions.append(session)
        try:
            while not session.closed:
                length, command, status, sequence = HEADER.unpack(await reader.readexactly(16))
                body = await reader.readexactly(length - HEADER.size)
                self._handle(session, command, status, sequence, body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            session.close()
            if not self.bound_sessions:
                self._bound.clear()

    def _handle(self, session: Session, command: int, status: int, seq: int, body: bytes) -> None:
        send = session.writer.write
        if command & RESP:
            answer = session.pending.get(seq)
            if answer is not None and not answer.done():
                answer.set_result(status)
        elif command == BIND_TRANSCEIVER:
            send(self._bind(session, seq, Body(body)))
        elif command == ENQUIRE_LINK:
            self.enquiries += 1
            if self.answer_enquiries:
                send(pdu(ENQUIRE_LINK | RESP, seq))
        elif command == UNBIND:
            self.unbinds += 1
            send(pdu(UNBIND | RESP, seq))
            session.close()
        elif command == SUBMIT_SM:
            self._submit(session, seq, Body(body))
        else:
            send(pdu(GENERIC_NACK, seq, status=RINVCMDID))

    def _bind(self, session: Session, seq: int, body: Body) -> bytes:
        system_id, password, system_type = body.cstr(), body.cstr(), body.cstr()
        if session.bound:
            status = RALYBND
        elif (system_id, password) != (self.system_id, self.password):
            status = RBINDFAIL
        else:
            status = ROK
        self.binds.append((system_id, password, system_type, status))
        if status != ROK:
            return pdu(BIND_TRANSCEIVER | RESP, seq, status=status)
        session.bound = True
        self._bound.set()
        return pdu(BIND_TRANSCEIVER | RESP, seq, cstr("FAKESMSC"))

    def _submit(self, session: Session, seq: int, body: Body) -> None:
        body.cstr()  # service_type
        body.int8(), body.int8()  # source TON, NPI
        source = body.cstr()
        dest_ton, dest_npi, destination = body.int8(), body.int8(), body.cstr()
        esm_class, _protocol, _priority = body.int8(), body.int8(), body.int8()
        body.cstr(), body.cstr()  # schedule_delivery_time, validity_period
        registered, _replace, coding, _default = body.int8(), body.int8(), body.int8(), body.int8()
        message = body.octets(body.int8())
        now = self.clock()
        sub = Submit(seq, source, dest_ton, dest_npi, destination, esm_class, registered,
                     coding, message, now)  # fmt: skip
        self.submits.append(sub)
        if self._drop_next:
            self._drop_next = False
            session.close()
            return
        if self.hold_submits:
            self._held.append((session, sub))
            return
        self._answer(session, sub)

    def release(self, *, reverse: bool = False) -> int:
        """Answer the submits held so far (last first with `reverse`); how many."""
        held, self._held = self._held, []
        for session, sub in reversed(held) if reverse else held:
            if not session.closed:
                self._answer(session, sub)
        return len(held)

    def _answer(self, session: Session, sub: Submit) -> None:
        now, seq = self.clock(), sub.sequence
        sub.status = self._verdict(session, sub, now)
        if sub.status != ROK:
            session.writer.write(pdu(SUBMIT_SM | RESP, seq, status=sub.status))
            return
        sub.message_id = f"{next(self._ids):010x}"
        self._recent.append(now)
        self._assemble(sub)
        session.writer.write(pdu(SUBMIT_SM | RESP, seq, cstr(sub.message_id)))

    def _verdict(self, session: Session, sub: Submit, now: float) -> int:
        if not session.bound:
            return RINVBNDSTS
        if self.refusing is not None:
            return self.refusing
        number = sub.destination
        if sub.dest_ton == 1 and number.startswith("86"):
            number = number[2:]
        if not _MOBILE.fullmatch(number):
            return RINVDSTADR
        if not sub.source_addr.startswith(self.source_addr):
            return RINVSRCADR
        if len(sub.short_message) > 140:
            return RINVMSGLEN
        while self._recent and self._recent[0] <= now - 1:
            self._recent.popleft()
        if self.tps is not None and len(self._recent) >= self.tps:
            return RTHROTTLED
        return ROK

    def _text_of(self, sub: Submit) -> str:
        data = sub.short_message
        if sub.esm_class & 0x40:
            _, data = udh_segment(data)
        return decode(data, sub.data_coding)

    def _assemble(self, sub: Submit) -> None:
        if not sub.esm_class & 0x40:
            text = decode(sub.short_message, sub.data_coding)
            self.messages.append(Message(sub.destination, text, [sub.message_id], sub.data_coding))
            return
        segment, _ = udh_segment(sub.short_message)
        assert segment is not None, "UDHI set without a concatenation element"
        ref, total, index = segment
        parts = self._parts.setdefault((sub.destination, ref, total), {})
        parts[index] = sub
        if len(parts) == total:
            del self._parts[(sub.destination, ref, total)]
            ordered = [parts[i] for i in sorted(parts)]
            data = b"".join(udh_segment(p.short_message)[1] for p in ordered)
            text = decode(data, sub.data_coding)
            ids = [p.message_id for p in ordered]
            self.messages.append(Message(sub.destination, text, ids, sub.data_coding))
