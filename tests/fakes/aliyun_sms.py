"""A fake of Alibaba Cloud SMS (dysmsapi 2017-05-25, aiohttp.web), written from Alibaba's docs.

It imports nothing from the bot and no Alibaba SDK, and signs with its own implementation, so
it cross-checks the bot's client: the bot gets ``base=sms.base_url`` instead of
https://dysmsapi.aliyuncs.com and talks real HTTP (GET query or POST form) and JSON.

Rules enforced (RPC "签名机制" and the SMS "HTTP协议及签名" pages, "API错误码", "短信发送频率限制",
the SendSms / SendBatchSms / QuerySendDetails references):

- Common parameters: AccessKeyId, Action, Format, SignatureMethod (HMAC-SHA1),
  SignatureNonce, SignatureVersion (1.0), Timestamp (yyyy-MM-ddTHH:mm:ssZ, UTC), Version
  (2017-05-25) and Signature; one missing: HTTP 400 ``Missing<Name>``.
- Unknown AccessKeyId: 404 InvalidAccessKeyId.NotFound. The signature is recomputed over
  every parameter but Signature and must match exactly: otherwise 400 SignatureDoesNotMatch,
  its message carrying the server's string to sign (as Alibaba's does).
- Timestamp more than 15 minutes from the fake's clock: 400 InvalidTimeStamp.Expired; a
  nonce seen in the last 15 minutes: 400 SignatureNonceUsed.
- A QPS cap per Action (`qps`, in any one second by the clock): 400 Throttling.User.
- SendSms: SignName must be a registered signature (isv.SMS_SIGNATURE_ILLEGAL), TemplateCode
  a registered template (isv.SMS_TEMPLATE_ILLEGAL); TemplateParam JSON
  (isv.INVALID_JSON_PARAM), every template variable given (isv.TEMPLATE_MISSING_PARAMETERS)
  and at most 35 characters (isv.PARAM_LENGTH_LIMIT); numbers mainland mobiles, optionally
  prefixed 86/+86/0086 (isv.MOBILE_NUMBER_ILLEGAL), at most 1000 (isv.MOBILE_COUNT_OVER_LIMIT).
  Answers Code OK, Message OK, BizId, RequestId.
- SendBatchSms: PhoneNumberJson and SignNameJson (and TemplateParamJson when the template has
  variables) JSON arrays of equal length, at most 100 numbers; one BizId for the batch.
- Per-number frequency limits (Alibaba's defaults, counted over sliding windows, every
  accepted send counts whatever its receipt): a verification-code template, per sign name
  and number, 1 a minute, 5 an hour, 10 a day, and 40 a day per number over all sign names;
  a notice or promotion template, per sign name, template and number, 50 a day. Over:
  isv.BUSINESS_LIMIT_CONTROL "触发分钟级流控Permits:1" (小时级, 天级). `limits` replaces them.
- `latency`: seconds before an answer, the request already carried out (a client that
  gives up sooner has sent it without knowing).
- `refuse(code)` makes every send answer that code until `refuse(None)`: the balance
  (isv.AMOUNT_NOT_ENOUGH), a template or signature withdrawn, and so on.
- QuerySendDetails: PhoneNumber, SendDate yyyyMMdd within the last 30 days, PageSize 1-50,
  CurrentPage >= 1, BizId optional; SmsSendDetailDTOs.SmsSendDetailDTO rows with SendStatus
  1 (waiting), 2 (failed), 3 (delivered), ErrCode, Content, dates in Beijing time.
- Receipts and replies go out as Alibaba's HTTP batch push: a JSON array per POST to a URL
  given to `push_reports` / `push_replies` (SmsReport: phone_number, send_time, report_time,
  success, err_code, err_msg, sms_size, biz_id, out_id; SmsUp: phone_number, send_time,
  content, sign_name, dest_code, sequence_id); the receiver should answer {"code": 0}.

UNCONFIRMED: the exact HTTP status and Message of the gateway errors (400/404 here, from
answers seen in the wild); the real QPS (Alibaba's docs give none for SendSms by default, so
`qps` is whatever a test sets); whether Alibaba's 15-minute nonce window is exactly that;
`Missing<Name>` for a missing common parameter; sms_size as a string in the push.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from tests.fakes.http_base import FakeHttpServer

JSON = dict[str, Any]
VERSION = "2017-05-25"
FRESHNESS = 15 * 60  # seconds a Timestamp may be off, and a nonce is remembered
VARIABLE_MAX = 35
BEIJING = timezone(timedelta(hours=8))
MINUTE, HOUR, DAY = 60, 3600, 86400
VERIFY, NOTICE, PROMO = "verify", "notice", "promo"
# (count, seconds, the word in Alibaba's message)
Limit = tuple[int, int, str]
DEFAULT_LIMITS: dict[str, list[Limit]] = {
    VERIFY: [(1, MINUTE, "分钟级"), (5, HOUR, "小时级"), (10, DAY, "天级")],
    NOTICE: [(50, DAY, "天级")],
    PROMO: [(50, DAY, "天级")],
}
VERIFY_PER_NUMBER_DAY = 40  # verification codes to one number, whatever the sign name
MESSAGES = {
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.OUT_OF_SERVICE": "业务停机",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.MOBILE_COUNT_OVER_LIMIT": "手机号码数量超过限制",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少对应参数值",
    "isv.PARAM_LENGTH_LIMIT": "参数超出长度限制",
    "isv.INVALID_JSON_PARAM": "JSON参数不合法，只接受字符串值",
    "isv.INVALID_PARAMETERS": "参数格式不正确",
    "isv.BUSINESS_LIMIT_CONTROL": "触发号码天级流控",
}
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def encode(text: str) -> str:
    """Alibaba's percent-encoding, byte by byte: unreserved kept, the rest %XY upper-case."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    query = "&".join(encode(k) + "=" + encode(v) for k, v in pairs)
    return method + "&" + encode("/") + "&" + encode(query)


