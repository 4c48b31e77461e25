"""The official account's API: the access token, customer-service and template messages,
the menu. The token is kept in the database and shared by every process: at most one
fetches it at a time (the daily quota for fetches is small), before it runs out."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.channels.http_json import NoAnswer, Unreachable, request_json
from storage.database import Database

log = logging.getLogger(__name__)

TOKEN_KEY = "wechat.token"
REFRESH_BEFORE = timedelta(minutes=5)  # a token this close to expiry is renewed first
FETCH_LEASE = timedelta(seconds=30)
STALE_TOKEN = frozenset({40001, 40014, 42001})  # invalid / expired access token


class ApiError(Exception):
    """WeChat answered with an error code (WeChat's own -1 is "system busy")."""

    def __init__(self, code: int, message: str, *, status: int = 200) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class WechatApi:
    def __init__(
        self,
        db: Database,
        *,
        base: str,
        app_id: str,
        secret: str,
        timeout: float = 10.0,
        token_key: str = TOKEN_KEY,
    ) -> None:
        self.db = db
        self.base = base.rstrip("/")
        self.app_id = app_id
        self.token_key = token_key  # where the token is shared (a lease of the same name)
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=5)
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, datetime] | None = None
        self._fetching = asyncio.Lock()
        self.owner = f"wechat-{os.getpid()}-{id(self):x}"
        # Told what went wrong getting a token (None: a token was got): the channel's health.
        self.on_token: Callable[[str | None], None] = lambda _: None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # ---- the access token ---------------------------------------------------------------------

    async def token(self, *, stale: str | None = None) -> str:
        """A token good for a while; `stale`: one WeChat just refused, never handed out again."""
        now = self.db.clock()
        if self._token and self._token[0] != stale and self._token[1] - now > REFRESH_BEFORE:
            return self._token[0]
        async with self._fetching:  # one fetch per process; the lease makes it one overall
            for _ in range(int(FETCH_LEASE.total_seconds() * 4)):
                stored = await self._stored()
                now = self.db.clock()
                if stored and stored[0] != stale and stored[1] - now > REFRESH_BEFORE:
                    self._token = stored
                    self.on_token(None)
                    return stored[0]
                async with self.db.write() as tx:
                    mine = await tx.leases.acquire(self.token_key, self.owner, now + FETCH_LEASE)
                if mine:
                    try:
                        token = await self._fetch()
                    except (ApiError, Unreachable) as exc:
                        self.on_token(f"access token: {exc}")
                        raise
                    finally:
                        async with self.db.write() as tx:
                            await tx.leases.release(self.token_key, self.owner)
                    self.on_token(None)
                    return token
                await asyncio.sleep(0.25)  # another process is fetching it
            raise Unreachable("access token: another process has held the fetch for too long")

    async def _stored(self) -> tuple[str, datetime] | None:
        async with self.db.read() as tx:
            raw = await tx.meta.get(self.token_key)
        try:
            data = json.loads(raw or "")
            if data.get("app_id") != self.app_id:
                return None
            return str(data["token"]), datetime.fromisoformat(data["expires"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _token_request(self) -> tuple[str, dict[str, str]]:
        """The path and query that fetch a token."""
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        return "/cgi-bin/token", params

    async def _fetch(self) -> str:
        path, params = self._token_request()
        try:
            answer = await self._json("GET", path, params=params)
        except NoAnswer as exc:  # no message went anywhere: plainly try again
            raise Unreachable(f"access token: {exc}") from None
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, int):
            raise Unreachable("no access_token in the answer")
        expires = self.db.clock().astimezone(UTC) + timedelta(seconds=expires_in)
        value = {"app_id": self.app_id, "token": token, "expires": expires.isoformat()}
        async with self.db.write() as tx:
            await tx.meta.set(self.token_key, json.dumps(value))
        self._token = (token, expires)
        log.info("%s: new access token, good for %d s", self.token_key, expires_in)
        return token

    # ---- calls --------------------------------------------------------------------------------

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with the access token; a token WeChat calls invalid is renewed once."""
        token = await self.token()
        try:
            return await self._json("POST", path, params={"access_token": token}, body=body)
        except ApiError as exc:
            if exc.code not in STALE_TOKEN:
                raise
            log.info("wechat: access token refused (%s); renewing it once", exc.code)
        token = await self.token(stale=token)
        return await self._json("POST", path, params={"access_token": token}, body=body)

    async def send_text(self, openid: str, text: str) -> dict[str, Any]:
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        return await self.call("/cgi-bin/message/custom/send", body)

    async def send_template(
        self, openid: str, template_id: str, field: str, text: str
    ) -> dict[str, Any]:
        body = {"touser": openid, "template_id": template_id, "data": {field: {"value": text}}}
        return await self.call("/cgi-bin/message/template/send", body)

    async def mass_send(self, openids: list[str], text: str, clientmsgid: str) -> dict[str, Any]:
        """A service account's mass send to an OpenID list (2 to 10,000); the same
        clientmsgid twice is refused (45065), so a retry after a lost answer sends nothing."""
        body = {
            "touser": openids, "msgtype": "text", "text": {"content": text},
            "clientmsgid": clientmsgid, "send_ignore_reprint": 0,
        }  # fmt: skip
        return await self.call("/cgi-bin/message/mass/send", body)

    async def mass_send_tag(self, tag_id: int, text: str, clientmsgid: str) -> dict[str, Any]:
        """A mass send to everyone with a tag (a subscription account's one a day)."""
        body = {
            "filter": {"is_to_all": False, "tag_id": tag_id}, "msgtype": "text",
            "text": {"content": text}, "clientmsgid": clientmsgid, "send_ignore_reprint": 0,
        }  # fmt: skip
        return await self.call("/cgi-bin/message/mass/sendall", body)

    async def create_tag(self, name: str) -> int:
        answer = await self.call("/cgi-bin/tags/create", {"tag": {"name": name}})
        return int(answer["tag"]["id"])

    async def tags(self) -> dict[str, int]:
        """The account's tags: name -> id."""
        answer = await self._json(
            "GET", "/cgi-bin/tags/get", params={"access_token": await self.token()}
        )
        return {str(t["name"]): int(t["id"]) for t in answer.get("tags", [])}

    async def tag_followers(self, tag_id: int, openids: list[str], *, untag: bool = False) -> None:
        """Tag (untag) up to 50 followers."""
        path = "/cgi-bin/tags/members/batch" + ("untagging" if untag else "tagging")
        await self.call(path, {"openid_list": openids, "tagid": tag_id})

    async def create_menu(self, menu: dict[str, Any]) -> dict[str, Any]:
        return await self.call("/cgi-bin/menu/create", menu)

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # WeChat wants the characters themselves, not \\u escapes (they count against limits).
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else None
        status, answer = await request_json(
            self.session, method, self.base + path, params=params, data=data, headers=headers
        )
        code = answer.get("errcode", 0)
        if code:
            number = code if isinstance(code, int) else -1
            raise ApiError(number, str(answer.get("errmsg", ""))[:200], status=status)
        return answer
