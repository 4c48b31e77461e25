"""JSON over HTTP, as the platforms' APIs answer it (WeChat, WeCom, Alibaba Cloud SMS): one
request, its answer as an object, and what went wrong sorted by what the caller may do
next. Each API then reads its own error codes from the object."""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class Unreachable(Exception):
    """The API could not be reached (refused, 5xx): nothing was sent."""


class NoAnswer(Exception):
    """The request left but no answer came: it may have been carried out."""


async def request_json(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, the JSON object answered); `kwargs` go to the request."""
    try:
        async with session.request(method, url, **kwargs) as response:
            raw = await response.read()
            status = response.status
    except aiohttp.ClientConnectorError as exc:
        raise Unreachable(f"cannot connect: {exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The request may have reached the platform: the caller decides what that means.
        raise NoAnswer(f"no answer ({type(exc).__name__})") from None
    if status >= 500:
        raise Unreachable(f"HTTP {status}")
    try:
        answer = json.loads(raw)
    except ValueError:
        raise Unreachable(f"HTTP {status}, not JSON") from None
    if not isinstance(answer, dict):
        raise Unreachable(f"HTTP {status}, not a JSON object")
    return status, answer