def sign(secret: str, method: str, params: Mapping[str, str]) -> str:
    mac = hmac.new((secret + "&").encode("utf-8"), digestmod=hashlib.sha1)
    mac.update(string_to_sign(method, params).encode("utf-8"))
    return base64.b64encode(mac.digest()).decode("ascii")


@dataclass
class Template:
    code: str
    text: str  # with ${name} variables
    kind: str = NOTICE  # verify, notice or promo

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(_VARIABLE.findall(self.text)))


@dataclass
class Sms:
    """One text to one number, as Alibaba keeps it for receipts and QuerySendDetails."""

    biz_id: str
    phone: str
    sign_name: str
    template: str
    params: dict[str, str]
    content: str
    out_id: str
    sent_at: float
    action: str
    status: int = 1  # 1 waiting for the receipt, 2 failed, 3 delivered
    err_code: str = ""
    received_at: float | None = None

    @property
    def parts(self) -> int:
        n = len(self.content)
        return 1 if n <= 70 else -(-n // 67)


@dataclass
class Call:
    at: float
    method: str
    params: dict[str, str]
    code: str  # what was answered: OK or an error code


class Refused(Exception):
    def __init__(self, code: str, message: str | None = None, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message or MESSAGES.get(code, code), status


class FakeAliyunSms(FakeHttpServer):
    """In-process fake of https://dysmsapi.aliyuncs.com for one account."""

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        *,
        sign_names: Iterable[str] = ("国瑞投资",),
        templates: Iterable[Template] = (),
        clock: Callable[[], float] = time.time,
        qps: int | None = None,
        port: int | None = None,
    ) -> None:
        """`keys`: AccessKeyId -> AccessKeySecret."""
        super().__init__(port=port)
        self.keys = dict(keys or {"LTAI-fake-id": "fake-secret"})
        self.sign_names = set(sign_names)
        self.templates = {t.code: t for t in templates}
        self.clock = clock
        self.qps = qps
        self.limits = {kind: list(rules) for kind, rules in DEFAULT_LIMITS.items()}
        self.calls: list[Call] = []
        self.sent: list[Sms] = []
        self.refusing: str | None = None
        self.latency = 0.0  # seconds before any answer (the request is carried out first)
        self.pushes: list[tuple[str, list[JSON], int, str]] = []  # url, body, status, answer
        self._nonces: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = defaultdict(deque)  # action -> arrivals
        self._biz = itertools.count(int(time.time()) % 10**6 * 10**9)
        self._sequence = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/", self._handle)

    # ---- controls for tests -------------------------------------------------------------------

    def add_template(self, code: str, text: str, kind: str = NOTICE) -> Template:
        self.templates[code] = Template(code, text, kind)
        return self.templates[code]

    def refuse(self, code: str | None) -> None:
        """Every send answers `code` from now on (None: send again)."""
        self.refusing = code

    def to(self, phone: str) -> list[Sms]:
        return [s for s in self.sent if s.phone == phone]

    def by_biz(self, biz_id: str) -> list[Sms]:
        return [s for s in self.sent if s.biz_id == biz_id]

    def settle(
        self, sms: Sms, *, delivered: bool = True, err_code: str | None = None, after: float = 3
    ) -> JSON:
        """The carrier's word on one text: its status, and the SmsReport Alibaba pushes."""
        sms.status = 3 if delivered else 2
        sms.err_code = err_code or ("DELIVERED" if delivered else "MK:0001")
        sms.received_at = sms.sent_at + after
        return {
            "phone_number": sms.phone,
            "send_time": _beijing(sms.sent_at),
            "report_time": _beijing(sms.received_at),
            "success": delivered,
            "err_code": sms.err_code,
            "err_msg": "用户接收成功" if delivered else "失败",
            "sms_size": str(sms.parts),
            "biz_id": sms.biz_id,
            "out_id": sms.out_id,
        }

    def reply(self, phone: str, content: str, *, sign_name: str | None = None) -> JSON:
        """An SmsUp: a client's text back to the sign name."""
        return {
            "phone_number": phone,
            "send_time": _beijing(self.clock()),
            "content": content,
            "sign_name": sign_name or next(iter(sorted(self.sign_names)), ""),
            "dest_code": "1234",
            "sequence_id": next(self._sequence),
        }

    async def push_reports(self, url: str, reports: list[JSON]) -> tuple[int, str]:
        return await self._push(url, reports)

    async def push_replies(self, url: str, replies: list[JSON]) -> tuple[int, str]:
        return await self._push(url, replies)

    async def _push(self, url: str, items: list[JSON]) -> tuple[int, str]:
        """One POST of a JSON array, as Alibaba's HTTP batch push; (status, answer text)."""
        body = json.dumps(items, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            text = await response.text()
            self.pushes.append((url, items, response.status, text))
            return response.status, text

    # ---- the gateway ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        if request.method == "POST" and request.can_read_body:
            raw = (await request.read()).decode("utf-8")
            params.update(parse_qsl(raw, keep_blank_values=True))
        request_id = str(uuid.uuid4()).upper()
        try:
            self._gate(request.method, params)
            answer = self._dispatch(params)
        except Refused as refused:
            self.calls.append(Call(self.clock(), request.method, params, refused.code))
            body = {"RequestId": request_id, "Code": refused.code, "Message": refused.message}
            if refused.status != 200:
                body["HostId"] = "dysmsapi.aliyuncs.com"
                body["Recommend"] = "https://api.aliyun.com/troubleshoot"
            return web.json_response(body, status=refused.status, dumps=_dumps)
        self.calls.append(Call(self.clock(), request.method, params, "OK"))
        if self.latency:
            await asyncio.sleep(self.latency)
        return web.json_response(
            {"RequestId": request_id, "Code": "OK", "Message": "OK", **answer}, dumps=_dumps
        )

    def _gate(self, method: str, params: dict[str, str]) -> None:
        """What Alibaba's API gateway checks before the SMS service sees the request."""
        for name in ("AccessKeyId", "Action", "SignatureMethod", "SignatureNonce",
                     "SignatureVersion", "Timestamp", "Version", "Signature"):  # fmt: skip
            if not params.get(name):
                raise Refused(f"Missing{name}", f"{name} is mandatory for this action.", 400)
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise Refused("InvalidParameter", "SignatureMethod/SignatureVersion", 400)
        if params["Version"] != VERSION:
            raise Refused("InvalidVersion", "Specified parameter Version is not valid.", 400)
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            raise Refused("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        now = self.clock()
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            msg = "Specified time stamp or date value is not well formatted."
            raise Refused("InvalidTimeStamp.Format", msg, 400) from None
        if abs(stamp.replace(tzinfo=UTC).timestamp() - now) > FRESHNESS:
            msg = "Specified time stamp or date value is expired."
            raise Refused("InvalidTimeStamp.Expired", msg, 400)
        expected = sign(secret, method, params)
        if not hmac.compare_digest(expected, params["Signature"]):
            msg = (
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{string_to_sign(method, params)}"
            )
            raise Refused("SignatureDoesNotMatch", msg, 400)
        self._nonces = {n: t for n, t in self._nonces.items() if now - t <= FRESHNESS}
        if params["SignatureNonce"] in self._nonces:
            raise Refused("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
        self._nonces[params["SignatureNonce"]] = now
        if self.qps is not None:
            recent = self._recent[params["Action"]]
            while recent and now - recent[0] >= 1.0:
                recent.popleft()
            if len(recent) >= self.qps:
                raise Refused(
                    "Throttling.User", "Request was denied due to user flow control.", 400
                )
            recent.append(now)

    def _dispatch(self, params: dict[str, str]) -> JSON:
        action = params["Action"]
        if action == "SendSms":
            return self._send_sms(params)
        if action == "SendBatchSms":
            return self._send_batch(params)
        if action == "QuerySendDetails":
            return self._query(params)
        msg = "Specified api is not found, please check your url and method."
        raise Refused("InvalidAction.NotFound", msg, 404)

    # ---- actions ------------------------------------------------------------------------------

    def _send_sms(self, params: dict[str, str]) -> JSON:
        phones = [p for p in params.get("PhoneNumbers", "").split(",") if p]
        if not phones:
            raise Refused("MissingPhoneNumbers", "PhoneNumbers is mandatory for this action.", 400)
        if len(phones) > 1000:
            raise Refused("isv.MOBILE_COUNT_OVER_LIMIT")
        sign_name = params.get("SignName", "")
        template = self._template(params.get("TemplateCode", ""))
        values = self._values(template, params.get("TemplateParam"))
        self._signed_by(sign_name)
        numbers = [self._mobile(p) for p in phones]
        for number in numbers:
            self._within_limits(number, sign_name, template)
        biz_id = self._new_biz_id()
        for number in numbers:
            self._record(biz_id, number, sign_name, template, values, params, "SendSms")
        return {"BizId": biz_id}

    def _send_batch(self, params: dict[str, str]) -> JSON:
        phones = _json_list(params.get("PhoneNumberJson"), "PhoneNumberJson")
        signs = _json_list(params.get("SignNameJson"), "SignNameJson")
        template = self._template(params.get("TemplateCode", ""))
        raw_values = params.get("TemplateParamJson")
        values_list = _json_list(raw_values, "TemplateParamJson") if raw_values else None
        if not phones or len(phones) > 100:
            raise Refused("isv.MOBILE_COUNT_OVER_LIMIT")
        if len(signs) != len(phones) or (
            values_list is not None and len(values_list) != len(phones)
        ):
            raise Refused(
                "isv.INVALID_PARAMETERS", "PhoneNumberJson/SignNameJson/TemplateParamJson"
            )
        if values_list is None and template.variables:
            raise Refused("isv.TEMPLATE_MISSING_PARAMETERS")
        batch: list[tuple[str, str, dict[str, str]]] = []
        for i, (phone, sign_name) in enumerate(zip(phones, signs, strict=True)):
            one = json.dumps(values_list[i], ensure_ascii=False) if values_list else None
            values = self._values(template, one)
            self._signed_by(str(sign_name))
            batch.append((self._mobile(str(phone)), str(sign_name), values))
        for number, sign_name, _ in batch:
            self._within_limits(number, sign_name, template)
        biz_id = self._new_biz_id()
        for number, sign_name, values in batch:
            self._record(biz_id, number, sign_name, template, values, params, "SendBatchSms")
        return {"BizId": biz_id}

    def _query(self, params: dict[str, str]) -> JSON:
        phone = self._mobile(params.get("PhoneNumber", ""))
        try:
            day = datetime.strptime(params.get("SendDate", ""), "%Y%m%d").date()
            size, page = int(params.get("PageSize", "")), int(params.get("CurrentPage", ""))
        except ValueError:
            raise Refused("isv.INVALID_PARAMETERS", "SendDate/PageSize/CurrentPage") from None
        today = datetime.fromtimestamp(self.clock(), BEIJING).date()
        if not 0 <= (today - day).days <= 30 or not 1 <= size <= 50 or page < 1:
            raise Refused("isv.INVALID_PARAMETERS", "SendDate/PageSize/CurrentPage")
        rows = [
            s for s in self.sent
            if s.phone == phone
            and datetime.fromtimestamp(s.sent_at, BEIJING).date() == day
            and (not params.get("BizId") or s.biz_id == params["BizId"])
        ]  # fmt: skip
        shown = rows[(page - 1) * size : page * size]
        return {
            "TotalCount": len(rows),
            "SmsSendDetailDTOs": {
                "SmsSendDetailDTO": [
                    {
                        "PhoneNum": s.phone,
                        "SendStatus": s.status,
                        "ErrCode": s.err_code,
                        "TemplateCode": s.template,
                        "Content": s.content,
                        "SendDate": _beijing(s.sent_at),
                        "ReceiveDate": _beijing(s.received_at) if s.received_at else "",
                        "OutId": s.out_id,
                    }
                    for s in shown
                ]
            },
        }

    # ---- rules --------------------------------------------------------------------------------

    def _template(self, code: str) -> Template:
        if self.refusing:
            raise Refused(self.refusing)
        template = self.templates.get(code)
        if template is None:
            raise Refused("isv.SMS_TEMPLATE_ILLEGAL")
        return template

    def _signed_by(self, sign_name: str) -> None:
        if sign_name not in self.sign_names:
            raise Refused("isv.SMS_SIGNATURE_ILLEGAL")

    def _values(self, template: Template, raw: str | None) -> dict[str, str]:
        values: Any = {}
        if raw:
            try:
                values = json.loads(raw)
            except ValueError:
                raise Refused("isv.INVALID_JSON_PARAM") from None
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise Refused("isv.INVALID_JSON_PARAM")
        for name in template.variables:
            if name not in values:
                raise Refused("isv.TEMPLATE_MISSING_PARAMETERS")
            if len(values[name]) > VARIABLE_MAX:
                raise Refused("isv.PARAM_LENGTH_LIMIT")
        return values

    @staticmethod
    def _mobile(phone: str) -> str:
        match = _MOBILE.fullmatch(phone.strip())
        if match is None:
            raise Refused("isv.MOBILE_NUMBER_ILLEGAL")
        return match.group(1)

    def _within_limits(self, number: str, sign_name: str, template: Template) -> None:
        now = self.clock()
        if template.kind == VERIFY:
            same = [s for s in self.sent
                    if s.phone == number and self.templates[s.template].kind == VERIFY]  # fmt: skip
            if sum(now - s.sent_at < DAY for s in same) >= VERIFY_PER_NUMBER_DAY:
                raise Refused("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:40")
            same = [s for s in same if s.sign_name == sign_name]
        else:
            same = [s for s in self.sent if s.phone == number and s.sign_name == sign_name
                    and s.template == template.code]  # fmt: skip
        for count, seconds, word in self.limits[template.kind]:
            if sum(now - s.sent_at < seconds for s in same) >= count:
                raise Refused("isv.BUSINESS_LIMIT_CONTROL", f"触发{word}流控Permits:{count}")

    def _new_biz_id(self) -> str:
        return f"{next(self._biz):015d}^{secrets.randbelow(10)}"

    def _record(
        self,
        biz_id: str,
        number: str,
        sign_name: str,
        template: Template,
        values: dict[str, str],
        params: dict[str, str],
        action: str,
    ) -> None:
        body = _VARIABLE.sub(lambda m: values.get(m.group(1), ""), template.text)
        self.sent.append(
            Sms(
                biz_id=biz_id,
                phone=number,
                sign_name=sign_name,
                template=template.code,
                params=dict(values),
                content=f"【{sign_name}】{body}",
                out_id=params.get("OutId", ""),
                sent_at=self.clock(),
                action=action,
            )
        )


def _json_list(raw: str | None, name: str) -> list[Any]:
    try:
        value = json.loads(raw or "")
    except ValueError:
        raise Refused("isv.INVALID_JSON_PARAM", f"{name} is not JSON") from None
    if not isinstance(value, list):
        raise Refused("isv.INVALID_JSON_PARAM", f"{name} is not a JSON array")
    return value


def _beijing(at: float) -> str:
    return datetime.fromtimestamp(at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
