"""Webhook receiver: checks Telegram's secret header, records the update, then answers 200.

Anything but 200 makes Telegram retry, which is what we want when recording failed. What
can never be an update (not JSON, nested too deep, not an object) is a 400; a body that
trickles in too slowly is cut off. The routes are mounted on the app's one HTTP server.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.core.recorder import DatabaseUnavailable

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20  # Telegram's updates are far smaller
BODY_TIMEOUT = 10.0  # seconds to receive a whole body


def webhook_routes(
    accept: Callable[[dict[str, Any]], Awaitable[None]], *, path: str, secret: str
) -> list[web.RouteDef]:
    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook call with a wrong or missing secret from %s", request.remote)
            return _error(401, "unauthorized")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "too large")
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await request.read()
        except TimeoutError:
            return _error(408, "request body too slow")
        try:
            update = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to be an update
            return _error(400, "not a Telegram update")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return _error(400, "not a Telegram update")
        try:
            await accept(update)
        except DatabaseUnavailable:  # said once in the log by storage; Telegram sends again
            return _error(503, "not recorded: the database is unreachable")
        except Exception:
            log.exception("could not record update %s; Telegram will retry", update["update_id"])
            return _error(500, "not recorded")
        return web.json_response({"ok": True})

    return [web.post(path, receive)]


def _error(status: int, text: str) -> web.Response:
    return web.json_response({"ok": False, "error": text}, status=status)
