"""A fake of WeChat's official-account API (aiohttp.web), written from Tencent's docs.

It imports nothing from the bot and no WeChat SDK, so it cross-checks the bot's client: the
bot gets ``WECHAT_API_BASE=api.base_url`` and talks real HTTP/JSON to it. Answers use the
real shapes and errcodes (errmsg carries a `` rid: ...`` suffix as WeChat's do, so nothing
should match on errmsg). The customer-service window lives in `Interactions`, shared with
the webhook simulator in `tests.fakes.wechat_server`, because on WeChat it is the user's
actions there that open the window the API then enforces.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http_base import FakeHttpServer
from tests.fakes.wechat_mass_api import MASS_ERRMSG, MassEndpoints, Refused

JSON = dict[str, Any]
TOKEN_TTL = 7200
OVERLAP = 300  # after a refresh the previous token keeps working this long (WeChat: 5 min)
MAX_TEXT_BYTES = 2048
MESSAGE_QUOTA = (5, 48 * 3600)  # a user message: 5 customer-service messages in 48 hours
EVENT_QUOTA = (3, 60)  # a menu click or a follow: 3 messages within a minute
ERRMSG = {
    -1: "system error", 0: "ok", 40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type", 40003: "invalid openid", 40008: "invalid message type",
    40013: "invalid appid", 40016: "invalid button size", 40017: "invalid button type",
    40018: "invalid button name size", 40019: "invalid button key size",
    40020: "invalid button url size", 40023: "invalid sub button size",
    40024: "invalid sub button type", 40025: "invalid sub button name size",
    40026: "invalid sub button key size", 40027: "invalid sub button url size",
    40037: "invalid template_id", 40125: "invalid appsecret", 41001: "access_token missing",
    41002: "appid missing", 41004: "appsecret missing", 42001: "access_token expired",
    43004: "require subscribe", 44004: "empty content", 45002: "content size out of limit",
    45009: "reach max api daily quota limit", 45028: "has no masssend quota",
    45065: "clientmsgid exist", 40130: "invalid openid list size, at least two openid",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit", 46003: "menu no exist", 47001: "data format error",
}  # fmt: skip
MENU_KEY_TYPES = frozenset(
    "click scancode_push scancode_waitmsg pic_sysphoto pic_photo_or_album pic_weixin "
    "location_select".split()
)
MENU_OTHER_TYPES = {  # type -> the field it needs
    "view": "url", "miniprogram": "url", "media_id": "media_id", "article_id": "article_id",
    "article_view_limited": "article_id",
}  # fmt: skip


@dataclass
class Window:
    remaining: int
    expires: float


class Interactions:
    """WeChat's customer-service window per user, by the rules since 2023: a message opens
    5 sends in 48 h, a menu click or a follow 3 sends within a minute.

    Quotas do not add up: a new action keeps the larger remaining count and the later expiry.
    A passive reply costs nothing; only `consume` (a custom/send the API accepted) does.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.followers: set[str] = set()
        self.unfollowed: set[str] = set()
        self.windows: dict[str, Window] = {}

    def add_follower(self, openid: str) -> None:
        """Someone who followed earlier: can get template messages, but has no window."""
        self.followers.add(openid)
        self.unfollowed.discard(openid)

    def message(self, openid: str) -> None:
        self._grant(openid, *MESSAGE_QUOTA)

    def click(self, openid: str) -> None:
        self._grant(openid, *EVENT_QUOTA)

    def follow(self, openid: str) -> None:
        self._grant(openid, *EVENT_QUOTA)

    def unfollow(self, openid: str) -> None:
        self.followers.discard(openid)
        self.unfollowed.add(openid)
        self.windows.pop(openid, None)

    def _grant(self, openid: str, count: int, seconds: float) -> None:
        self.add_follower(openid)  # only a follower can message an account or click its menu
        now, current = self.clock(), self.windows.get(openid)
        if current is None or current.expires <= now:
            current = Window(0, now)
        self.windows[openid] = Window(
            max(current.remaining, count), max(current.expires, now + seconds)
        )

    def remaining(self, openid: str) -> int:
        window = self.windows.get(openid)
        return window.remaining if window and window.expires > self.clock() else 0

    def check(self, openid: str) -> int:
        """The errcode a custom/send to `openid` would get now (0: allowed); uses nothing."""
        if openid in self.unfollowed:
            return 43004
        if openid not in self.followers:
            return 40003
        window = self.windows.get(openid)
        if window is None or window.expires <= self.clock():
            return 45015
        return 45047 if window.remaining <= 0 else 0

    def consume(self, openid: str) -> int:
        if (code := self.check(openid)) == 0:
            self.windows[openid].remaining -= 1
        return code


@dataclass
class Call:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    errcode: int | None = None  # None: answered with a non-JSON failure (down, dropped)


@dataclass
class Sent:
    """An accepted custom or template send, with its arrival time (monotonic)."""

    at: float
    openid: str
    msgtype: str
    content: str | None  # text content, or None for other kinds
    body: JSON = field(repr=False)


