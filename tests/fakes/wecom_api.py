"""A fake of WeCom's API (https://qyapi.weixin.qq.com, aiohttp.web) for one corp, written from
Tencent's docs.

It imports nothing from the bot and no WeChat/WeCom SDK, so it cross-checks the bot's client:
the bot gets ``api.base_url`` instead of https://qyapi.weixin.qq.com and talks real HTTP/JSON.
The 微信客服 endpoints live in `tests.fakes.wecom_kf_api`, the 客户联系 ones in
`tests.fakes.wecom_contact_api`, the errcodes in `tests.fakes.wecom_errors` (each module's
docstring lists the rules it enforces and what could not be confirmed).

Rules enforced here (91039 获取access_token, 90313 全局错误码):

- ``GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET``: one token per secret ("每个应用有独立
  的secret，获取到的access_token只能本应用使用"), valid 7200 seconds by the injected clock;
  asked again while valid it is the same token with the seconds it has left (what the doc said
  until 2024: "有效期内重复获取返回相同结果"; today's page no longer promises either way).
  Missing corpid 41002, wrong 40013; missing corpsecret 41004, wrong 40001.
- Every other call needs ``access_token``: missing 41001, unknown 40014, expired 42001 (also
  after `expire_tokens()`: "企业微信可能会出于运营需要，提前使access_token失效"); a token whose
  secret may not call that API (a 客户联系 call with the 微信客服 app's token, say) 48002.
- A body that is not a JSON object: 40058 ("json不合法").
"""

from __future__ import annotations

import asyncio
import json
import secrets as secret_tokens
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.http_base import FakeHttpServer
from tests.fakes.wecom_contact_api import ContactEndpoints
from tests.fakes.wecom_errors import JSON, Errmsg, WecomError
from tests.fakes.wecom_kf_api import KfEndpoints

TOKEN_TTL = 7200
KF, CONTACT = "kf", "contact"  # what a secret's token may call
SCOPE_PREFIXES = {"/cgi-bin/kf/": KF, "/cgi-bin/externalcontact/": CONTACT}
GETTOKEN = "/cgi-bin/gettoken"


@dataclass
class Call:
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    errcode: int | None = None  # None: no JSON answer (down, dropped, answer lost)


@dataclass
class _Token:
    secret: str
    expires: float


