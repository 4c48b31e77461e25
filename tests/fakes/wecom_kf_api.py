"""The 微信客服 (WeChat customer service) endpoints of the fake WeCom API, by Tencent's docs.

Rules enforced (developer.work.weixin.qq.com documents):

- 94670 接收消息和事件, ``kf/sync_msg``: what clients send is read from a log, never pushed;
  the callback only says "there is something" and carries a Token valid 10 minutes (a bad or
  expired one: 95007 不合法的msgtoken); without a token the call is allowed but "有严格的频率
  限制", so such calls are counted (`untokened_syncs`, and 45009 past `untokened_limit`). The
  cursor is opaque (at most 64 bytes) and resumes after the last message returned; without
  one the log starts at the oldest message of the last 3 days, older ones are gone. ``limit``
  defaults to and is at most 1000; fewer may come back than asked ("需结合返回的 has_more
  字段判断是否继续请求", forced with `page_cap`). An event message carries its open_kfid and
  external_userid inside ``event`` only; origin is 3 for a client's message, 4 for an event.
- 94677 发送消息, ``kf/send_msg``: only while the session is 0 未处理 or 1 由智能助手接待
  (else 95018); a client's message opens 5 sends within 48 hours (the 6th: 95001, after 48
  hours: 95002) and each further message of theirs opens 5 again; text at most 2048 bytes
  (45002, empty: 44004); a menu at most 10 items (95008) of click/view/miniprogram/text
  (else 95009). A msgid is echoed; "若指定msgid，开发者需确保客服账号内唯一，否则接口返回
  错误": a repeated msgid is refused (so a retried send with the same msgid is NOT answered
  as success: it reports an error though the first went out).
- 95122 发送欢迎语等事件响应消息, ``kf/send_msg_on_event``: a code is used once; enter_session's
  welcome_code lasts 20 s (text or menu), a trans to 2 or 3 gives a code for 48 h (text), a
  trans to 4 one for 20 s (text or menu); except the welcome, a code only works while the
  session is still in the state it came with. The 5-in-48-hours window is not used. A welcome
  code is only given when 1. no native welcome is configured (`native_welcome`) and 2. the
  client got no welcome in the last 48 hours and no message was exchanged with them then.
- 94669 分配客服会话, ``kf/service_state/get`` and ``/trans``: states 0 未处理, 1 由智能助手
  接待, 2 待接入池排队中, 3 由人工接待, 4 已结束/未开始; a client's message turns 4 into 0
  (a new session); transitions are those the state table lists (0→1,2,3; 1→2,3; 2→3; 3→3,4;
  none from 4), others 95016; 3 needs an active servicer (`servicers`, else 95014); the first
  change to 2, 3 or 4 in a session returns a msg_code.

UNCONFIRMED (not stated in the docs; the choice is the fake's, nothing should rely on it):
the errcode for a repeated msgid and for an unknown, used or expired event code or cursor
(40058 不合法的参数 here); whether ending a session (→4) is allowed from 0, 1 or 2 (the state
table lists it only from 3; the diagram that may allow more is an image); whether limit > 1000
is clamped (here) or refused; that a send in state 0 leaves the state at 0.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.wecom_errors import JSON, WecomError, required, within_bytes

MSG_TTL = 3 * 86400  # sync_msg returns the last 3 days
CALLBACK_TOKEN_TTL = 600  # the Token in kf_msg_or_event: 10 minutes
WINDOW = (5, 48 * 3600)  # a client's message: 5 sends within 48 hours
SYNC_LIMIT = 1000
MAX_TEXT_BYTES = 2048
MAX_MENU_ITEMS = 10
BAD_CODE = 40058  # UNCONFIRMED: unknown/used/expired event code, repeated msgid, bad cursor
MSGID = re.compile(r"[0-9a-zA-Z_-]{1,32}")
TRANSITIONS = {0: {1, 2, 3}, 1: {2, 3}, 2: {3}, 3: {3, 4}, 4: set()}
# state a trans moves into -> (seconds its msg_code lasts, message types it may send)
STATE_CODES = {2: (48 * 3600, {"text"}), 3: (48 * 3600, {"text"}), 4: (20, {"text", "msgmenu"})}
WELCOME_CODE = (20, {"text", "msgmenu"})
MENU_ITEM_FIELDS = {"click": "content", "view": "url", "miniprogram": "appid", "text": "content"}


@dataclass
class KfMessage:
    """One entry of the sync_msg log."""

    seq: int
    msgid: str
    open_kfid: str
    external_userid: str
    send_time: int
    origin: int  # 3: the client, 4: a system event, 5: a servicer in the WeCom app
    msgtype: str  # "text" or "event"
    body: JSON  # the text or event object
    servicer: str | None = None  # servicer_userid, for origin 5

    def to_json(self) -> JSON:
        head: JSON = {"msgid": self.msgid}
        if self.msgtype != "event":
            head |= {"open_kfid": self.open_kfid, "external_userid": self.external_userid}
        head |= {"send_time": self.send_time, "origin": self.origin, "msgtype": self.msgtype}
        if self.servicer is not None:
            head["servicer_userid"] = self.servicer
        return head | {self.msgtype: dict(self.body)}


@dataclass
class KfSent:
    """An accepted send (send_msg or send_msg_on_event), at the fake clock's time."""

    at: float
    touser: str
    open_kfid: str
    msgtype: str
    content: str | None  # text content
    menu: JSON | None  # the msgmenu object
    body: JSON = field(repr=False)
    via: str = "send_msg"  # or "send_msg_on_event"
    msgid: str = ""


