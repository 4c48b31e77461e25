"""An SMS provider over SMPP 3.4, for the licensed Chinese "106" gateways: one
`bind_transceiver` connection over asyncio streams carries our texts (`submit_sm`) out and the
carriers' receipts and the clients' replies (`deliver_sm`) in. PDUs are smpplib's classes.

- The bind is kept by `run`: `enquire_link` every `enquire_seconds` (no answer within
  `timeout`: the link is dead), the gateway's `enquire_link` and `unbind` answered, and a
  dropped connection bound again after a doubling pause (`backoff`). A refused login (password,
  system_id, ESME_RBINDFAIL) raises `ChannelStopped` from `run` and from every later `send`:
  binding again with the same settings cannot help and may lock the account.
- `send` goes only while bound (`Unreachable` otherwise, nothing sent). The text goes as
  written with 【sign name】 in front, UCS2; over 70 characters in parts of 67 with a UDH
  concatenation header. Up to `window` submits are in flight, each matched to its
  submit_sm_resp by sequence_number. No answer within `timeout`, or the connection lost once
  the submit was written: `NoAnswer`. When only some parts of a long text are accepted the
  text went out in part: `NoAnswer` too (sending it again doubles those parts).
- `send` returns the first part's message_id. The first part's receipt decides: it is reported
  under that id; a later part's receipt is answered and not reported.
- Each `deliver_sm` is answered only after the `Reports` callback returned (a crash before
  makes the gateway deliver it again, so nothing is lost), with ESME_RX_T_APPN when the callback
  raised (the gateway retries). Deliveries are handled one at a time, in order; submits'
  answers keep flowing meanwhile.
- A reply in parts is reported once whole. Parts before the last are answered at once (a
  gateway may wait for each answer before the next part) and kept in memory: a crash between
  the parts of one reply loses that reply's earlier parts.
- A reply's key is ``smpp:<phone>:<session>:<sequence_number>`` (of its first part), the
  session being a random name for each bind. SMPP gives a client's text no id of its own:
  the key is stable when the gateway redelivers on the same connection with the same
  sequence_number; a redelivery numbered anew is reported under a new key (twice, never lost),
  and no two replies ever share a key.
- Receipts: the `receipted_message_id` and `message_state` TLVs when present, the receipt
  text otherwise (`smpp_receipts`); the id is also tried in the other base (hex or decimal).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.channels.sms import smpp_codec as wire
from bot.channels.sms.errors import ChannelStopped, NoAnswer, SmsApiError, Unreachable
from bot.channels.sms.provider import Kind, Receipt, Reply, Reports
from bot.channels.sms.smpp_receipts import STATES, id_keys, id_lookups, parse_receipt
from bot.core.log_context import shown

log = logging.getLogger(__name__)
PARTS_KEPT = 300_000  # keys of part ids remembered for receipts (later parts -> the first)
REPLIES_KEPT = 1_000  # replies in parts waiting for their other parts


class _Transient(Exception):
    """A bind refused for now (the gateway busy, already bound): bind again later."""


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    message_id: str


@dataclass
class _Link:
    """One bound connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    pending: dict[int, asyncio.Future[_Answer]] = field(default_factory=dict)
    closed: bool = False

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    def close(self, why: str) -> None:
        self.closed = True
        for future in self.pending.values():
            if not future.done():
                future.set_exception(NoAnswer(why))
        self.pending.clear()
        self.writer.close()


@dataclass
class _Partial:
    """The parts of a client's reply seen so far: index -> (bytes, session, sequence)."""

    coding: int
    parts: dict[int, tuple[bytes, str, int]] = field(default_factory=dict)