class FakeWecomApi(KfEndpoints, ContactEndpoints, FakeHttpServer):
    """In-process fake of https://qyapi.weixin.qq.com for one corp."""

    def __init__(
        self,
        corp_id: str = "ww0123456789abcdef",
        secrets: Mapping[str, Iterable[str]] | Iterable[str] = ("kf-secret", "contact-secret"),
        *,
        open_kfids: Iterable[str] = ("wkFAKE0000000000000000000000001",),
        clock: Callable[[], float] = time.time,
        port: int | None = None,
    ) -> None:
        """`secrets`: the apps' secrets, each mapped to what its token may call ("kf",
        "contact"); a plain collection lets every secret call everything."""
        super().__init__(port=port)
        self.corp_id, self.clock = corp_id, clock
        if isinstance(secrets, Mapping):
            self.secrets = {s: set(scopes) for s, scopes in secrets.items()}
        else:
            self.secrets = {s: {KF, CONTACT} for s in secrets}
        self.errmsg = Errmsg(clock)
        self.latency = 0.0  # seconds before any answer
        self.down = False  # answer 503
        self.drop_connections = False  # close the connection without an answer
        # Calls to these paths are carried out but their answer is lost (the connection drops).
        self.lose_answers: Counter[str] = Counter()
        self.calls: list[Call] = []
        self.token_fetches = 0
        self._tokens: dict[str, _Token] = {}
        self._scripted: deque[tuple[str | None, int]] = deque()
        self._init_kf(tuple(open_kfids))
        self._init_contact()
        self._routes: dict[tuple[str, str], Callable[[web.Request, bytes], JSON]] = {
            ("GET", GETTOKEN): self._gettoken,
            **self.kf_routes(),
            **self.contact_routes(),
        }

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    @property
    def base_url(self) -> str:
        """What the bot gets instead of https://qyapi.weixin.qq.com."""
        return super().base_url

    # ---- controls for tests ---------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on (WeCom may end them early)."""
        for token in self._tokens.values():
            token.expires = float("-inf")

    def script_errors(self, errcodes: Iterable[int], *, path: str | None = None) -> None:
        """The next calls (to `path`, or to any API but gettoken) answer these errcodes,
        without doing anything."""
        self._scripted.extend((path, code) for code in errcodes)

    def paths(self) -> list[str]:
        """The paths called so far, in order."""
        return [call.path for call in self.calls]

    def endpoints(self, method: str = "POST") -> list[str]:
        """The paths the fake answers by `method` (but gettoken), e.g. "/cgi-bin/kf/send_msg"."""
        return [path for verb, path in self._routes if verb == method and path != GETTOKEN]

    # ---- HTTP plumbing --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = Call(time.monotonic(), request.method, request.path, dict(request.query), b"")
        self.calls.append(call)
        call.body = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.drop_connections:
            return self._abort(request)
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        route = self._routes.get((request.method, request.path))
        if route is None:
            return web.Response(status=404, text="404 Not Found")
        try:
            if (code := self._scripted_error(request.path)) is not None:
                raise WecomError(code)
            if request.path != GETTOKEN:
                self._check_token(request.path, request.query.get("access_token"))
            result = self.errmsg.answer(0) | route(request, call.body)
        except WecomError as failure:
            result = self.errmsg.answer(failure.errcode)
        if self.lose_answers[request.path] > 0:
            self.lose_answers[request.path] -= 1
            return self._abort(request)  # done, but the caller never hears of it
        call.errcode = result["errcode"]
        return web.json_response(result)

    @staticmethod
    def _abort(request: web.Request) -> web.Response:
        if request.transport is not None:
            request.transport.abort()
        return web.Response()  # never delivered

    def _scripted_error(self, path: str) -> int | None:
        for i, (wanted, code) in enumerate(self._scripted):
            if wanted == path or (wanted is None and path != GETTOKEN):
                del self._scripted[i]
                return code
        return None

    def parse(self, body: bytes) -> JSON:
        """The request's JSON object, or 40058 (不合法的参数: "json不合法")."""
        try:
            data = json.loads(body)
        except ValueError:  # also bad UTF-8
            raise WecomError(40058) from None
        if not isinstance(data, dict):
            raise WecomError(40058)
        return data

    # ---- access tokens --------------------------------------------------------------------------

    def _gettoken(self, request: web.Request, body: bytes) -> JSON:
        corp_id, secret = request.query.get("corpid"), request.query.get("corpsecret")
        if not corp_id:
            raise WecomError(41002)
        if corp_id != self.corp_id:
            raise WecomError(40013)
        if not secret:
            raise WecomError(41004)
        if secret not in self.secrets:
            raise WecomError(40001)
        self.token_fetches += 1
        now = self.clock()
        for value, token in self._tokens.items():
            if token.secret == secret and token.expires > now:
                return {"access_token": value, "expires_in": int(token.expires - now)}
        value = secret_tokens.token_urlsafe(96)  # "最长为512字节"
        self._tokens[value] = _Token(secret, now + TOKEN_TTL)
        return {"access_token": value, "expires_in": TOKEN_TTL}

    def _check_token(self, path: str, value: str | None) -> None:
        if not value:
            raise WecomError(41001)
        token = self._tokens.get(value)
        if token is None:
            raise WecomError(40014)
        if token.expires <= self.clock():
            raise WecomError(42001)
        scope = next((s for p, s in SCOPE_PREFIXES.items() if path.startswith(p)), None)
        if scope is not None and scope not in self.secrets[token.secret]:
            raise WecomError(48002)
