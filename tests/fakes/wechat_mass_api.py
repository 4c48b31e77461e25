"""The mass-send and user-tag endpoints of the fake WeChat API, by Tencent's docs:

- `message/mass/send` (a service account, by OpenID list): 2 to 10,000 OpenIDs, each
  follower receiving at most 4 mass sends a calendar month (a 5th is dropped for them);
- `message/mass/sendall` (to a tag; a subscription account succeeds once a day, Beijing
  time: later calls answer 45028);
- both: at most 60 calls a minute, a clientmsgid seen before answers 45065, and under API
  mass-send protection (`protected`) a call waits for an administrator: 89503 first, then
  89505 while waiting; after `confirm()` the next call goes through, after `reject()` it
  answers 89507;
- `tags/create`, `tags/get`, `tags/members/batchtagging` and `batchuntagging` (50 OpenIDs a
  call, 20 tags a follower, 45159 for a tag that does not exist).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

JSON = dict[str, Any]
MASS_PER_MONTH = 4  # a service account's follower receives at most 4 mass sends a month
MASS_PER_MINUTE = 60  # calls to the mass-send API
MASS_MAX_OPENIDS = 10_000
TAG_BATCH = 50
TAGS_PER_FOLLOWER = 20
TAG_NAME_LIMIT = 30
BEIJING = ZoneInfo("Asia/Shanghai")
MASS_ERRMSG = {
    40032: "invalid openid list size", 45056: "too many tags", 45057: "tag has too many fans",
    45157: "invalid tag name", 45158: "tag name too long", 45059: "fans have too many tags",
    45159: "invalid tag id", 89503: "need admin confirm", 89505: "waiting for admin confirm",
    89507: "admin rejected",
}  # fmt: skip


@dataclass
class MassSend:
    """An accepted mass send and what WeChat will report of it (MASSSENDJOBFINISH)."""

    msg_id: int
    openids: list[str]
    content: str
    clientmsgid: str | None
    sent: list[str]  # followers who got it
    errors: list[str]  # followers over their month's 4 (WeChat drops those silently)
    filtered: list[str]  # not followers (any more)
    tag_id: int | None = None


class Refused(Exception):
    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


class MassEndpoints:
    """Mixed into FakeWechatApi: its `interactions` (followers, clock) and `_json`."""

    interactions: Any
    _json: Callable[[bytes], JSON]

    def _init_mass(self, account: str) -> None:
        self.account = account  # "service" or "subscription"
        self.mass_sends: list[MassSend] = []
        self.mass_received: Counter[str] = Counter()  # per follower, this (fake) month
        self.mass_quota: int | None = None  # calls the account may still make; None: any
        # Called with each accepted mass send (a test posts MASSSENDJOBFINISH from it).
        self.on_mass_send: Callable[[MassSend], Any] | None = None
        self.protected = False  # API mass-send protection: an administrator confirms each
        self.held: dict[str, str] = {}  # clientmsgid -> "waiting" | "confirmed" | "rejected"
        self.tags: dict[int, str] = {}
        self.tag_members: dict[int, set[str]] = {}
        self.tag_calls = 0
        self._clientmsgids: set[str] = set()
        self._mass_calls: deque[float] = deque()
        self._days_sent: set[str] = set()
        self._tag_ids = itertools.count(100)
        self._mass_ids = itertools.count(2_000_001)

    def mass_routes(self) -> dict[tuple[str, str], Callable[[web.Request, bytes], JSON]]:
        return {
            ("POST", "/cgi-bin/message/mass/send"): self._mass_send,
            ("POST", "/cgi-bin/message/mass/sendall"): self._mass_sendall,
            ("POST", "/cgi-bin/tags/create"): self._tag_create,
            ("GET", "/cgi-bin/tags/get"): self._tags_get,
            ("POST", "/cgi-bin/tags/members/batchtagging"): self._tagging,
            ("POST", "/cgi-bin/tags/members/batchuntagging"): self._untagging,
        }

    # ---- controls for tests -------------------------------------------------------------------

    def confirm(self, clientmsgid: str) -> None:
        """The administrator confirms the held call: it goes through when asked again."""
        self.held[clientmsgid] = "confirmed"

    def reject(self, clientmsgid: str) -> None:
        self.held[clientmsgid] = "rejected"

    def spend_today(self) -> None:
        """Someone sent the day's mass send from WeChat's own admin pages."""
        self._days_sent.add(self._today())

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self.interactions.clock(), BEIJING).date().isoformat()

    def tagged(self, name_suffix: str) -> set[str]:
        """The followers carrying the tag whose name ends with `name_suffix` (as WeChat
        lists them: those who unfollowed are not)."""
        [tag_id] = [i for i, name in self.tags.items() if name.endswith(name_suffix)]
        return self.tag_members[tag_id] & self.interactions.followers

    # ---- sends ---------------------------------------------------------------------------------

    def _mass_send(self, request: web.Request, body: bytes) -> JSON:
        data = self._mass_call(body)
        openids = data.get("touser")
        if not isinstance(openids, list) or not all(isinstance(o, str) and o for o in openids):
            raise Refused(40003)
        if not 2 <= len(openids) <= MASS_MAX_OPENIDS:
            raise Refused(40130)
        return self._deliver(data, list(dict.fromkeys(openids)), None)

    def _mass_sendall(self, request: web.Request, body: bytes) -> JSON:
        data = self._mass_call(body)
        where = data.get("filter")
        if not isinstance(where, dict):
            raise Refused(47001)
        if where.get("is_to_all") is True:
            openids, tag_id = sorted(self.interactions.followers), None
        else:
            tag_id = where.get("tag_id")
            if tag_id not in self.tags:
                raise Refused(45159)
            openids = sorted(self.tag_members[tag_id])
        if self.account == "subscription":  # one successful call a day
            if self._today() in self._days_sent:
                raise Refused(45028)
            self._days_sent.add(self._today())
        return self._deliver(data, openids, tag_id)

    def _mass_call(self, body: bytes) -> JSON:
        """What every mass call checks: the rate, the content, the clientmsgid, the quota
        and the administrator's confirmation."""
        now = self.interactions.clock()
        while self._mass_calls and self._mass_calls[0] <= now - 60:
            self._mass_calls.popleft()
        if len(self._mass_calls) >= MASS_PER_MINUTE:
            raise Refused(45009)
        self._mass_calls.append(now)
        data = self._json(body)
        payload = data.get("text")
        if data.get("msgtype") != "text" or not isinstance(payload, dict):
            raise Refused(40008)
        if not isinstance(payload.get("content"), str) or not payload["content"]:
            raise Refused(44004)
        clientmsgid = data.get("clientmsgid")
        if isinstance(clientmsgid, str) and clientmsgid in self._clientmsgids:
            raise Refused(45065)
        if self.protected and isinstance(clientmsgid, str):
            state = self.held.get(clientmsgid)
            if state is None:
                self.held[clientmsgid] = "waiting"
                raise Refused(89503)
            if state == "waiting":
                raise Refused(89505)
            if state == "rejected":
                raise Refused(89507)
        if self.mass_quota is not None:
            if self.mass_quota <= 0:
                raise Refused(45028)
            self.mass_quota -= 1
        return data

    def _deliver(self, data: JSON, openids: list[str], tag_id: int | None) -> JSON:
        clientmsgid = data.get("clientmsgid")
        if isinstance(clientmsgid, str):
            self._clientmsgids.add(clientmsgid)
        followers = self.interactions.followers
        sent, errors, filtered = [], [], []
        for openid in openids:
            if openid not in followers:
                filtered.append(openid)
            elif self.account == "service" and self.mass_received[openid] >= MASS_PER_MONTH:
                errors.append(openid)
            else:
                self.mass_received[openid] += 1
                sent.append(openid)
        msg_id = next(self._mass_ids)
        content = data["text"]["content"]
        mass = MassSend(msg_id, openids, content, clientmsgid, sent, errors, filtered, tag_id)
        self.mass_sends.append(mass)
        if self.on_mass_send is not None:
            self.on_mass_send(mass)
        return {
            "errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id,
            "msg_data_id": msg_id,
        }  # fmt: skip

    # ---- tags -----------------------------------------------------------------------------------

    def _tag_create(self, request: web.Request, body: bytes) -> JSON:
        self.tag_calls += 1
        tag = self._json(body).get("tag")
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name:
            raise Refused(47001)
        if len(name) > TAG_NAME_LIMIT:
            raise Refused(45158)
        if name in self.tags.values():
            raise Refused(45157)
        if len(self.tags) >= 100:
            raise Refused(45056)
        tag_id = next(self._tag_ids)
        self.tags[tag_id], self.tag_members[tag_id] = name, set()
        return {"tag": {"id": tag_id, "name": name}}

    def _tags_get(self, request: web.Request, body: bytes) -> JSON:
        return {
            "tags": [
                {"id": i, "name": name, "count": len(self.tag_members[i])}
                for i, name in self.tags.items()
            ]
        }

    def _tagging(self, request: web.Request, body: bytes) -> JSON:
        tag_id, openids = self._tag_batch(body)
        for openid in openids:
            if sum(openid in members for members in self.tag_members.values()) >= TAGS_PER_FOLLOWER:
                raise Refused(45059)
        self.tag_members[tag_id].update(openids)
        return {"errcode": 0, "errmsg": "ok"}

    def _untagging(self, request: web.Request, body: bytes) -> JSON:
        tag_id, openids = self._tag_batch(body)
        self.tag_members[tag_id].difference_update(openids)
        return {"errcode": 0, "errmsg": "ok"}

    def _tag_batch(self, body: bytes) -> tuple[int, list[str]]:
        self.tag_calls += 1
        data = self._json(body)
        openids, tag_id = data.get("openid_list"), data.get("tagid")
        if not isinstance(openids, list) or not 1 <= len(openids) <= TAG_BATCH:
            raise Refused(40032)
        if tag_id not in self.tags:
            raise Refused(45159)
        followers = self.interactions.followers
        if any(not isinstance(o, str) or o not in followers for o in openids):
            raise Refused(40003)  # the whole call fails for one OpenID that is no follower
        return tag_id, openids
