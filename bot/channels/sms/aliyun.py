"""Alibaba Cloud SMS (dysmsapi, version 2017-05-25) over aiohttp: `SendSms`, `SendBatchSms`
and `QuerySendDetails`, signed the RPC way Alibaba documents (signature version 1.0).

The signature (Alibaba's "HTTP协议及签名" for SMS, and the RPC "签名机制" pages): every
parameter but Signature, sorted by name, names and values percent-encoded (RFC 3986
unreserved characters kept, so ``~`` stays, a space is ``%20`` and ``*`` is ``%2A``), joined
as ``a=b&c=d``; the string to sign is ``METHOD&%2F&`` + that string encoded once more; the
Signature is Base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)).

What Alibaba answers is mapped to a few exceptions, by what the caller should do next:
`RetryLater` (throttling, a number's frequency limit), `ChannelStopped` (balance, template,
signature, access key: nothing more goes until staff act), `BadNumber` (this recipient only),
`MessageRefused` (this message, as written, never goes). `Unreachable` means nothing was sent;
`NoAnswer` that the request left and may have been carried out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.channels.http_json import request_json
from bot.channels.sms.errors import (
    BadNumber,
    ChannelStopped,
    MessageRefused,
    RetryLater,
    SmsApiError,
)

DEFAULT_BASE = "https://dysmsapi.aliyuncs.com"
VERSION = "2017-05-25"
REGION = "cn-hangzhou"
BATCH_MAX = 100  # SendBatchSms: at most 100 numbers a call
QUERY_PAGE_MAX = 50


RETRY_LATER = frozenset({
    "Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable",
    "SignatureNonceUsed",  # a new nonce on the next attempt is all it takes
    "isp.SYSTEM_ERROR", "isv.SYSTEM_ERROR",
})  # fmt: skip
PER_NUMBER_LIMIT = "isv.BUSINESS_LIMIT_CONTROL"
CHANNEL_STOPPED = frozenset({
    "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE",
    "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_SIGN_ILLEGAL",
    "isv.SIGN_STATE_ILLEGAL", "isv.SMS_SIGNATURE_SCENE_ILLEGAL", "isv.EXTEND_CODE_ERROR",
    "isv.DAY_LIMIT_CONTROL", "isv.MONTH_LIMIT_CONTROL",  # totals set in the console
    "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL", "isv.PRODUCT_UN_SUBSCRIPT",
    "isv.PRODUCT_UNSUBSCRIBE", "isv.DENY_IP_RANGE", "isp.RAM_PERMISSION_DENY",
    "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "SignatureDoesNotMatch",
    "IncompleteSignature", "InvalidTimeStamp.Expired", "InvalidTimeStamp.Format",  # our clock
    "Forbidden.RAM", "Forbidden.AccessKeyDisabled", "InvalidVersion", "InvalidAction.NotFound",
})  # fmt: skip
BAD_NUMBER = frozenset({
    "isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT",
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED", "isv.MOBILE_IN_BLACK",
})  # fmt: skip
# "触发分钟级流控Permits:1", "触发小时级流控Permits:5", "触发天级流控Permits:10"
LIMIT_WINDOWS = {"分钟级": 60.0, "小时级": 3600.0, "天级": 86400.0}


def error_for(code: str, message: str, *, status: int = 200, request_id: str = "") -> SmsApiError:
    """The exception for Alibaba's `Code` (anything unknown refuses this message only)."""
    kw: dict[str, Any] = {"status": status, "request_id": request_id}
    if code == PER_NUMBER_LIMIT:
        window = next((s for word, s in LIMIT_WINDOWS.items() if word in message), 60.0)
        return RetryLater(code, message, per_number=True, retry_after=window, **kw)
    if code in RETRY_LATER or code.startswith("Throttling"):
        return RetryLater(code, message, **kw)
    if code in CHANNEL_STOPPED:
        return ChannelStopped(code, message, **kw)
    if code in BAD_NUMBER:
        return BadNumber(code, message, **kw)
    return MessageRefused(code, message, **kw)


