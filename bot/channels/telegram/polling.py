"""Long polling that acknowledges an update only after it is recorded.

Telegram drops updates below the `offset` of the next getUpdates call, so the offset
moves past an update only once `accept` has archived it. A crash before that means
Telegram delivers it again; the archive's dedupe key keeps it from being handled twice.

Updates come as raw JSON objects, parsed one by one by the caller: one malformed update
must not make the whole batch unreadable (and refetched forever).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response

from bot.channels.telegram.convert import CHANNEL
from bot.core.health import Health

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
RawUpdate = dict[str, Any]


class GetRawUpdates(GetUpdates):
    """getUpdates whose result stays JSON: parsed per update by the caller."""

    __returning__ = list[Any]  # type: ignore[assignment]  # anything, checked per update


_RESPONSE = Response[list[Any]]  # held: see RESPONSE_TYPES in sender.py


async def poll(
    bot: Bot,
    accept: Callable[[list[Any]], Awaitable[int | None]],
    stop: asyncio.Event,
    *,
    timeout: int = 25,
    max_backoff: float = 30.0,
    health: Health | None = None,
) -> None:
    """Fetch and hand over updates until `stop`; `health` hears whether getUpdates works."""
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        request = GetRawUpdates(offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES)
        try:
            updates = await _unless_stopped(bot(request, request_timeout=timeout + 10), stop)
            if updates is None:
                return  # stopped mid-poll; anything in flight was not acknowledged
        except TelegramUnauthorizedError:
            if health is not None:
                health.down(CHANNEL, "getUpdates: the Bot API rejected TELEGRAM_BOT_TOKEN")
            raise
        except TelegramRetryAfter as exc:
            await _pause(stop, float(exc.retry_after))
            continue
        except TelegramConflictError as exc:
            log.error("getUpdates conflict (another poller or a webhook?): %s", exc.message)
            await _pause(stop, 5.0)
            continue
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
            if health is not None:
                health.down(CHANNEL, f"getUpdates: {exc}")
            log.warning("getUpdates failed: %s; retrying in %.0fs", exc, backoff)
            await _pause(stop, backoff)
            backoff = min(backoff * 2, max_backoff)
            continue
        if health is not None:
            health.up(CHANNEL)
        if not updates:
            backoff = 1.0
            continue
        try:
            recorded = await accept(updates)
        except Exception:
            log.exception("could not record %d update(s); will fetch them again", len(updates))
            recorded = None
        if recorded is not None:
            offset = recorded + 1
        if recorded is None or recorded < _last_id(updates):
            # Not recorded, so not acknowledged: Telegram hands them over again.
            await _pause(stop, backoff)
            backoff = min(backoff * 2, max_backoff)
        else:
            backoff = 1.0


def _last_id(updates: list[RawUpdate]) -> int:
    ids = [u.get("update_id") for u in updates]
    return max((i for i in ids if isinstance(i, int)), default=-1)


async def _unless_stopped(
    call: Awaitable[list[RawUpdate]], stop: asyncio.Event
) -> list[RawUpdate] | None:
    """Await a long poll, but give up on it at once when `stop` is set."""
    fetch = asyncio.ensure_future(call)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (fetch, stopped):
            if not task.done():
                task.cancel()
        if not fetch.done() or fetch.cancelled():
            await asyncio.gather(fetch, return_exceptions=True)
    if fetch.cancelled():
        return None
    return fetch.result()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
