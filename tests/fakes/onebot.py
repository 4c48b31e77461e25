"""A fake OneBot v11 implementation (what NapCat or Lagrange are to the bot): it connects to
the bot's reverse WebSocket (or serves a forward one), pushes events in the spec's JSON and
answers actions the spec's way, matched by `echo`. It can stay silent, fail actions, drop
the socket and send heartbeats, so the bot's handling of each can be tested."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket as sockets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.http_base import FakeHttpServer

JSON = dict[str, Any]


@dataclass
class Sent:
    action: str
    target: int  # user_id or group_id
    message: Any  # what the bot sent: a segment array (or a string)
    at: float  # time.monotonic()

    @property
    def text(self) -> str:
        if isinstance(self.message, str):
            return self.message
        return "".join(
            str(s.get("data", {}).get("text", "")) for s in self.message if s.get("type") == "text"
        )


@dataclass
class FakeOneBot:
    self_id: int = 10001
    token: str | None = "onebot-secret"
    sent: list[Sent] = field(default_factory=list)
    actions: list[JSON] = field(default_factory=list)  # every action frame received
    silent: bool = False  # receive actions, never answer
    fail_with: int | None = None  # answer every send with status "failed" and this retcode
    answer_delay: float = 0.0
    _ids: Any = field(default_factory=lambda: itertools.count(5001))
    _socket: Any = None
    _session: aiohttp.ClientSession | None = None
    _reader: asyncio.Task[None] | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # ---- reverse: we connect to the bot ---------------------------------------------------------

    async def connect(
        self,
        url: str,
        *,
        token: str | None = None,
        role: str = "Universal",
        self_id: str | None = None,
        query_token: bool = False,
    ) -> aiohttp.ClientWebSocketResponse:
        """Connect as the implementation does; raises aiohttp.WSServerHandshakeError if refused."""
        token = self.token if token is None else token
        headers = {"X-Self-ID": self_id or str(self.self_id), "X-Client-Role": role}
        if token and not query_token:
            headers["Authorization"] = f"Bearer {token}"
        if token and query_token:
            url += f"?access_token={token}"
        self._session = self._session or aiohttp.ClientSession()
        socket = await self._session.ws_connect(
            url, headers=headers, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=1.0)
        )
        self._socket = socket
        self.closed.clear()
        self._reader = asyncio.create_task(self._read(socket))
        await self.push(self.lifecycle())
        return socket

    async def _read(self, socket: Any) -> None:
        try:
            async for frame in socket:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(frame.data)
                task = asyncio.create_task(self._answer(socket, data))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            self.closed.set()

    async def _answer(self, socket: Any, data: JSON) -> None:
        self.actions.append(data)
        action, params = data.get("action"), data.get("params") or {}
        if self.silent:
            return
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay * random.random())
        reply: JSON = {"status": "ok", "retcode": 0, "data": None, "echo": data.get("echo")}
        if action in ("send_private_msg", "send_group_msg", "send_msg"):
            if self.fail_with is not None:
                reply |= {"status": "failed", "retcode": self.fail_with, "message": "风控"}
            else:
                target = params.get("group_id") or params.get("user_id")
                self.sent.append(Sent(str(action), int(target), params.get("message"),
                                      time.monotonic()))  # fmt: skip
                reply["data"] = {"message_id": next(self._ids)}
        elif action == "get_stranger_info":  # answers name the asked user: echo checks
            reply["data"] = {"user_id": params.get("user_id"), "nickname": "x"}
        elif action == "get_login_info":
            reply["data"] = {"user_id": self.self_id, "nickname": "客服"}
        elif action in ("set_friend_add_request", "set_group_add_request"):
            pass
        else:
            reply |= {"status": "failed", "retcode": 1404, "data": None}
        if not socket.closed:
            await socket.send_str(json.dumps(reply, ensure_ascii=False))

    async def push(self, event: JSON) -> None:
        await self._socket.send_str(json.dumps(event, ensure_ascii=False))

    async def push_raw(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            await self._socket.send_bytes(raw)
        else:
            await self._socket.send_str(raw)

    async def drop(self) -> None:
        """The socket goes away (the implementation restarts, the network drops)."""
        if self._socket is not None:
            await self._socket.close()
        self.closed.set()

    async def close(self) -> None:
        await self.drop()
        if self._reader is not None:
            self._reader.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- events, as the spec writes them --------------------------------------------------------

    def _base(self, post_type: str) -> JSON:
        return {"time": int(time.time()), "self_id": self.self_id, "post_type": post_type}

    def lifecycle(self) -> JSON:
        return self._base("meta_event") | {"meta_event_type": "lifecycle", "sub_type": "connect"}

    def heartbeat(self, interval_ms: int = 5000) -> JSON:
        return self._base("meta_event") | {"meta_event_type": "heartbeat",
                                           "status": {"online": True, "good": True},
                                           "interval": interval_ms}  # fmt: skip

    def private(self, user: int, message: Any, *, message_id: int | None = None) -> JSON:
        message_id = next(self._ids) if message_id is None else message_id
        raw = message if isinstance(message, str) else ""
        return self._base("message") | {
            "message_type": "private", "sub_type": "friend", "message_id": message_id,
            "user_id": user, "message": message, "raw_message": raw, "font": 0,
            "sender": {"user_id": user, "nickname": f"客户{user}", "sex": "unknown", "age": 0},
        }  # fmt: skip

    def group(self, group: int, user: int, message: Any, *, message_id: int | None = None) -> JSON:
        event = self.private(user, message, message_id=message_id)
        sender = {"user_id": user, "nickname": f"群友{user}", "card": ""}
        return event | {"message_type": "group", "sub_type": "normal", "group_id": group,
                        "sender": sender}  # fmt: skip

    def friend_request(self, user: int, comment: str = "你好") -> JSON:
        return self._base("request") | {"request_type": "friend", "user_id": user,
                                        "comment": comment, "flag": f"flag-{user}"}  # fmt: skip

    def texts(self, target: int) -> list[str]:
        return [s.text for s in self.sent if s.target == target]


def free_port() -> int:
    with sockets.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ForwardServer(FakeHttpServer):
    """The implementation's own WebSocket server (forward mode): the bot connects to it."""

    def __init__(self, bot: FakeOneBot, token: str | None = None) -> None:
        super().__init__(port=free_port())  # the URL is known before the server starts
        self.bot = bot
        self.token = token
        self.connections = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._ws)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections += 1
        self.bot._socket = socket
        self.bot.closed.clear()
        await self.bot.push(self.bot.lifecycle())
        await self.bot._read(socket)
        return socket

    async def stop(self) -> None:
        await self.bot.drop()
        await super().stop()