class ApiFailure(Exception):
    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


class FakeWechatApi(MassEndpoints, FakeHttpServer):
    """In-process fake of https://api.weixin.qq.com for one official account."""

    def __init__(
        self,
        appid: str = "wx0123456789abcdef",
        secret: str = "fake-secret",
        *,
        interactions: Interactions | None = None,
        templates: Iterable[str] = (),
        daily_quota: int | None = None,
        account: str = "service",
    ) -> None:
        super().__init__()
        self.appid, self.secret = appid, secret
        self.interactions = interactions or Interactions()
        self.templates = set(templates)
        self.daily_quota = daily_quota  # per send API, as on WeChat; None: unlimited
        self.latency = 0.0  # seconds before any answer
        self.down = False  # answer 503
        self.drop_connections = False  # close the connection without an answer
        self.calls: list[Call] = []
        self.custom_sends: list[Sent] = []
        self.template_sends: list[Sent] = []
        self.menu: JSON | None = None
        self._init_mass(account)
        # Calls to these paths are carried out but their answer is lost (the connection drops).
        self.lose_answers: Counter[str] = Counter()
        self.token_fetches = 0
        self._tokens: dict[str, tuple[float, float]] = {}  # token -> (expires, valid until)
        self._scripted: deque[tuple[str | None, int]] = deque()
        self._quota_used: Counter[str] = Counter()
        self._msgids = itertools.count(1_000_001)
        self._routes: dict[tuple[str, str], Callable[[web.Request, bytes], JSON]] = {
            ("GET", "/cgi-bin/token"): self._token,
            ("POST", "/cgi-bin/message/custom/send"): self._custom_send,
            ("POST", "/cgi-bin/message/template/send"): self._template_send,
            **self.mass_routes(),
            ("POST", "/cgi-bin/menu/create"): self._menu_create,
            ("GET", "/cgi-bin/menu/get"): self._menu_get,
            ("GET", "/cgi-bin/get_current_selfmenu_info"): self._selfmenu_info,
            ("GET", "/cgi-bin/menu/delete"): self._menu_delete,
        }

    # ---- lifecycle ---------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    @property
    def base_url(self) -> str:
        """What the bot gets as WECHAT_API_BASE (instead of https://api.weixin.qq.com)."""
        return super().base_url

    # ---- controls for tests -------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        self._tokens = {token: (-1.0, -1.0) for token in self._tokens}

    def script_errors(self, errcodes: Iterable[int], *, path: str | None = None) -> None:
        """The next calls (to `path`, or to any API but /cgi-bin/token) answer these errcodes."""
        self._scripted.extend((path, code) for code in errcodes)

    def reset_daily_quota(self) -> None:
        self._quota_used.clear()

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    def texts(self, openid: str) -> list[str | None]:
        return [sent.content for sent in self.custom_sends if sent.openid == openid]

    # ---- HTTP plumbing -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = Call(time.monotonic(), request.method, request.path, dict(request.query), b"")
        self.calls.append(call)
        call.body = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.drop_connections:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never delivered
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        route = self._routes.get((request.method, request.path))
        if route is None:
            return web.Response(status=404, text="404 Not Found")
        try:
            if (code := self._scripted_error(request.path)) is not None:
                raise ApiFailure(code)
            if request.path != "/cgi-bin/token":
                self._check_token(request.query.get("access_token"))
            result = route(request, call.body)
        except (ApiFailure, Refused) as failure:
            result = self.error(failure.errcode)
        if self.lose_answers[request.path] > 0:
            self.lose_answers[request.path] -= 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # done, but the caller never hears of it
        call.errcode = result.get("errcode", 0)
        return web.json_response(result)

    @staticmethod
    def error(errcode: int) -> JSON:
        errmsg = ERRMSG.get(errcode) or MASS_ERRMSG.get(errcode, "system error")
        return {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(8)}"}

    def _scripted_error(self, path: str) -> int | None:
        for i, (wanted, code) in enumerate(self._scripted):
            if wanted == path or (wanted is None and path != "/cgi-bin/token"):
                del self._scripted[i]
                return code
        return None

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise ApiFailure(41001)
        if token not in self._tokens:
            raise ApiFailure(40001)
        expires, valid_until = self._tokens[token]
        now = self.interactions.clock()
        if now >= expires:
            raise ApiFailure(42001)
        if now >= valid_until:  # superseded by a newer token more than OVERLAP ago
            raise ApiFailure(40001)

    @staticmethod
    def _json(body: bytes) -> JSON:
        try:
            data = json.loads(body)
        except ValueError:  # also bad UTF-8
            raise ApiFailure(47001) from None
        if not isinstance(data, dict):
            raise ApiFailure(47001)
        return data

    def _use_quota(self, path: str) -> None:
        if self.daily_quota is not None and self._quota_used[path] >= self.daily_quota:
            raise ApiFailure(45009)
        self._quota_used[path] += 1

    # ---- endpoints -----------------------------------------------------------------------------

    def _token(self, request: web.Request, body: bytes) -> JSON:
        query = request.query
        if query.get("grant_type") != "client_credential":
            raise ApiFailure(40002)
        if not query.get("appid"):
            raise ApiFailure(41002)
        if query["appid"] != self.appid:
            raise ApiFailure(40013)
        if not query.get("secret"):
            raise ApiFailure(41004)
        if query["secret"] != self.secret:
            raise ApiFailure(40125)
        self.token_fetches += 1
        now = self.interactions.clock()
        for old, (expires, valid_until) in self._tokens.items():  # a refresh retires the rest
            self._tokens[old] = (expires, min(valid_until, now + OVERLAP))
        token = f"FAKE{self.token_fetches}_{secrets.token_urlsafe(24)}"
        self._tokens[token] = (now + TOKEN_TTL, float("inf"))
        return {"access_token": token, "expires_in": TOKEN_TTL}

    def _custom_send(self, request: web.Request, body: bytes) -> JSON:
        self._use_quota(request.path)
        data = self._json(body)
        openid, msgtype = data.get("touser"), data.get("msgtype")
        if not isinstance(openid, str) or not openid:
            raise ApiFailure(40003)
        payload = data.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in ("text", "news", "link") or not isinstance(payload, dict):
            raise ApiFailure(40008)
        content = None
        if msgtype == "text":
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                raise ApiFailure(44004)
            if len(content.encode()) > MAX_TEXT_BYTES:
                raise ApiFailure(45002)
        if code := self.interactions.consume(openid):
            raise ApiFailure(code)
        self.custom_sends.append(Sent(time.monotonic(), openid, msgtype, content, data))
        return self.error(0)

    def _template_send(self, request: web.Request, body: bytes) -> JSON:
        self._use_quota(request.path)
        data = self._json(body)
        openid, fields = data.get("touser"), data.get("data")
        if not isinstance(openid, str) or not openid:
            raise ApiFailure(40003)
        if data.get("template_id") not in self.templates:
            raise ApiFailure(40037)
        if not isinstance(fields, dict) or not all(
            isinstance(value, dict) and isinstance(value.get("value"), str)
            for value in fields.values()
        ):
            raise ApiFailure(47001)
        if openid in self.interactions.unfollowed:
            raise ApiFailure(43004)
        if openid not in self.interactions.followers:
            raise ApiFailure(40003)
        self.template_sends.append(Sent(time.monotonic(), openid, "template", None, data))
        return self.error(0) | {"msgid": next(self._msgids)}

    def _menu_create(self, request: web.Request, body: bytes) -> JSON:
        data = self._json(body)
        buttons = data.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise ApiFailure(40016)
        for button in buttons:
            if not isinstance(button, dict):
                raise ApiFailure(47001)
            subs = button.get("sub_button")
            if subs:
                _check_name(button, 16, 40018)
                if not isinstance(subs, list) or len(subs) > 5:
                    raise ApiFailure(40023)
                for sub in subs:
                    _check_button(sub, 60, sub_level=True)
            else:
                _check_button(button, 16, sub_level=False)
        self.menu = {"button": buttons}
        return self.error(0)

    def _menu_get(self, request: web.Request, body: bytes) -> JSON:
        if self.menu is None:
            raise ApiFailure(46003)
        return {"menu": self.menu}

    def _selfmenu_info(self, request: web.Request, body: bytes) -> JSON:
        if self.menu is None:
            return {"is_menu_open": 0}
        buttons = [
            {**b, "sub_button": {"list": b["sub_button"]}} if b.get("sub_button") else b
            for b in self.menu["button"]
        ]
        return {"is_menu_open": 1, "selfmenu_info": {"button": buttons}}

    def _menu_delete(self, request: web.Request, body: bytes) -> JSON:
        self.menu = None
        return self.error(0)


def _check_name(button: JSON, limit: int, errcode: int) -> None:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > limit:
        raise ApiFailure(errcode)


def _check_button(button: Any, name_limit: int, *, sub_level: bool) -> None:
    """One leaf button: a known type with the field it needs (key <= 128, url <= 1024 bytes)."""
    base = 40024 if sub_level else 40017  # type, then name, key, url: +1, +2, +3
    if not isinstance(button, dict):
        raise ApiFailure(47001)
    kind = button.get("type")
    if kind not in MENU_KEY_TYPES and kind not in MENU_OTHER_TYPES:
        raise ApiFailure(base)
    _check_name(button, name_limit, base + 1)
    if kind in MENU_KEY_TYPES:
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode()) > 128:
            raise ApiFailure(base + 2)
    elif (need := MENU_OTHER_TYPES[kind]) == "url":
        url = button.get("url")
        if not isinstance(url, str) or not url or len(url.encode()) > 1024:
            raise ApiFailure(base + 3)
    elif not isinstance(button.get(need), str) or not button[need]:
        raise ApiFailure(47001)