# ---- the signature --------------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """Alibaba's encoding: UTF-8, only A-Z a-z 0-9 - _ . ~ kept (space %20, * %2A)."""
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    digest = hmac.new(
        f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


# ---- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    biz_id: str
    request_id: str


@dataclass(frozen=True)
class SendDetail:
    phone: str
    status: int  # 1 waiting for the receipt, 2 failed, 3 delivered
    err_code: str
    template_code: str
    content: str
    send_date: str
    receive_date: str
    out_id: str

    WAITING, FAILED, DELIVERED = 1, 2, 3


@dataclass(frozen=True)
class Details:
    total: int
    details: list[SendDetail]
    request_id: str


def _params_json(params: Mapping[str, str]) -> str:
    # The characters themselves, not \u escapes: Alibaba counts characters.
    return json.dumps(dict(params), ensure_ascii=False, separators=(",", ":"))


MAINLAND = re.compile(r"1[3-9]\d{9}")


class AliyunSms:
    """One account's client. `base` is where dysmsapi lives (a fake or a gateway in tests)."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        base: str = DEFAULT_BASE,
        region: str = REGION,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.base = base.rstrip("/")
        self.access_key_id = access_key_id
        self.region = region
        self._secret = access_key_secret
        self._clock = clock
        self._nonce = nonce
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=5)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # ---- actions ----------------------------------------------------------------------------

    async def send(
        self,
        phone: str,
        sign_name: str,
        template_code: str,
        params: Mapping[str, str] | None = None,
        *,
        out_id: str | None = None,
    ) -> Sent:
        """SendSms to one number (Alibaba takes up to 1000 comma-separated; one is what a
        receipt can be matched to)."""
        request = {"PhoneNumbers": phone, "SignName": sign_name, "TemplateCode": template_code}
        if params:
            request["TemplateParam"] = _params_json(params)
        if out_id:
            request["OutId"] = out_id
        answer = await self.call("SendSms", request)
        return Sent(str(answer.get("BizId", "")), str(answer.get("RequestId", "")))

    async def send_batch(
        self,
        phones: Sequence[str],
        sign_names: Sequence[str] | str,
        template_code: str,
        params: Sequence[Mapping[str, str]] | None = None,
    ) -> Sent:
        """SendBatchSms: one template, up to 100 numbers, each with its sign name and
        variables (lists of the same length; one sign name is used for all)."""
        if not 1 <= len(phones) <= BATCH_MAX:
            raise ValueError(f"SendBatchSms takes 1 to {BATCH_MAX} numbers, not {len(phones)}")
        signs = [sign_names] * len(phones) if isinstance(sign_names, str) else list(sign_names)
        if len(signs) != len(phones) or (params is not None and len(params) != len(phones)):
            raise ValueError("SendBatchSms: numbers, sign names and variables must pair up")
        request = {
            "PhoneNumberJson": json.dumps(list(phones)),
            "SignNameJson": json.dumps(signs, ensure_ascii=False),
            "TemplateCode": template_code,
        }
        if params is not None:
            request["TemplateParamJson"] = json.dumps(
                [dict(p) for p in params], ensure_ascii=False, separators=(",", ":")
            )
        answer = await self.call("SendBatchSms", request)
        return Sent(str(answer.get("BizId", "")), str(answer.get("RequestId", "")))

    async def query(
        self,
        phone: str,
        send_date: date,
        *,
        biz_id: str | None = None,
        page_size: int = 10,
        current_page: int = 1,
    ) -> Details:
        """QuerySendDetails: what became of the texts to `phone` sent on `send_date` (Alibaba
        keeps 30 days)."""
        if not 1 <= page_size <= QUERY_PAGE_MAX:
            raise ValueError(f"PageSize is 1 to {QUERY_PAGE_MAX}")
        request = {
            "PhoneNumber": phone,
            "SendDate": send_date.strftime("%Y%m%d"),
            "PageSize": str(page_size),
            "CurrentPage": str(current_page),
        }
        if biz_id:
            request["BizId"] = biz_id
        answer = await self.call("QuerySendDetails", request)
        rows = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
        details = [
            SendDetail(
                phone=str(r.get("PhoneNum", "")),
                status=int(r.get("SendStatus", 0)),
                err_code=str(r.get("ErrCode", "")),
                template_code=str(r.get("TemplateCode", "")),
                content=str(r.get("Content", "")),
                send_date=str(r.get("SendDate", "")),
                receive_date=str(r.get("ReceiveDate", "")),
                out_id=str(r.get("OutId", "")),
            )
            for r in rows
        ]
        total = int(answer.get("TotalCount", len(details)))
        return Details(total, details, str(answer.get("RequestId", "")))

    # ---- the request ------------------------------------------------------------------------

    def signed(
        self, action: str, request: Mapping[str, str], method: str = "POST"
    ) -> dict[str, str]:
        """The parameters of one call, common ones and Signature included."""
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": VERSION,
            **request,
        }
        params["Signature"] = signature(self._secret, method, params)
        return params

    async def call(self, action: str, request: Mapping[str, str]) -> dict[str, Any]:
        """POST the signed parameters as a form; the answer's JSON when Code is OK."""
        params = self.signed(action, request, "POST")
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        status, answer = await request_json(
            self.session, "POST", self.base + "/", data=body.encode(), headers=headers
        )
        code = str(answer.get("Code", ""))
        if code != "OK":
            raise error_for(
                code or f"HTTP{status}",
                str(answer.get("Message", ""))[:300],
                status=status,
                request_id=str(answer.get("RequestId", "")),
            )
        return answer