@dataclass
class Session:
    state: int = 4
    servicer: str | None = None
    remaining: int = 0  # sends left in the window
    window_ends: float = 0.0
    last_exchange: float | None = None  # a message either way
    welcomed_at: float | None = None
    coded_states: set[int] = field(default_factory=set)  # msg_code given this session


@dataclass
class EventCode:
    code: str
    open_kfid: str
    external_userid: str
    expires: float
    msgtypes: set[str]
    state: int | None  # the session must still be in it (None: the welcome)
    used: bool = False


class KfEndpoints:
    """Mixed into FakeWecomApi, which provides `clock` and `parse`."""

    clock: Callable[[], float]
    parse: Callable[[bytes], JSON]

    def _init_kf(self, open_kfids: tuple[str, ...]) -> None:
        self.open_kfids = open_kfids
        self.servicers: set[str] = set()  # userids currently 正在接待
        self.native_welcome = False  # a welcome configured in the admin console
        self.page_cap: int | None = None  # sync_msg returns at most this many per call
        self.untokened_limit: int | None = None  # untokened sync_msg calls before 45009
        self.untokened_syncs = 0
        self.syncs = 0
        self.log: list[KfMessage] = []
        self.sent: list[KfSent] = []
        self.state_changes: list[tuple[str, str, int, int, str | None]] = []
        self.sessions: dict[tuple[str, str], Session] = {}
        self._callback_tokens: dict[str, float] = {}
        self._codes: dict[str, EventCode] = {}
        self._msgids_used: Counter[tuple[str, str]] = Counter()
        self._cursors: dict[str, int] = {}
        self._seq = itertools.count(1)

    def kf_routes(self) -> dict[tuple[str, str], Callable[[web.Request, bytes], JSON]]:
        return {
            ("POST", "/cgi-bin/kf/sync_msg"): self._sync_msg,
            ("POST", "/cgi-bin/kf/send_msg"): self._send_msg,
            ("POST", "/cgi-bin/kf/send_msg_on_event"): self._send_msg_on_event,
            ("POST", "/cgi-bin/kf/service_state/get"): self._state_get,
            ("POST", "/cgi-bin/kf/service_state/trans"): self._state_trans,
        }

    # ---- what clients and servicers do (controls for tests) -------------------------------------

    def client_says(self, external_userid: str, text: str, *, open_kfid: str | None = None) -> str:
        """A client's text message: logged for sync_msg; opens 5 sends in 48 hours."""
        return self._client_message(external_userid, {"content": text}, open_kfid)

    def servicer_says(
        self, external_userid: str, servicer: str, text: str, *, open_kfid: str | None = None
    ) -> str:
        """A servicer answers the client in the WeCom app (origin 5): sync_msg reports it."""
        kfid = open_kfid or self.open_kfids[0]
        msgid = self._append(kfid, external_userid, 5, "text", {"content": text})
        self.log[-1].servicer = servicer
        return msgid

    def client_clicks_menu(
        self, external_userid: str, menu_id: str, text: str, *, open_kfid: str | None = None
    ) -> str:
        """The client taps a click item of a menu: a text message carrying its menu_id."""
        return self._client_message(
            external_userid, {"menu_id": menu_id, "content": text}, open_kfid
        )

    def client_enters(
        self,
        external_userid: str,
        scene: str = "",
        scene_param: str = "",
        *,
        open_kfid: str | None = None,
    ) -> str | None:
        """The client opens the chat (enter_session); returns the welcome_code, if one is due."""
        kfid = open_kfid or self.open_kfids[0]
        session, now = self.session(external_userid, kfid), self.clock()
        recent = now - WINDOW[1]
        due = not self.native_welcome and not any(
            at is not None and at > recent for at in (session.welcomed_at, session.last_exchange)
        )
        event: JSON = {
            "event_type": "enter_session", "open_kfid": kfid, "external_userid": external_userid,
            "scene": scene, "scene_param": scene_param,
        }  # fmt: skip
        code = None
        if due:
            code = self._new_code(kfid, external_userid, *WELCOME_CODE, state=None)
            event["welcome_code"] = code
        self._append(kfid, external_userid, 4, "event", event)
        return code

    def callback_token(self) -> str:
        """The Token a kf_msg_or_event callback carries (sync_msg accepts it 10 minutes)."""
        token = "ENC" + secrets.token_urlsafe(33)
        self._callback_tokens[token] = self.clock() + CALLBACK_TOKEN_TTL
        return token

    def set_state(
        self,
        external_userid: str,
        state: int,
        *,
        servicer: str | None = None,
        open_kfid: str | None = None,
    ) -> None:
        """A servicer acts in the WeCom app (takes the chat: 3, ends it: 4), no rules checked.
        sync_msg reports it as a session_status_change event (change_type 1 taken from the
        queue, 4 taken again after it ended, 3 ended)."""
        kfid = open_kfid or self.open_kfids[0]
        session = self.session(external_userid, kfid)
        self.state_changes.append((kfid, external_userid, session.state, state, servicer))
        before, old_servicer = session.state, session.servicer
        session.state, session.servicer = state, servicer if state == 3 else None
        change = {3: 4 if before == 4 else 1, 4: 3}.get(state)
        if change is not None:
            event: JSON = {
                "event_type": "session_status_change", "open_kfid": kfid,
                "external_userid": external_userid, "change_type": change,
                "old_servicer_userid": old_servicer or "", "new_servicer_userid": servicer or "",
            }  # fmt: skip
            self._append(kfid, external_userid, 4, "event", event)

    def session(self, external_userid: str, open_kfid: str | None = None) -> Session:
        key = (open_kfid or self.open_kfids[0], external_userid)
        return self.sessions.setdefault(key, Session())

    def texts(self, external_userid: str) -> list[str | None]:
        return [s.content for s in self.sent if s.touser == external_userid]

    def _client_message(self, external_userid: str, text: JSON, open_kfid: str | None) -> str:
        kfid = open_kfid or self.open_kfids[0]
        session, now = self.session(external_userid, kfid), self.clock()
        if session.state == 4:
            self.sessions[kfid, external_userid] = session = Session(
                state=0, welcomed_at=session.welcomed_at
            )
        session.remaining, session.window_ends = WINDOW[0], now + WINDOW[1]
        session.last_exchange = now
        return self._append(kfid, external_userid, 3, "text", text)

    def _append(self, kfid: str, user: str, origin: int, msgtype: str, body: JSON) -> str:
        msgid = secrets.token_urlsafe(24)
        self.log.append(
            KfMessage(next(self._seq), msgid, kfid, user, int(self.clock()), origin, msgtype, body)
        )
        return msgid

    def _new_code(
        self, kfid: str, user: str, ttl: float, msgtypes: set[str], *, state: int | None
    ) -> str:
        code = secrets.token_urlsafe(32)
        self._codes[code] = EventCode(code, kfid, user, self.clock() + ttl, msgtypes, state)
        return code

    # ---- sync_msg -------------------------------------------------------------------------------

    def _sync_msg(self, request: web.Request, body: bytes) -> JSON:
        data, now = self.parse(body), self.clock()
        token = data.get("token")
        if token:
            if not isinstance(token, str) or self._callback_tokens.get(token, 0) <= now:
                raise WecomError(95007)
        else:
            self.untokened_syncs += 1
            if self.untokened_limit is not None and self.untokened_syncs > self.untokened_limit:
                raise WecomError(45009)
        kfid = self._kfid(data.get("open_kfid"), optional=True)
        cursor = data.get("cursor") or None
        if cursor is not None and (not isinstance(cursor, str) or cursor not in self._cursors):
            raise WecomError(BAD_CODE)
        limit = data.get("limit", SYNC_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise WecomError(40058)
        limit = min(limit, SYNC_LIMIT, self.page_cap or SYNC_LIMIT)
        if data.get("voice_format", 0) not in (0, 1):
            raise WecomError(40058)
        self.syncs += 1
        after = self._cursors[cursor] if cursor else 0
        due = [
            m
            for m in self.log
            if m.seq > after and m.send_time > now - MSG_TTL and kfid in (None, m.open_kfid)
        ]
        page, has_more = due[:limit], len(due) > limit
        end = page[-1].seq if has_more else (self.log[-1].seq if self.log else after)
        return {
            "errcode": 0, "errmsg": "ok", "next_cursor": self._cursor(end),
            "has_more": int(has_more), "msg_list": [m.to_json() for m in page],
        }  # fmt: skip

    def cursor_position(self, cursor: str | None) -> int:
        """Where a cursor sync_msg gave resumes: after the log entry with this seq (0: start)."""
        return self._cursors[cursor] if cursor else 0

    def _cursor(self, position: int) -> str:
        cursor = secrets.token_urlsafe(15)
        self._cursors[cursor] = position
        return cursor

    def _kfid(self, value: Any, *, optional: bool = False) -> str | None:
        if optional and value in (None, ""):
            return None
        if not isinstance(value, str) or not value:
            raise WecomError(95000)
        if value not in self.open_kfids:
            raise WecomError(95004)
        return value

    # ---- sends ----------------------------------------------------------------------------------

    def _send_msg(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        user = required(data, "touser")
        kfid = self._kfid(data.get("open_kfid"))
        assert kfid is not None
        msgtype, content, menu = self._content(data, {"text", "msgmenu"})
        msgid = self._msgid(kfid, data.get("msgid"))
        session, now = self.session(user, kfid), self.clock()
        if session.state not in (0, 1):
            raise WecomError(95018)
        if session.window_ends <= now:
            raise WecomError(95002)
        if session.remaining <= 0:
            raise WecomError(95001)
        session.remaining -= 1
        return self._deliver(user, kfid, msgtype, content, menu, data, msgid, "send_msg")

    def _send_msg_on_event(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        code = required(data, "code")
        found, now = self._codes.get(code), self.clock()
        if found is None or found.used or found.expires <= now:
            raise WecomError(BAD_CODE)
        msgtype, content, menu = self._content(data, found.msgtypes)
        msgid = self._msgid(found.open_kfid, data.get("msgid"))
        session = self.session(found.external_userid, found.open_kfid)
        if found.state is not None and session.state != found.state:
            raise WecomError(95018)
        found.used = True
        if found.state is None:
            session.welcomed_at = now
        return self._deliver(
            found.external_userid, found.open_kfid, msgtype, content, menu, data, msgid,
            "send_msg_on_event",
        )  # fmt: skip

    def _deliver(
        self,
        user: str,
        kfid: str,
        msgtype: str,
        content: str | None,
        menu: JSON | None,
        data: JSON,
        msgid: str,
        via: str,
    ) -> JSON:
        now = self.clock()
        self.session(user, kfid).last_exchange = now
        self._msgids_used[kfid, msgid] += 1
        self.sent.append(KfSent(now, user, kfid, msgtype, content, menu, data, via, msgid))
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def _msgid(self, kfid: str, value: Any) -> str:
        if value is None or value == "":
            return secrets.token_urlsafe(24)[:32]
        if not isinstance(value, str) or not MSGID.fullmatch(value):
            raise WecomError(40058)  # 不多于32字节, [0-9a-zA-Z_-]*
        if self._msgids_used[kfid, value]:
            raise WecomError(BAD_CODE)  # 客服账号内唯一，否则接口返回错误
        return value

    def _content(self, data: JSON, allowed: set[str]) -> tuple[str, str | None, JSON | None]:
        """(msgtype, text content, menu) of a send, checked as the docs describe."""
        msgtype = data.get("msgtype")
        payload = data.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in allowed or not isinstance(payload, dict):
            raise WecomError(40008)  # the fake sends text and msgmenu only
        if msgtype == "text":
            content = payload.get("content")
            if not isinstance(content, str) or not content:
                raise WecomError(44004)
            if len(content.encode()) > MAX_TEXT_BYTES:
                raise WecomError(45002)
            return msgtype, content, None
        for edge in ("head_content", "tail_content"):
            if edge in payload and not within_bytes(payload[edge], 0, 1024):
                raise WecomError(40058)
        items = payload.get("list", [])
        if not isinstance(items, list):
            raise WecomError(40058)
        if len(items) > MAX_MENU_ITEMS:
            raise WecomError(95008)
        for item in items:
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(kind, str) or kind not in MENU_ITEM_FIELDS:
                raise WecomError(95009)
            inner = item.get(kind)
            if not isinstance(inner, dict):
                raise WecomError(95009)
            if not within_bytes(inner.get(MENU_ITEM_FIELDS[kind]), 1, 2048):
                raise WecomError(40058)
            if kind == "click" and not within_bytes(inner.get("id", "x"), 1, 128):
                raise WecomError(40058)
        if not items and not payload.get("head_content") and not payload.get("tail_content"):
            raise WecomError(44004)
        return msgtype, None, payload

    # ---- session state --------------------------------------------------------------------------

    def _state_get(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        kfid = self._kfid(data.get("open_kfid"))
        session = self.session(required(data, "external_userid"), kfid)
        answer: JSON = {"errcode": 0, "errmsg": "ok", "service_state": session.state}
        if session.state == 3:
            answer["servicer_userid"] = session.servicer
        return answer

    def _state_trans(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        kfid = self._kfid(data.get("open_kfid"))
        assert kfid is not None
        user, target = required(data, "external_userid"), data.get("service_state")
        if not isinstance(target, int) or isinstance(target, bool) or target not in TRANSITIONS:
            raise WecomError(40058)
        session = self.session(user, kfid)
        if target not in TRANSITIONS[session.state]:
            raise WecomError(95016)
        servicer = data.get("servicer_userid")
        if target == 3 and servicer not in self.servicers:
            raise WecomError(95014)
        self.state_changes.append((kfid, user, session.state, target, servicer))
        session.state, session.servicer = target, servicer if target == 3 else None
        answer: JSON = {"errcode": 0, "errmsg": "ok"}
        if target in STATE_CODES and target not in session.coded_states:
            session.coded_states.add(target)
            ttl, msgtypes = STATE_CODES[target]
            answer["msg_code"] = self._new_code(kfid, user, ttl, msgtypes, state=target)
        return answer