class SmppSms:
    name = "smpp"

    def __init__(
        self,
        *,
        host: str,
        port: int = 2775,
        system_id: str,
        password: str,
        system_type: str = "",
        source_addr: str,
        sign_name: str,
        window: int = 10,
        enquire_seconds: float = 30.0,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        country_code: bool = False,
        backoff: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        """`country_code`: address handsets as 86 + 11 digits (international) rather than
        the 11 digits alone; `backoff`: the first and the longest pause before binding again."""
        self.host, self.port = host, port
        self.system_id, self.system_type = system_id, system_type
        self.source_addr, self.sign_name = source_addr, sign_name
        self.enquire_seconds, self.timeout = enquire_seconds, timeout
        self.country_code = country_code
        self._password = password
        self._clock = clock
        self._backoff = backoff
        self._window = asyncio.Semaphore(window)
        self._sequence = 0
        self._link: _Link | None = None
        self._stopped: ChannelStopped | None = None
        self._halt = asyncio.Event()  # close() was called
        self._idle = asyncio.Event()  # no run() under way
        self._idle.set()
        self._parts: OrderedDict[str, tuple[str, int, int]] = OrderedDict()  # id -> first, i, n
        self._replies: OrderedDict[tuple[str, int, int], _Partial] = OrderedDict()

    @property
    def bound(self) -> bool:
        return self._link is not None and not self._link.closed

    def _next(self) -> int:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    # ---- sending --------------------------------------------------------------------------

    async def send(self, phone: str, kind: Kind, text: str, out_id: str) -> str:
        """Submit 【sign name】`text` to `phone` (11 digits); the first part's message_id.
        `kind` and `out_id` do not travel: SMPP has no templates and no field for our id."""
        if self._stopped is not None:
            stopped = self._stopped
            raise ChannelStopped(stopped.code, stopped.message, status=stopped.status)
        link = self._link
        if link is None or link.closed:
            raise Unreachable("not bound to the SMPP gateway")
        parts, esm_class = wire.text_parts(f"【{self.sign_name}】{text}")
        destination = f"86{phone}" if self.country_code else phone
        results = await asyncio.gather(
            *(self._submit(link, destination, esm_class, part) for part in parts),
            return_exceptions=True,
        )
        ids = [r if isinstance(r, str) else "" for r in results]
        self._remember([i for i in ids if i])
        errors = [r for r in results if isinstance(r, BaseException)]
        if not errors:
            return ids[0]
        for error in errors:
            if not isinstance(error, SmsApiError | NoAnswer | Unreachable):
                raise error  # a bug, not an answer
        if any(ids) or any(isinstance(e, NoAnswer) for e in errors):
            went = f"{sum(1 for i in ids if i)} of {len(parts)} parts accepted"
            raise NoAnswer(f"{went}; {errors[0]}") from errors[0]
        raise errors[0]

    async def _submit(self, link: _Link, destination: str, esm_class: int, part: bytes) -> str:
        async with self._window:
            if link.closed:
                raise Unreachable("the connection to the SMPP gateway is closed")
            sequence = self._next()
            answer = asyncio.get_running_loop().create_future()
            link.pending[sequence] = answer
            link.write(
                wire.encode(
                    "submit_sm", sequence,
                    service_type="", source_addr_ton=0, source_addr_npi=0,
                    source_addr=self.source_addr,
                    dest_addr_ton=1 if self.country_code else 0, dest_addr_npi=1,
                    destination_addr=destination, esm_class=esm_class,
                    registered_delivery=1, data_coding=wire.UCS2, short_message=part,
                )
            )  # fmt: skip
            try:
                got = await asyncio.wait_for(answer, self.timeout)
            except TimeoutError:
                raise NoAnswer(f"no submit_sm_resp within {self.timeout}s") from None
            finally:
                link.pending.pop(sequence, None)
        if got.status != wire.OK:
            raise wire.error_for(got.status)
        return got.message_id

    def _remember(self, ids: list[str]) -> None:
        for index, message_id in enumerate(ids):
            for key in id_keys(message_id):
                self._parts[key] = (ids[0], index, len(ids))
                self._parts.move_to_end(key)
        while len(self._parts) > PARTS_KEPT:
            self._parts.popitem(last=False)

    # ---- the bind -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, reports: Reports) -> None:
        """Keep the bind until `stop` (or `close`), passing deliveries to `reports`."""
        self._idle.clear()
        delay = self._backoff[0]
        try:
            while not (stop.is_set() or self._halt.is_set()):
                try:
                    link = await self._bind()
                except ChannelStopped as refused:
                    self._stopped = refused
                    raise
                except (OSError, EOFError, TimeoutError, _Transient) as exc:
                    log.warning("SMPP %s:%s: cannot bind (%s)", self.host, self.port, exc)
                else:
                    delay, self._stopped = self._backoff[0], None
                    await self._serve(link, stop, reports)
                await self._pause(stop, delay)
                delay = min(delay * 2, self._backoff[1])
        finally:
            self._idle.set()

    async def _pause(self, stop: asyncio.Event, seconds: float) -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._halt.wait())]
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()

    async def _bind(self) -> _Link:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout
        )
        link = _Link(reader, writer)
        sequence = self._next()
        link.write(
            wire.encode(
                "bind_transceiver", sequence, system_id=self.system_id,
                password=self._password, system_type=self.system_type, interface_version=0x34,
            )
        )  # fmt: skip
        try:
            frame = await asyncio.wait_for(wire.read_frame(reader), self.timeout)
        except BaseException:
            link.close("bind failed")
            raise
        status = frame.status
        if frame.command_id == wire.GENERIC_NACK:
            status = status or 0x08  # a nack without a status: the gateway's trouble (RSYSERR)
        elif frame.sequence != sequence or frame.command_id != 0x80000009:
            link.close("bind failed")
            raise EOFError(f"unexpected answer to bind_transceiver: 0x{frame.command_id:08X}")
        if status != wire.OK:
            link.close("bind refused")
            error = wire.error_for(status)
            if status in wire.BIND_TRANSIENT:
                raise _Transient(str(error))
            raise ChannelStopped(error.code, f"bind refused: {error.message}", status=status)
        log.info("SMPP %s:%s bound as %s", self.host, self.port, self.system_id)
        return link

    async def _serve(self, link: _Link, stop: asyncio.Event, reports: Reports) -> None:
        deliveries: asyncio.Queue[wire.Frame] = asyncio.Queue()
        self._link = link
        tasks = [
            asyncio.ensure_future(self._read(link, deliveries)),
            asyncio.ensure_future(self._enquire(link)),
            asyncio.ensure_future(self._deliver(link, deliveries, reports)),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._halt.wait()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set() or self._halt.is_set():
                await self._unbind(link)
            for task in done:
                if not task.cancelled() and isinstance(task.exception(), Exception):
                    log.warning("SMPP link ended: %r", task.exception())
        finally:
            self._link = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            link.close("the connection to the SMPP gateway was lost")
            with contextlib.suppress(OSError):
                await link.writer.wait_closed()

    async def _request(self, link: _Link, command: str) -> _Answer:
        """A request without fields (enquire_link, unbind) and its answer, within `timeout`."""
        sequence = self._next()
        answer = asyncio.get_running_loop().create_future()
        link.pending[sequence] = answer
        link.write(wire.encode(command, sequence))
        try:
            return await asyncio.wait_for(answer, self.timeout)
        finally:
            link.pending.pop(sequence, None)

    async def _unbind(self, link: _Link) -> None:
        with contextlib.suppress(TimeoutError, NoAnswer):
            await self._request(link, "unbind")

    async def _enquire(self, link: _Link) -> None:
        while True:
            await asyncio.sleep(self.enquire_seconds)
            try:
                await self._request(link, "enquire_link")
            except TimeoutError:
                raise EOFError(f"no enquire_link_resp within {self.timeout}s") from None

    async def _read(self, link: _Link, deliveries: asyncio.Queue[wire.Frame]) -> None:
        """Every PDU the gateway sends: answers to their requests, its own requests."""
        while True:
            frame = await wire.read_frame(link.reader)
            if frame.command_id & wire.RESPONSE:  # generic_nack included
                future = link.pending.get(frame.sequence)
                if future is not None and not future.done():
                    future.set_result(_answer(frame))
            elif frame.command_id == wire.DELIVER_SM:
                deliveries.put_nowait(frame)
            elif frame.command_id == wire.ENQUIRE_LINK:
                link.write(wire.encode("enquire_link_resp", frame.sequence))
            elif frame.command_id == wire.UNBIND:
                link.write(wire.encode("unbind_resp", frame.sequence))
                await link.writer.drain()
                return  # the gateway is leaving: bind again after the pause
            else:
                link.write(wire.encode("generic_nack", frame.sequence, status=0x03))  # RINVCMDID

    # ---- deliveries -----------------------------------------------------------------------

    async def _deliver(
        self, link: _Link, deliveries: asyncio.Queue[wire.Frame], reports: Reports
    ) -> None:
        while True:
            frame = await deliveries.get()
            status = await self._take(link, frame, reports)
            link.write(wire.encode("deliver_sm_resp", frame.sequence, status=status))

    async def _take(self, link: _Link, frame: wire.Frame, reports: Reports) -> int:
        """Hand one deliver_sm on; the command_status to answer it with."""
        try:
            pdu = wire.decode(frame.raw)
        except Exception:
            # The same bytes would fail the same way: a permanent error, so no redelivery loop.
            # The PDU holds a phone number and maybe a text: only with LOG_PERSONAL=on.
            log.exception("SMPP deliver_sm not readable: %s", shown(frame.raw.hex()))
            return 0x65  # ESME_RX_P_APPN
        try:
            if (pdu.esm_class or 0) & wire.RECEIPT:
                await self._receipt(pdu, reports)
            else:
                await self._reply(link, frame.sequence, pdu, reports)
        except Exception:
            log.exception("SMPP deliver_sm %d not taken: the gateway retries", frame.sequence)
            return 0x64  # ESME_RX_T_APPN
        return wire.OK

    async def _receipt(self, pdu: Any, reports: Reports) -> None:
        body = pdu.short_message or pdu.message_payload or b""
        parsed = parse_receipt(body.decode("utf-8", errors="replace"))
        message_id = wire.text(pdu.receipted_message_id) or (parsed.message_id if parsed else "")
        if not message_id:
            log.warning("SMPP receipt without a message id: %r", shown(body[:200]))
            return
        first, index, total = next(
            (self._parts[key] for key in id_lookups(message_id) if key in self._parts),
            (message_id, 0, 0),
        )
        if index:
            return  # a later part: the first part's receipt decides
        state = pdu.message_state
        stat = STATES.get(state, f"STATE{state}") if state is not None else ""
        stat = stat or (parsed.stat if parsed else "")
        err = parsed.err if parsed else ""
        receipt = Receipt(
            message_id=first,
            phone=wire.mainland(wire.text(pdu.source_addr)),
            delivered=stat == "DELIVRD",
            code=f"{stat}:{err}" if err.strip("0") else stat,
            at=parsed.done if parsed else None,
            parts=total or None,
        )
        await reports.on_receipt(receipt)

    async def _reply(self, link: _Link, sequence: int, pdu: Any, reports: Reports) -> None:
        body = pdu.short_message or pdu.message_payload or b""
        segment = None
        if (pdu.esm_class or 0) & wire.UDHI:
            segment, body = wire.split_udh(body)
        elif pdu.sar_msg_ref_num is not None and pdu.sar_total_segments:
            segment = wire.Segment(
                pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum or 1
            )
        phone = wire.mainland(wire.text(pdu.source_addr))
        coding = pdu.data_coding or 0
        if segment is None or segment.total <= 1:
            key = f"smpp:{phone}:{link.session}:{sequence}"
            await reports.on_reply(self._reply_of(phone, wire.decode_text(body, coding), key))
            return
        where = (phone, segment.ref, segment.total)
        partial = self._replies.setdefault(where, _Partial(coding))
        partial.parts[segment.index] = (body, link.session, sequence)
        while len(self._replies) > REPLIES_KEPT:
            self._replies.popitem(last=False)
        if len(partial.parts) < segment.total:
            return  # answered now; the text is reported with its last part
        ordered = [partial.parts[i] for i in sorted(partial.parts)]
        text = wire.decode_text(b"".join(p[0] for p in ordered), partial.coding)
        _, session, first = ordered[0]
        await reports.on_reply(self._reply_of(phone, text, f"smpp:{phone}:{session}:{first}"))
        # Only now: a last part delivered again (the callback failed) completes it again.
        self._replies.pop(where, None)

    def _reply_of(self, phone: str, text: str, key: str) -> Reply:
        return Reply(phone=phone, text=text, key=key, at=self._clock())

    async def close(self) -> None:
        """Unbind and close; `run` returns."""
        self._halt.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.timeout + 1)


def _answer(frame: wire.Frame) -> _Answer:
    message_id = ""
    if frame.command_id == 0x80000004 and frame.status == wire.OK:  # submit_sm_resp
        with contextlib.suppress(Exception):
            message_id = wire.text(wire.decode(frame.raw).message_id)
    return _Answer(frame.status, message_id)
