"""A fake Telegram Bot API server (aiohttp.web) for end-to-end tests with a real aiogram Bot.

Point the bot at it with
``Bot(token, session=BotApiSession(tg.base_url))`` (bot.channels.telegram.session).

Like the real one it can be flooded: `flood_next` answers 429 with `retry_after` and holds
every message call for that long (each call during a hold is counted and refused again), and
`enforce` refuses calls beyond Telegram's rate limits. Every call is logged with its arrival
time (`calls`), so tests and benchmarks can count what arrived in any rolling second.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiohttp import web

from tests.fakes.http_base import FakeHttpServer

JSON = dict[str, Any]
DEFAULT_TOKEN = "123456:TEST-token"
MAX_TEXT = 4096
# Form values aiogram json.dumps()es (objects, lists, ints, bools); tests get them decoded.
_JSON_PARAMS = frozenset(
    "reply_markup entities caption_entities link_preview_options reply_parameters commands "
    "scope allowed_updates chat_id from_chat_id user_id message_id message_ids message_thread_id "
    "offset limit timeout cache_time show_alert disable_notification protect_content "
    "drop_pending_updates max_connections".split()
)
# Methods that put a message in a chat: what Telegram's flood limits count.
MESSAGE_METHODS = frozenset(
    {"sendmessage", "senddocument", "editmessagetext", "editmessagereplymarkup"}
)
_ALWAYS_TRUE = frozenset(
    "sendchataction setmycommands deletemycommands setmydescription setmyshortdescription "
    "setchatmenubutton".split()
)
_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "a": "text_link", "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_CHAR_REF_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);")
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error reply in Telegram's shape; raised by method handlers."""

    def __init__(
        self,
        status: int,
        description: str,
        retry_after: int | None = None,
        migrate_to: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after
        self.migrate_to = migrate_to

    def response(self) -> web.Response:
        """Render as {"ok": false, "error_code": ..., "description": ...[, "parameters"]}."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        if self.migrate_to is not None:
            body["parameters"] = {"migrate_to_chat_id": self.migrate_to}
        return web.json_response(body, status=self.status)


def _u16(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _cant_parse(detail: str, text: str = "", index: int | None = None) -> ApiError:
    if index is not None:
        detail += f" at byte offset {len(text[:index].encode())}"
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Minimal Telegram HTML parse: return (plain text, entities) or raise a 400 ApiError."""
    out: list[str] = []
    entities: list[JSON] = []
    stack: list[tuple[str, int, dict[str, str]]] = []  # open tags: (name, offset, attributes)
    pos = i = 0
    while i < len(text):
        if text[i] == "<":
            if (m := _TAG_RE.match(text, i)) is None:
                raise _cant_parse("Unclosed start tag", text, i)
            name, at, i = m.group(2).lower(), i, m.end()
            if not m.group(1):
                if name not in _ENTITY_TYPES:
                    raise _cant_parse(f'Unsupported start tag "{name}"', text, at)
                attrs = {
                    key.lower(): html.unescape(a or b or c)
                    for key, a, b, c in _ATTR_RE.findall(m.group(3))
                }
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _cant_parse('Tag "span" must have class "tg-spoiler"')
                stack.append((name, pos, attrs))
                continue
            if not stack:
                raise _cant_parse("Unexpected end tag", text, at)
            tag, start, attrs = stack.pop()
            if tag != name:
                detail = f'expected "</{tag}>", found "</{name}>"'
                raise _cant_parse(f"Unmatched end tag {detail}", text, at)
            if pos > start:
                entities.append(_entity(tag, start, pos - start, attrs))
            continue
        char, i = text[i], i + 1
        if char == "&":
            if (m := _CHAR_REF_RE.match(text, i - 1)) is None:  # stricter than Telegram
                raise _cant_parse("Unescaped '&' (write &amp;)", text, i - 1)
            char, i = html.unescape(m.group()), m.end()
        out.append(char)
        pos += _u16(char)
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _entity(tag: str, offset: int, length: int, attrs: dict[str, str]) -> JSON:
    entity: JSON = {"type": _ENTITY_TYPES[tag], "offset": offset, "length": length}
    if tag == "a":
        entity["url"] = attrs.get("href", "")
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def render_text(params: JSON) -> tuple[str, list[JSON]]:
    """Apply parse_mode and Telegram's text rules (empty, too long); return (text, entities)."""
    raw = str(params.get("text", ""))  # aiogram omits empty strings from the form entirely
    if params.get("parse_mode") == "HTML":
        text, entities = parse_html(raw)
    else:  # MarkdownV2/Markdown are passed through unchecked
        text, entities = raw, [dict(e) for e in params.get("entities") or []]
    stripped = text.strip()
    if not stripped:
        raise ApiError(400, "Bad Request: message text is empty")
    if len(stripped) > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")
    shift, end = _u16(text[: len(text) - len(text.lstrip())]), _u16(stripped)
    for e in entities:
        e["offset"] = max(0, e["offset"] - shift)
        e["length"] = min(e["length"], end - e["offset"])
    return stripped, [e for e in entities if e["length"] > 0]


def _chat(chat_id: int | str, first_name: str = "Tester") -> JSON:
    """A private chat for positive ids, otherwise a supergroup."""
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": first_name}
    return {"id": chat_id, "type": "supergroup", "title": "Test group"}


def _decode(value: str) -> Any:
    """JSON-decode a form value that aiogram json.dumps()ed; keep plain strings (e.g. @chat)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def peak(times: list[float], span: float = 1.0) -> int:
    """The most events in any rolling window of `span` seconds (times ascending)."""
    best = first = 0
    for i, at in enumerate(times):
        while times[first] <= at - span:
            first += 1
        best = max(best, i - first + 1)
    return best


class FakeTelegram(FakeHttpServer):
    """In-process fake of the Telegram Bot API, speaking the real HTTP/JSON protocol."""

    def __init__(
        self, token: str = DEFAULT_TOKEN, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.token = token
        self.clock = clock
        # (arrival time, method, chat_id) of every call but getUpdates
        self.calls: list[tuple[float, str, Any]] = []
        self.holds: list[tuple[float, float]] = []  # (start, end) of each 429 hold
        self.calls_during_holds = 0
        self.latency = 0.0  # seconds before a message call is answered
        self._floods: deque[int] = deque()  # retry_after of 429s to give out next
        self._enforced: tuple[float, float] | None = None  # (rate, chat interval)
        self._recent: deque[float] = deque()
        self._chat_last: dict[Any, float] = {}
        prefix = token.split(":", 1)[0]
        self.me: JSON = {
            "id": int(prefix) if prefix.isdigit() else 123456, "is_bot": True,
            "first_name": "TestBot", "username": "test_bot", "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
        }  # fmt: skip
        self.requests: list[tuple[str, JSON]] = []  # every call except getUpdates, even failed
        self.callback_answers: list[JSON] = []
        self.get_updates_offsets: list[int | None] = []
        self.blocked_users: set[int] = set()
        self.documents: list[JSON] = []  # params of sendDocument calls, with the file
        self.migrated: dict[int, int] = {}  # a group that became a supergroup: old -> new id
        self.webhook_url: str | None = None
        self.webhook_secret_token: str | None = None
        self._sent: list[JSON] = []
        self._sent_event = asyncio.Event()
        self._messages: dict[tuple[int | str, int], JSON] = {}  # the bot's, by (chat, id)
        self._message_ids: defaultdict[Any, itertools.count[int]] = defaultdict(itertools.count)
        self._callback_ids = itertools.count(1)
        self._history: dict[int, JSON] = {}
        self._queue: list[tuple[JSON, bool]] = []  # (update, redelivered and not yet returned)
        self._next_update_id = 1
        self._wakeup = asyncio.Event()
        self._poll_generation = 0
        self._failures: defaultdict[str, deque[ApiError]] = defaultdict(deque)
        self._stalls: defaultdict[str, deque[float]] = defaultdict(deque)
        self._closing = asyncio.Event()
        self._methods: dict[str, Callable[[JSON], Awaitable[Any]]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in "getMe getUpdates sendMessage sendDocument editMessageText "
            "editMessageReplyMarkup answerCallbackQuery deleteMessage setWebhook deleteWebhook "
            "getWebhookInfo".split()
        }

    # ---- lifecycle --------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        self._closing.clear()
        await super().start()

    async def stop(self) -> None:
        """Release pending long polls and stalled responses, then shut the server down."""
        self._closing.set()
        self._wakeup.set()
        await super().stop()

    @property
    def base_url(self) -> str:
        """Base URL for TelegramAPIServer.from_base()."""
        return super().base_url

    # ---- updates ----------------------------------------------------------------------------

    def push_update(self, update: JSON) -> int:
        """Queue an update for getUpdates; assign an update_id if missing and return it."""
        update = dict(update)
        update_id: int = update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._history[update_id] = update
        self._enqueue(update, redelivered=False)
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Deliver a pushed update again with the same update_id, even if already confirmed."""
        self._enqueue(self._history[update_id], redelivered=True)

    def _enqueue(self, update: JSON, *, redelivered: bool) -> None:
        self._queue.append((update, redelivered))
        self._queue.sort(key=lambda item: item[0]["update_id"])
        self._wakeup.set()

    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Tester",
        language_code: str = "zh-hans",
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """Build a text message update from a user (private chat unless chat_id is negative),
        optionally replying to the bot's message `reply_to` in that chat."""
        message = self._incoming(user_id, first_name, language_code, chat_id)
        message["text"] = text
        if reply_to is not None:
            chat = user_id if chat_id is None else chat_id
            message["reply_to_message"] = dict(self._messages[chat, reply_to])
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16(command)}]
        return {"message": message}

    def callback(self, user_id: int, data: str, *, message_id: int) -> JSON:
        """Build a callback_query update: user_id pressed a button on the bot's message_id."""
        message = self._messages.get((user_id, message_id)) or {
            "message_id": message_id, "from": self.me, "date": int(time.time()),
            "chat": _chat(user_id),
        }  # fmt: skip
        return {
            "callback_query": {
                "id": f"{user_id}{next(self._callback_ids):06d}",
                "from": self._user(user_id, "Tester", "zh-hans"),
                "message": dict(message),
                "chat_instance": f"ci-{user_id}",
                "data": data,
            }
        }

    def sticker(self, user_id: int) -> JSON:
        """Build a sticker message update."""
        message = self._incoming(user_id)
        message["sticker"] = {
            "file_id": "CAACAgIAAxkBAAIBsticker", "file_unique_id": "AgADsticker",
            "type": "regular", "width": 512, "height": 512, "is_animated": False,
            "is_video": False, "emoji": "👍",
        }  # fmt: skip
        return {"message": message}

    def photo(self, user_id: int, *, caption: str | None = None) -> JSON:
        """Build a photo message update (two sizes, optional caption)."""
        message = self._incoming(user_id)
        message["photo"] = [
            {"file_id": f"AgACphoto{w}", "file_unique_id": f"AQADphoto{w}", "width": w,
             "height": w * 3 // 4, "file_size": w * 100}
            for w in (90, 1280)
        ]  # fmt: skip
        if caption is not None:
            message["caption"] = caption
        return {"message": message}

    @staticmethod
    def _user(user_id: int, first_name: str, language_code: str) -> JSON:
        return {"id": user_id, "is_bot": False, "first_name": first_name,
                "language_code": language_code}  # fmt: skip

    def _incoming(
        self, user_id: int, first_name: str = "Tester", language_code: str = "zh-hans",
        chat_id: int | None = None,
    ) -> JSON:  # fmt: skip
        chat_id = user_id if chat_id is None else chat_id
        return {"message_id": self._next_message_id(chat_id), "date": int(time.time()),
                "chat": _chat(chat_id, first_name),
                "from": self._user(user_id, first_name, language_code)}  # fmt: skip

    def _next_message_id(self, chat_id: int | str) -> int:
        """Per-chat message ids shared by both sides, as in private chats."""
        return next(self._message_ids[chat_id]) + 1

    # ---- recordings, accessors and fault injection ------------------------------------------

    def sent(self, chat_id: int | str | None = None) -> list[JSON]:
        """Params of successful sendMessage calls, optionally only those to chat_id."""
        return [p for p in self._sent if chat_id is None or p.get("chat_id") == chat_id]

    def last_message_id(self, chat_id: int | str) -> int:
        """The id of the newest message the bot sent to chat_id."""
        return max(m for c, m in self._messages if c == chat_id)

    def texts(self, chat_id: int | str) -> list[str]:
        """Texts (as sent, i.e. with markup) of successful sendMessage calls to chat_id."""
        return [str(p.get("text", "")) for p in self.sent(chat_id)]

    async def wait_for_sent(self, n: int, timeout: float = 5.0) -> list[JSON]:
        """Wait until at least n sendMessage calls succeeded and return them all."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._sent) < n:
                    self._sent_event.clear()
                    await self._sent_event.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected >= {n} sendMessage calls within {timeout}s, got {len(self._sent)}; "
                f"texts: {[p.get('text') for p in self._sent]}; "
                f"calls: {[name for name, _ in self.requests]}"
            ) from None
        return self.sent()

    def clear(self) -> None:
        """Forget recorded calls (requests, sends, callback answers, getUpdates offsets)."""
        self.requests.clear()
        self._sent.clear()
        self.callback_answers.clear()
        self.get_updates_offsets.clear()
        self.calls.clear()

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Make the next count calls of method fail with this Telegram error."""
        error = ApiError(status, description, retry_after)
        self._failures[method.lower()].extend([error] * count)

    def stop_failing(self, method: str) -> None:
        """Drop the failures still scripted for `method`: the outage is over."""
        self._failures[method.lower()].clear()

    def stall_next(self, method: str, seconds: float) -> None:
        """Delay the next call's response; the call itself takes effect immediately."""
        self._stalls[method.lower()].append(seconds)

    def flood_next(self, retry_after: int, count: int = 1) -> None:
        """The next `count` message calls get 429; each starts a hold of `retry_after`
        seconds during which every message call is refused (and counted)."""
        self._floods.extend([retry_after] * count)

    def enforce(self, rate: float = 30.0, chat_interval: float = 1.0) -> None:
        """Refuse (429) message calls beyond `rate` in a rolling second or closer than
        `chat_interval` to one chat, as Telegram does."""
        self._enforced = (rate, chat_interval)

    def message_times(self) -> list[float]:
        return [at for at, name, _ in self.calls if name.lower() in MESSAGE_METHODS]

    def _flood_check(self, name: str, params: JSON, now: float) -> None:
        """Telegram's flood control: holds, scripted floods and (when enforced) the limits."""
        if name not in MESSAGE_METHODS:
            return
        if self.holds and now < self.holds[-1][1]:
            self.calls_during_holds += 1
            raise self._too_many(max(1, round(self.holds[-1][1] - now)))
        if self._floods:
            self._hold(now, self._floods.popleft())
        if self._enforced is not None:
            rate, interval = self._enforced
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            chat = params.get("chat_id")
            too_close = now - self._chat_last.get(chat, -math.inf) < interval
            if len(self._recent) >= rate or too_close:
                self._hold(now, 1)
            self._recent.append(now)
            self._chat_last[chat] = now

    def _hold(self, now: float, retry_after: int) -> None:
        self.holds.append((now, now + retry_after))
        raise self._too_many(retry_after)

    @staticmethod
    def _too_many(retry_after: int) -> ApiError:
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    # ---- HTTP plumbing ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = self.clock()  # before the body is read: the call's arrival, not our pace
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        name = request.match_info["method"].lower()  # Telegram method names are case-insensitive
        handler = self._methods.get(name)
        if handler is None and name not in _ALWAYS_TRUE:
            return ApiError(404, "Not Found").response()
        raw = dict(request.query)
        files: JSON = {}
        for key, value in (await request.post()).items():
            if isinstance(value, str):
                raw[key] = value
            else:  # an uploaded file (multipart): kept with its name and text
                files[key] = {
                    "filename": value.filename,
                    "text": value.file.read().decode("utf-8", "replace"),
                }
        params = {k: _decode(v) if k in _JSON_PARAMS else v for k, v in raw.items()}
        for key, value in list(params.items()):  # aiogram names its uploads "attach://<field>"
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = files.pop(value.removeprefix("attach://"), value)
        params |= files
        if name != "getupdates":
            self.requests.append((request.match_info["method"], params))
            self.calls.append((arrived, request.match_info["method"], params.get("chat_id")))
        try:
            self._flood_check(name, params, arrived)
            if self._failures[name]:
                raise self._failures[name].popleft()
            if params.get("chat_id") in self.blocked_users:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if (moved := self.migrated.get(params.get("chat_id"))) is not None:  # type: ignore[arg-type]
                raise ApiError(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to=moved,
                )
            result = True if handler is None else await handler(params)
            response = web.json_response({"ok": True, "result": result})
        except ApiError as error:
            response = error.response()
        if self._stalls[name]:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._stalls[name].popleft())
        elif self.latency and name in MESSAGE_METHODS:
            await asyncio.sleep(self.latency)
        return response

    # ---- Bot API methods --------------------------------------------------------------------

    async def _m_getMe(self, params: JSON) -> JSON:
        return self.me

    async def _m_getUpdates(self, params: JSON) -> list[JSON]:
        if self.webhook_url is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                           "use deleteWebhook to delete the webhook first")  # fmt: skip
        offset = params.get("offset")
        self.get_updates_offsets.append(offset)
        if offset is not None and offset < 0:  # -N: keep only the last N updates
            self._queue = self._queue[offset:]
        elif offset is not None:  # confirm everything below offset (redeliveries not yet seen)
            self._queue = [(u, r) for u, r in self._queue if r or u["update_id"] >= offset]
        self._poll_generation += 1
        self._wakeup.set()  # an older pending long poll ends with 409, as on the real server
        generation, loop = self._poll_generation, asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout", 0))
        while not self._queue and not self._closing.is_set() and loop.time() < deadline:
            self._wakeup.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), deadline - loop.time())
            if self.webhook_url is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                               "make sure that only one bot instance is running")  # fmt: skip
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        batch = [update for update, _ in self._queue[:limit]]
        self._queue[:limit] = [(update, False) for update in batch]
        return batch

    async def _m_sendMessage(self, params: JSON) -> JSON:
        if (chat_id := params.get("chat_id")) is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        text, entities = render_text(params)
        message: JSON = {
            "message_id": self._next_message_id(chat_id), "from": self.me, "chat": _chat(chat_id),
            "date": int(time.time()), "text": text,
        }  # fmt: skip
        self._set_content(message, entities, params.get("reply_markup"))
        self._messages[chat_id, message["message_id"]] = message
        self._sent.append(params)
        self._sent_event.set()
        return message

    async def _m_sendDocument(self, params: JSON) -> JSON:
        if (chat_id := params.get("chat_id")) is None:
            raise ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(params.get("document"), dict):
            raise ApiError(400, "Bad Request: there is no document in the request")
        message: JSON = {
            "message_id": self._next_message_id(chat_id), "from": self.me, "chat": _chat(chat_id),
            "date": int(time.time()), "document": {"file_name": params["document"]["filename"],
            "file_id": f"doc{len(self.documents)}", "file_unique_id": f"u{len(self.documents)}"},
        }  # fmt: skip
        if params.get("caption"):
            message["caption"] = params["caption"]
        self._messages[chat_id, message["message_id"]] = message
        self.documents.append(params)
        return message

    async def _m_editMessageText(self, params: JSON) -> JSON:
        message = self._message_to_edit(params)
        text, entities = render_text(params)
        markup = params.get("reply_markup")  # omitted => Telegram removes the inline keyboard
        current = (message["text"], message.get("entities", []), message.get("reply_markup"))
        if (text, entities, markup) == current:
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        return self._set_content(message, entities, markup, edited=True)

    async def _m_editMessageReplyMarkup(self, params: JSON) -> JSON:
        message = self._message_to_edit(params)
        if params.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        entities = message.get("entities", [])
        return self._set_content(message, entities, params.get("reply_markup"), edited=True)

    async def _m_answerCallbackQuery(self, params: JSON) -> bool:
        self.callback_answers.append(params)
        return True

    async def _m_deleteMessage(self, params: JSON) -> bool:
        self._messages.pop((params.get("chat_id", 0), params.get("message_id", 0)), None)
        return True

    async def _m_setWebhook(self, params: JSON) -> bool:
        self.webhook_url = str(params.get("url", "")) or None
        self.webhook_secret_token = params.get("secret_token")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._wakeup.set()  # a pending long poll ends with 409
        return True

    async def _m_deleteWebhook(self, params: JSON) -> bool:
        self.webhook_url = self.webhook_secret_token = None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _m_getWebhookInfo(self, params: JSON) -> JSON:
        return {"url": self.webhook_url or "", "has_custom_certificate": False,
                "pending_update_count": len(self._queue)}  # fmt: skip

    def _message_to_edit(self, params: JSON) -> JSON:
        key = (params.get("chat_id", 0), params.get("message_id", 0))
        if key not in self._messages:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self._messages[key]

    @staticmethod
    def _set_content(
        message: JSON, entities: list[JSON], markup: JSON | None, *, edited: bool = False
    ) -> JSON:
        for key, value in (("entities", entities), ("reply_markup", markup)):
            message.pop(key, None)
            if value:
                message[key] = value
        if edited:
            message["edit_date"] = int(time.time())
        return message
