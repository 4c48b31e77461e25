"""One WebSocket to a OneBot implementation, either way round: actions go out with an `echo`
and their answers are matched back by it; events are handed on; a socket silent past the
heartbeat timeout is treated as gone (a half-open socket must not keep the account)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

log = logging.getLogger(__name__)

Socket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
_ids = itertools.count(1)
EVENTS_QUEUED = 10_000
DRAIN = 10.0  # seconds to take in the events already read when the socket closes


class ActionTimeout(Exception):
    """No answer in time: the action may or may not have been carried out."""


class LinkClosed(Exception):
    """The socket is gone; nothing was sent on it (or the answer can never come)."""


class Link:
    def __init__(
        self,
        socket: Socket,
        *,
        self_id: str,
        role: str,
        on_event: Callable[[Link, dict[str, Any]], Awaitable[None]],
        heartbeat_timeout: float,
    ) -> None:
        self.socket = socket
        self.self_id = self_id
        self.role = role  # Universal, API or Event
        self.on_event = on_event
        self.heartbeat_timeout = heartbeat_timeout
        self.last_seen = time.monotonic()
        self.closed = asyncio.Event()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # Events are taken in order by their own task: one that makes an action (accepting a
        # friend request) must not hold up the reading of that action's answer.
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=EVENTS_QUEUED)

    @property
    def takes_actions(self) -> bool:
        return self.role in ("Universal", "API") and not self.closed.is_set()

    async def call(self, action: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        """The implementation's answer to one action (`status`, `retcode`, `data`)."""
        if self.closed.is_set():
            raise LinkClosed(action)
        echo = f"{action}:{next(_ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[echo] = future
        try:
            try:
                frame = {"action": action, "params": params, "echo": echo}
                await self.socket.send_str(json.dumps(frame, ensure_ascii=False))
            except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
                raise LinkClosed(f"{action}: {exc}") from None
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                raise ActionTimeout(f"{action}: no answer in {timeout:g} s") from None
            except LinkClosed:  # it went out: it may have been carried out
                raise ActionTimeout(f"{action}: the connection closed before the answer") from None
        finally:
            self._pending.pop(echo, None)

    async def serve(self) -> None:
        """Read frames until the socket closes or falls silent."""
        watchdog = asyncio.create_task(self._watch())
        consumer = asyncio.create_task(self._consume())
        try:
            async for frame in self.socket:
                self.last_seen = time.monotonic()
                if frame.type == aiohttp.WSMsgType.TEXT:
                    await self._frame(frame.data)
                elif frame.type == aiohttp.WSMsgType.BINARY:
                    await self._frame(frame.data.decode("utf-8", "replace"))
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    log.warning("onebot %s: socket error %s", self.self_id, self.socket.exception())
                    break
        finally:
            watchdog.cancel()
            await self.close()
            with contextlib.suppress(TimeoutError):  # what was read is still recorded
                await asyncio.wait_for(self._events.join(), DRAIN)
            consumer.cancel()

    async def _consume(self) -> None:
        while True:
            data = await self._events.get()
            try:
                await self.on_event(self, data)
            except Exception:  # one bad event never takes the connection down
                log.exception("onebot %s: event not taken", self.self_id)
            finally:
                self._events.task_done()

    async def _frame(self, raw: str) -> None:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            log.warning("onebot %s: a frame that is not a JSON object (%d bytes)", self.self_id,
                        len(raw))  # fmt: skip
            return
        echo = data.get("echo")
        if echo is not None and "post_type" not in data:
            future = self._pending.get(str(echo))
            if future is not None and not future.done():
                future.set_result(data)
            return
        if "post_type" in data:
            await self._events.put(data)

    async def _watch(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(min(self.heartbeat_timeout / 4, 5.0))
            if time.monotonic() - self.last_seen > self.heartbeat_timeout:
                log.warning("onebot %s: silent for %.0f s; treating the connection as gone",
                            self.self_id, self.heartbeat_timeout)  # fmt: skip
                await self.close()
                return

    async def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkClosed("the connection closed before the answer"))
        with contextlib.suppress(Exception):
            await self.socket.close()
