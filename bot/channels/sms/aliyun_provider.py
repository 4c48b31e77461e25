"""Alibaba Cloud SMS as the channel's provider: each kind of text through its approved
template (one variable), receipts and replies from Alibaba's HTTP batch push (SmsReport,
SmsUp: a JSON array per POST) or, for receipts, by asking (QuerySendDetails)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.sms.aliyun import AliyunSms, SendDetail
from bot.channels.sms.errors import MessageRefused
from bot.channels.sms.provider import Kind, Receipt, Reply, Reports
from bot.core.phones import mobile

BEIJING = ZoneInfo("Asia/Shanghai")  # Alibaba's push and query dates are Beijing time


class AliyunProvider:
    name = "aliyun"

    def __init__(
        self, client: AliyunSms, *, sign_name: str, templates: Mapping[str, str], variable: str
    ) -> None:
        self.client = client
        self.sign_name = sign_name
        self.templates = dict(templates)  # kind -> template code (kinds without one refuse)
        self.variable = variable

    async def send(self, phone: str, kind: Kind, text: str, out_id: str) -> str:
        template = self.templates.get(kind)
        if not template:
            setting = f"SMS_TEMPLATE_{kind.upper()}"
            raise MessageRefused("NoTemplate", f"no {kind} template is set ({setting})")
        sent = await self.client.send(
            phone, self.sign_name, template, {self.variable: text}, out_id=out_id or None
        )
        return sent.biz_id

    async def run(self, stop: asyncio.Event, reports: Reports) -> None:
        return None  # Alibaba pushes to the webhook; receipts are polled by the channel

    async def close(self) -> None:
        await self.client.close()

    async def receipts(self, phone: str, sent_on: date, message_id: str | None) -> list[Receipt]:
        """What became of the texts to `phone` sent on `sent_on` (one of them, with an id):
        the settled ones only."""
        found = await self.client.query(phone, sent_on, biz_id=message_id or None, page_size=50)
        return [r for d in found.details if (r := _settled(d, message_id)) is not None]


def _settled(detail: SendDetail, message_id: str | None) -> Receipt | None:
    if detail.status == SendDetail.WAITING:
        return None
    return Receipt(
        message_id=message_id or "",
        phone=detail.phone,
        delivered=detail.status == SendDetail.DELIVERED,
        code=detail.err_code or ("DELIVERED" if detail.status == SendDetail.DELIVERED else "?"),
        at=_beijing(detail.receive_date),
        out_id=detail.out_id or None,
    )


def _beijing(text: object) -> datetime | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def parse_push(items: object) -> tuple[list[Receipt], list[Reply]]:
    """Receipts and replies from one push (both kinds may come to one URL); items that are
    neither, or whose number is not a mainland mobile, are left out. Raises ValueError when
    the body is not a JSON array of objects."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("the push is not a JSON array of objects")
    receipts: list[Receipt] = []
    replies: list[Reply] = []
    for item in items:
        phone = mobile(str(item.get("phone_number", "")))
        if phone is None:
            continue
        if "content" in item:
            replies.append(_reply(phone, item))
        elif item.get("biz_id"):
            receipts.append(_receipt(phone, item))
    return receipts, replies


def _receipt(phone: str, item: dict[str, Any]) -> Receipt:
    success = item.get("success")
    delivered = success is True or str(success).lower() == "true"
    size = str(item.get("sms_size", ""))
    return Receipt(
        message_id=str(item["biz_id"])[:100],
        phone=phone,
        delivered=delivered,
        code=str(item.get("err_code") or ("DELIVERED" if delivered else "?"))[:60],
        at=_beijing(item.get("report_time")),
        out_id=str(item.get("out_id") or "")[:40] or None,
        parts=int(size) if size.isdigit() else None,
    )


def _reply(phone: str, item: dict[str, Any]) -> Reply:
    sequence = str(item.get("sequence_id") or "")
    if not sequence:  # no id: the same text at the same moment is the same reply
        raw = f"{phone}|{item.get('send_time')}|{item.get('content')}"
        sequence = hashlib.sha256(raw.encode()).hexdigest()[:24]
    return Reply(
        phone=phone,
        text=str(item.get("content") or "")[:1000],
        key=f"aliyun:{sequence[:80]}",
        at=_beijing(item.get("send_time")),
    )
