"""The QQ accounts' connections. Reverse: the implementation connects to our HTTP server
(the token checked before the upgrade, `X-Self-ID` naming the account); forward: we connect
out and reconnect with backoff. A new connection for an account and role replaces the old
one, so a half-open socket cannot lock the account out."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.qq.link import Link

log = logging.getLogger(__name__)

ROLES = {"universal": "Universal", "api": "API", "event": "Event"}
EventHandler = Callable[[Link, dict[str, Any]], Awaitable[None]]
GapHandler = Callable[[str, float, float], Awaitable[None]]  # account, down at, up at (epoch)


class Hub:
    def __init__(
        self,
        *,
        token: str | None,
        heartbeat_timeout: float,
        max_frame: int,
        on_event: EventHandler,
        on_gap: GapHandler | None = None,
        on_links: Callable[[], None] | None = None,
    ) -> None:
        self.token = token
        self.heartbeat_timeout = heartbeat_timeout
        self.max_frame = max_frame
        self.on_event = on_event
        self.on_gap = on_gap
        self.on_links = on_links or (lambda: None)  # a link came or went
        self.links: dict[tuple[str, str], Link] = {}
        self.down_since: dict[str, float] = {}  # account -> when its last link went (epoch)

    # ---- which link acts ------------------------------------------------------------------------

    def api(self) -> Link | None:
        """A live link that takes actions (Universal first)."""
        live = [link for link in self.links.values() if link.takes_actions]
        live.sort(key=lambda link: link.role != "Universal")
        return live[0] if live else None

    async def attach(self, link: Link) -> None:
        old = self.links.get((link.self_id, link.role))
        self.links[(link.self_id, link.role)] = link
        if old is not None and old is not link:
            log.info("onebot %s: a new %s connection replaces the old one", link.self_id, link.role)
            await old.close()
        since = self.down_since.pop(link.self_id, None)
        log.info("onebot %s: connected (%s)", link.self_id, link.role)
        self.on_links()
        if since is not None and self.on_gap is not None:
            await self.on_gap(link.self_id, since, time.time())

    def detach(self, link: Link) -> None:
        if self.links.get((link.self_id, link.role)) is link:
            del self.links[(link.self_id, link.role)]
            if not any(a == link.self_id for a, _ in self.links):
                self.down_since[link.self_id] = time.time()
                log.warning("onebot %s: disconnected; events are not coming in", link.self_id)
            self.on_links()

    async def serve(self, link: Link) -> None:
        await self.attach(link)
        try:
            await link.serve()
        finally:
            self.detach(link)

    # ---- reverse WebSocket ----------------------------------------------------------------------

    def authorized(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            given = request.query.get("access_token", "")
        return hmac.compare_digest(given.strip().encode(), self.token.encode())

    async def reverse(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            log.warning("onebot: a connection with a wrong or missing token from %s",
                        request.remote)  # fmt: skip
            return web.Response(status=401, text="unauthorized")
        self_id = request.headers.get("X-Self-ID", "").strip()
        role = ROLES.get(request.headers.get("X-Client-Role", "Universal").strip().lower())
        if not self_id.isdigit() or len(self_id) > 20 or role is None:
            return web.Response(status=400, text="X-Self-ID and X-Client-Role are required")
        socket = web.WebSocketResponse(max_msg_size=self.max_frame, autoping=True)
        await socket.prepare(request)
        link = Link(socket, self_id=self_id, role=role, on_event=self.on_event,
                    heartbeat_timeout=self.heartbeat_timeout)  # fmt: skip
        await self.serve(link)
        return socket

    # ---- forward WebSocket ----------------------------------------------------------------------

    async def forward(self, url: str, stop: asyncio.Event) -> None:
        """Connect to the implementation until `stop`, reconnecting with backoff."""
        delay = 1.0
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                try:
                    async with session.ws_connect(
                        url, headers=headers, max_msg_size=self.max_frame, heartbeat=None
                    ) as socket:
                        delay = 1.0
                        link = Link(
                            socket,
                            self_id="0",
                            role="Universal",
                            on_event=self._learn_id,
                            heartbeat_timeout=self.heartbeat_timeout,
                        )
                        await self._until(stop, self.serve(link))
                except (aiohttp.ClientError, OSError) as exc:
                    log.warning("onebot: cannot reach %s (%s); again in %.0f s", url, exc, delay)
                if stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                delay = min(delay * 2, 60.0)

    async def _learn_id(self, link: Link, data: dict[str, Any]) -> None:
        """Forward mode: the account is known from the first event's self_id."""
        self_id = str(data.get("self_id", ""))
        if link.self_id == "0" and self_id.isdigit():
            self.links.pop(("0", link.role), None)
            link.self_id = self_id
            await self.attach(link)
        await self.on_event(link, data)

    @staticmethod
    async def _until(stop: asyncio.Event, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        for link in list(self.links.values()):
            await link.close()
