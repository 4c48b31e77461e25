"""The 客户联系 (customer contact) endpoints of the fake WeCom API, by Tencent's docs.

Rules enforced (developer.work.weixin.qq.com documents):

- 92135 创建企业群发, ``externalcontact/add_msg_template`` (chat_type "single" only here):
  "调用该接口并不会直接发送消息给客户，需要成员确认后才会执行发送": a task waits per advisor
  until they confirm in the WeCom app (`confirm_task`, `confirm_all`). Without a sender each
  client's task goes to the advisor who last added them ("仅会推送给最后跟客户进行聊天互动的
  企业成员", approximated by the last friendship made). Clients who are not the sender's
  friends come back in fail_list ("无效或无法发送的external_userid列表"); none left: 41048.
  At most 10,000 clients, text at most 4000 bytes. Each client receives at most "当月天数"
  group messages a month, or 7 a week or 1 a day where the corp chose so (`receive_rule` =
  "month" | "week" | "day"), counted in Beijing time over every group message from the corp.
- 93338 获取群发成员发送任务列表 ``get_groupmsg_task`` (task_list: userid, status 0 未发送 /
  2 已发送, send_time only once sent) and 获取企业群发成员执行结果 ``get_groupmsg_send_result``
  (send_list: external_userid, userid, status 0 未发送 1 已发送 2 因客户不是好友导致发送失败
  3 因客户已经收到其他群发消息导致发送失败, send_time only when 1): limit defaults to 500, at
  most 1000, "超过最大值时取默认值"; the cursor is opaque; right after creation they may answer
  41063 群发消息正在被派发中 (`dispatch_seconds`, 0 by default).
- 停止企业群发 ``cancel_groupmsg_send``: advisors who have not confirmed a task can no longer
  send it (confirming it afterwards sends nothing).
- 添加企业客户事件 and 92137 发送新客户欢迎语 ``send_welcome_msg`` (92599 in the third-party
  docs): the welcome_code of an add_external_contact event works "收到相关事件后20秒内调用，
  且只可调用一次" (later: 41050 无效的欢迎语code, "须在添加好友后20秒内使用"; once the welcome
  went out: 41051 "externaluser has started chatting"); no code is given for an advisor with
  a welcome configured in the admin console (`native_welcome_for`); text at most 4000 bytes.
  Not modelled: 41096 (another app of the corp is sending the welcome at the same moment).

UNCONFIRMED (the fake's choice): a natural ISO week (Monday to Sunday) for the weekly rule;
40058 for text over 4000 bytes and for a bad cursor; 44004 for an empty text; 40003 for a
sender who is no member; status 2 for a client the advisor stopped being friends with between
creation and confirmation.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes.wecom_errors import JSON, WecomError, required

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_TEXT_BYTES = 4000
MAX_RECIPIENTS = 10_000
PAGE_DEFAULT, PAGE_MAX = 500, 1000
WELCOME_TTL = 20


@dataclass
class GroupRecipient:
    external_userid: str
    status: int = 0  # 0 未发送 1 已发送 2 不是好友 3 已收到其他群发
    send_time: int | None = None


@dataclass
class AdvisorTask:
    userid: str
    recipients: dict[str, GroupRecipient]
    status: int = 0  # 0 未发送 2 已发送
    send_time: int | None = None


@dataclass
class GroupTask:
    """An add_msg_template call: one task per advisor who must confirm it."""

    msgid: str
    created: float
    content: str
    sender: str | None
    fail_list: list[str]
    tasks: dict[str, AdvisorTask]
    body: JSON = field(repr=False)
    cancelled: bool = False  # 停止企业群发: advisors can no longer confirm it


@dataclass
class WelcomeSent:
    at: float
    userid: str
    external_userid: str
    content: str
    body: JSON = field(repr=False)


@dataclass
class _WelcomeCode:
    userid: str
    external_userid: str
    expires: float
    used: bool = False


class ContactEndpoints:
    """Mixed into FakeWecomApi, which provides `clock` and `parse`."""

    clock: Callable[[], float]
    parse: Callable[[bytes], JSON]

    def _init_contact(self) -> None:
        self.members: set[str] = set()  # advisors (corp members); add_contact adds them
        self.friends: dict[str, list[str]] = {}  # external_userid -> advisors, oldest first
        self.receive_rule = "month"  # or "week", "day": how many group messages a client gets
        self.dispatch_seconds = 0.0  # results answer 41063 this long after creation
        self.native_welcome_for: set[str] = set()
        self.group_tasks: list[GroupTask] = []
        self.group_inbox: dict[str, list[tuple[float, str]]] = {}  # client -> (at, content)
        self.welcomes: list[WelcomeSent] = []
        self._welcome_codes: dict[str, _WelcomeCode] = {}
        self._pages: dict[str, int] = {}
        self._msgids = itertools.count(1)
        self.remark_mobiles: dict[tuple[str, str], list[str]] = {}  # (advisor, client) -> phones
        self.remarks: dict[tuple[str, str], str] = {}  # (advisor, client) -> 备注
        self.names: dict[str, str] = {}  # client -> their WeChat name

    def contact_routes(self) -> dict[tuple[str, str], Callable[[web.Request, bytes], JSON]]:
        base = "/cgi-bin/externalcontact/"
        return {
            ("POST", base + "add_msg_template"): self._add_msg_template,
            ("POST", base + "get_groupmsg_task"): self._get_groupmsg_task,
            ("POST", base + "get_groupmsg_send_result"): self._get_groupmsg_send_result,
            ("POST", base + "send_welcome_msg"): self._send_welcome_msg,
            ("POST", base + "cancel_groupmsg_send"): self._cancel_groupmsg_send,
            ("GET", base + "get"): self._get_contact,
        }

    # ---- controls for tests ---------------------------------------------------------------------

    def add_contact(self, userid: str, external_userid: str) -> None:
        """The advisor and the client are friends (most recent last)."""
        self.members.add(userid)
        advisors = self.friends.setdefault(external_userid, [])
        if userid in advisors:
            advisors.remove(userid)
        advisors.append(userid)

    def remove_contact(self, userid: str, external_userid: str) -> None:
        """The advisor deletes the client: no longer friends."""
        advisors = self.friends.get(external_userid, [])
        if userid in advisors:
            advisors.remove(userid)

    def contact_added(self, userid: str, external_userid: str, state: str = "") -> str | None:
        """A client adds the advisor (add_external_contact); returns its welcome_code (20 s,
        once), or None when the advisor has a welcome configured in the admin console.
        `state` is what the 联系我 link carried; the event (see WecomServer) reports it."""
        self.add_contact(userid, external_userid)
        if userid in self.native_welcome_for:
            return None
        code = secrets.token_urlsafe(32)
        expires = self.clock() + WELCOME_TTL
        self._welcome_codes[code] = _WelcomeCode(userid, external_userid, expires)
        return code

    def confirm_task(self, msgid: str, userid: str | None = None) -> None:
        """The advisor (every advisor of the task, without `userid`) confirms: it is sent."""
        [task] = [t for t in self.group_tasks if t.msgid == msgid]
        for advisor in task.tasks.values():
            if advisor.status == 0 and userid in (None, advisor.userid):
                self._send_group(task, advisor)

    def confirm_all(self, userid: str) -> None:
        """The advisor confirms every group message waiting for them."""
        for task in self.group_tasks:
            if userid in task.tasks and task.tasks[userid].status == 0:
                self._send_group(task, task.tasks[userid])

    def client_received_group_message(self, external_userid: str, content: str = "") -> None:
        """Another group message from the corp reached the client (an advisor's own, say)."""
        self.group_inbox.setdefault(external_userid, []).append((self.clock(), content))

    def received(self, external_userid: str) -> list[str]:
        return [content for _, content in self.group_inbox.get(external_userid, [])]

    # ---- the per-client limit -------------------------------------------------------------------

    def _period(self, when: float) -> tuple[Any, int]:
        """(the Beijing period `when` falls in, how many group messages it allows)."""
        day = dt.datetime.fromtimestamp(when, BEIJING).date()
        if self.receive_rule == "day":
            return day, 1
        if self.receive_rule == "week":
            return day.isocalendar()[:2], 7
        return (day.year, day.month), calendar.monthrange(day.year, day.month)[1]

    def _may_receive(self, external_userid: str, now: float) -> bool:
        period, allowed = self._period(now)
        inbox = self.group_inbox.get(external_userid, [])
        return sum(self._period(at)[0] == period for at, _ in inbox) < allowed

    def _send_group(self, task: GroupTask, advisor: AdvisorTask) -> None:
        if task.cancelled:  # stopped by the corp: confirming it sends nothing
            return
        now = self.clock()
        advisor.status, advisor.send_time = 2, int(now)
        for recipient in advisor.recipients.values():
            client = recipient.external_userid
            if advisor.userid not in self.friends.get(client, []):
                recipient.status = 2
            elif not self._may_receive(client, now):
                recipient.status = 3
            else:
                recipient.status, recipient.send_time = 1, int(now)
                self.group_inbox.setdefault(client, []).append((now, task.content))

    # ---- group messages -------------------------------------------------------------------------

    def _add_msg_template(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        if data.get("chat_type", "single") != "single":
            raise WecomError(40058)  # the fake does not do group chats
        clients, sender = data.get("external_userid", []), data.get("sender")
        if not isinstance(clients, list) or not all(isinstance(c, str) and c for c in clients):
            raise WecomError(40058)
        if len(clients) > MAX_RECIPIENTS:
            raise WecomError(40058)
        if sender is not None and (not isinstance(sender, str) or sender not in self.members):
            raise WecomError(40003)
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            raise WecomError(44004)
        if len(content.encode()) > MAX_TEXT_BYTES:
            raise WecomError(40058)
        tasks: dict[str, AdvisorTask] = {}
        fail_list = []
        for client in dict.fromkeys(clients):
            advisors = self.friends.get(client, [])
            if sender is not None:
                userid = sender if sender in advisors else None
            else:
                userid = advisors[-1] if advisors else None
            if userid is None:
                fail_list.append(client)
                continue
            task = tasks.setdefault(userid, AdvisorTask(userid, {}))
            task.recipients[client] = GroupRecipient(client)
        if not tasks:
            raise WecomError(41048)
        msgid = f"msg{next(self._msgids):06d}{secrets.token_urlsafe(12)}"
        self.group_tasks.append(
            GroupTask(msgid, self.clock(), content, sender, fail_list, tasks, data)
        )
        return {"errcode": 0, "errmsg": "ok", "fail_list": fail_list, "msgid": msgid}

    def set_remark_mobiles(self, userid: str, external_userid: str, phones: list[str]) -> None:
        """The advisor noted the client's phone numbers on the contact (备注手机号)."""
        self.remark_mobiles[(userid, external_userid)] = list(phones)

    def set_remark(self, userid: str, external_userid: str, remark: str) -> None:
        """What the advisor calls the client (备注)."""
        self.remarks[(userid, external_userid)] = remark

    def _get_contact(self, request: web.Request, body: bytes) -> JSON:
        """获取客户详情 (externalcontact/get?external_userid=): the contact (name: their
        WeChat name) and, per advisor who has them, the remark and the phone numbers the
        advisor noted (remark, remark_mobiles)."""
        external = request.query.get("external_userid", "")
        advisors = self.friends.get(external)
        if not advisors:
            raise WecomError(84061)  # 不存在外部联系人的关系
        follow = [
            {
                "userid": u,
                "remark": self.remarks.get((u, external), ""),
                "remark_mobiles": self.remark_mobiles.get((u, external), []),
            }
            for u in advisors
        ]
        person = {"external_userid": external, "type": 1, "name": self.names.get(external, "")}
        return {
            "errcode": 0, "errmsg": "ok",
            "external_contact": person,
            "follow_user": follow,
        }  # fmt: skip

    def _cancel_groupmsg_send(self, request: web.Request, body: bytes) -> JSON:
        """停止企业群发 (externalcontact/cancel_groupmsg_send): advisors who have not sent it
        yet no longer can."""
        task = self._task(required(self.parse(body), "msgid", missing=41046))
        task.cancelled = True
        return {"errcode": 0, "errmsg": "ok"}

    def _task(self, msgid: Any) -> GroupTask:
        for task in self.group_tasks:
            if task.msgid == msgid:
                return task
        raise WecomError(41047)

    def _results_of(self, data: JSON) -> GroupTask:
        msgid = required(data, "msgid", missing=41046)
        task = self._task(msgid)
        if self.clock() < task.created + self.dispatch_seconds:
            raise WecomError(41063)
        return task

    def _page(self, items: list[JSON], data: JSON, key: str) -> JSON:
        limit, cursor = data.get("limit", PAGE_DEFAULT), data.get("cursor") or None
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            limit = PAGE_DEFAULT
        if limit > PAGE_MAX:
            limit = PAGE_DEFAULT  # 超过最大值时取默认值
        if cursor is not None and (not isinstance(cursor, str) or cursor not in self._pages):
            raise WecomError(40058)
        start = self._pages[cursor] if cursor else 0
        end = start + limit
        next_cursor = ""
        if end < len(items):
            next_cursor = secrets.token_urlsafe(15)
            self._pages[next_cursor] = end
        answer: JSON = {"errcode": 0, "errmsg": "ok", "next_cursor": next_cursor}
        return answer | {key: items[start:end]}

    def _get_groupmsg_task(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        task = self._results_of(data)
        rows = [_sent_fields({"userid": t.userid, "status": t.status}, t.send_time, t.status == 2)
                for t in task.tasks.values()]  # fmt: skip
        return self._page(rows, data, "task_list")

    def _get_groupmsg_send_result(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        task = self._results_of(data)
        userid = required(data, "userid", missing=41009)
        advisor = task.tasks.get(userid)
        recipients: Iterable[GroupRecipient] = advisor.recipients.values() if advisor else ()
        rows = [
            _sent_fields(
                {"external_userid": r.external_userid, "userid": userid, "status": r.status},
                r.send_time,
                r.status == 1,
            )
            for r in recipients
        ]
        return self._page(rows, data, "send_list")

    # ---- welcome --------------------------------------------------------------------------------

    def _send_welcome_msg(self, request: web.Request, body: bytes) -> JSON:
        data = self.parse(body)
        code = required(data, "welcome_code", missing=41049)
        found, now = self._welcome_codes.get(code), self.clock()
        if found is None or found.expires <= now:
            raise WecomError(41050)
        if found.used:
            raise WecomError(41051)
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            raise WecomError(44004)
        if len(content.encode()) > MAX_TEXT_BYTES:
            raise WecomError(40058)
        found.used = True
        self.welcomes.append(WelcomeSent(now, found.userid, found.external_userid, content, data))
        return {"errcode": 0, "errmsg": "ok"}


def _sent_fields(row: JSON, send_time: int | None, sent: bool) -> JSON:
    """send_time appears only once sent ("发送时间，发送状态为1时返回")."""
    return row | {"send_time": send_time} if sent else row
