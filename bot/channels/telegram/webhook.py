"""Webhook receiver: checks Telegram's secret header, records the update, then answers 200.

Anything but 200 makes Telegram retry, which is what we want when recording failed.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_app(
    bot: Bot, accept: Callable[[Update], Awaitable[None]], *, path: str, secret: str
) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook call with a wrong or missing secret from %s", request.remote)
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            update = Update.model_validate(await request.json(), context={"bot": bot})
        except (ValueError, ValidationError):
            return web.json_response({"ok": False, "error": "not a Telegram update"}, status=400)
        try:
            await accept(update)
        except Exception:
            log.exception("could not record update %s; Telegram will retry", update.update_id)
            return web.json_response({"ok": False}, status=500)
        return web.json_response({"ok": True})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    return app
