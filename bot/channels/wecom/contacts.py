"""客户联系: a client adds an advisor as a WeCom contact (`add_external_contact`). The client's
WeCom address joins their file — by the binding code the 联系我 link's `state` carries, else
by a phone number the advisor noted on the contact, else a file of its own, about which the
advisor is asked (`handlers/wecom.py` shows the question) — the advisor becomes the client's
advisor where the file has none, the event is archived like anything a client does, and the
welcome goes out with WeCom's one-time code (20 seconds, `externalcontact/send_welcome_msg`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from bot.channels.wecom.api import ApiError, NoAnswer, Unreachable, WecomApi
from bot.channels.wecom.convert import BIND_SCENE, CHANNEL, address
from bot.core.i18n import Translator
from bot.core.inbox import Inbox
from bot.core.phones import mobile
from bot.core.text import to_plain
from bot.core.types import Inbound, normalize_address
from storage.database import Database

log = logging.getLogger(__name__)

LOOKUP_SECONDS = 5.0  # reading the contact: the welcome must still go within its 20 s


@dataclass(frozen=True, slots=True)
class Contact:
    name: str = ""  # their WeChat name
    remark: str = ""  # what the advisor calls them (备注)
    phones: list[str] = field(default_factory=list)  # the advisor noted (备注手机号)


class ContactApi(WecomApi):
    async def send_welcome(self, code: str, text: str) -> dict[str, Any]:
        return await self.call(
            "/cgi-bin/externalcontact/send_welcome_msg",
            {"welcome_code": code, "text": {"content": text}},
        )

    async def contact(self, external_userid: str, userid: str) -> Contact:
        """客户详情: the client's WeChat name, and the remark and phone numbers (备注手机号)
        `userid` noted on them."""
        answer = await self._json(
            "GET", "/cgi-bin/externalcontact/get",
            params={"access_token": await self.token(), "external_userid": external_userid},
        )  # fmt: skip
        person = answer.get("external_contact") or {}
        name = str(person.get("name") or "") if isinstance(person, dict) else ""
        for follow in answer.get("follow_user") or []:
            if isinstance(follow, dict) and follow.get("userid") == userid:
                phones = [str(p) for p in follow.get("remark_mobiles") or []]
                return Contact(name[:100], str(follow.get("remark") or "")[:100], phones)
        return Contact(name[:100])

    async def add_msg_template(self, sender: str, users: list[str], text: str) -> dict[str, Any]:
        """A group message for `sender`'s own clients; sent once they confirm it."""
        body = {
            "chat_type": "single", "external_userid": users, "sender": sender,
            "text": {"content": text}, "allow_select": False,
        }  # fmt: skip
        return await self.call("/cgi-bin/externalcontact/add_msg_template", body)

    async def group_tasks(self, msgid: str) -> list[dict[str, Any]]:
        return await self._pages("get_groupmsg_task", {"msgid": msgid}, "task_list")

    async def group_results(self, msgid: str, userid: str) -> list[dict[str, Any]]:
        body = {"msgid": msgid, "userid": userid}
        return await self._pages("get_groupmsg_send_result", body, "send_list")

    async def cancel_group(self, msgid: str) -> None:
        """停止企业群发: advisors who have not sent it can no longer."""
        await self.call("/cgi-bin/externalcontact/cancel_groupmsg_send", {"msgid": msgid})

    async def _pages(self, name: str, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(100):  # 1,000 a page: 100,000 clients of one task at most
            answer = await self.call(
                f"/cgi-bin/externalcontact/{name}", {**body, "limit": 1000, "cursor": cursor}
            )
            out += [row for row in answer.get(key) or [] if isinstance(row, dict)]
            cursor = str(answer.get("next_cursor") or "")
            if not cursor:
                break
        return out


class ContactEvents:
    def __init__(
        self,
        api: ContactApi,
        db: Database,
        inbox: Inbox,
        t: Translator,
        default_language: str,
    ) -> None:
        self.api = api
        self.db = db
        self.inbox = inbox
        self.t = t
        self.default_language = default_language

    async def added(self, fields: dict[str, str]) -> None:
        """One add_external_contact event (WeCom may send it again: handled once)."""
        userid, external = fields.get("UserID", "")[:64], fields.get("ExternalUserID", "")
        try:
            chat = normalize_address(address(external))
        except ValueError:
            log.warning("wecom: add_external_contact without a usable ExternalUserID")
            return
        key = f"{CHANNEL}:contact:{userid}:{external}:{fields.get('CreateTime', '')[:12]}"
        event = Inbound(CHANNEL, chat, chat, kind="contact", args=[userid], dedupe_key=key)
        message_id = await self.inbox.record(event, fields)
        if message_id is None:
            return  # WeCom's retry: the first one is being handled
        scene = BIND_SCENE.match(fields.get("State", ""))
        who = Contact() if scene else await self._new_contact(chat, external, userid)
        language = self.default_language
        async with self.db.write() as tx:
            if scene:
                joined = await tx.links.redeem(scene.group(1), chat)
                log.info("wecom: %s added %s with a binding code: %s", userid, chat, joined.status)
            elif who.phones and await tx.clients.by_address(chat) is None:
                found = {c for p in who.phones for c in await tx.files.with_phone(p)}
                if len(found) == 1:  # the advisor noted the phone of a client on file
                    await tx.links.attach(found.pop(), chat)
            client, created = await tx.clients.get_or_create(
                chat, language=language, display_name=who.remark or who.name or None,
                username=None,
            )  # fmt: skip
            await tx.wecom_groups.contact_added(chat, userid)
            advisor = await tx.advisors.by_wecom(userid)
            if advisor and not (await tx.files.fields(client.id)).advisor:
                await tx.files.set(client.id, advisor=advisor)
            if advisor and created:
                # A file of its own: the advisor is asked whether it is someone they have
                # (the handler of the event shows the question).
                await tx.wecom_questions.ask(client.id, chat, advisor, who.name)
            language = client.language or language
        self.inbox.submit(message_id, event)
        code = fields.get("WelcomeCode")
        if code:
            await self._welcome(code, language)

    async def _new_contact(self, chat: str, external: str, userid: str) -> Contact:
        """What WeCom knows of a contact new to us (name, the advisor's remark and noted
        mainland mobiles, normalised); nothing for a client we know."""
        async with self.db.read() as tx:
            if await tx.clients.by_address(chat) is not None:
                return Contact()
        try:  # within the welcome code's 20 seconds, whatever the API does
            async with asyncio.timeout(LOOKUP_SECONDS):
                found = await self.api.contact(external, userid)
        except (ApiError, Unreachable, NoAnswer, TimeoutError) as exc:  # a file of its own
            log.info("wecom: the new contact could not be read: %r", exc)
            return Contact()
        phones = [p for p in (mobile(n) for n in found.phones) if p]
        return Contact(found.name, found.remark, phones)

    async def removed(self, fields: dict[str, str]) -> None:
        """The advisor deleted the client, or the client the advisor: no group messages."""
        try:
            chat = normalize_address(address(fields.get("ExternalUserID", "")))
        except ValueError:
            return
        async with self.db.write() as tx:
            await tx.wecom_groups.contact_removed(chat, fields.get("UserID", "")[:64])

    async def _welcome(self, code: str, language: str) -> None:
        t = self.t.with_lang(language)
        text = to_plain(f"{t('start.greeting')}\n\n{t('wecom.contact_welcome')}")
        try:
            await self.api.send_welcome(code, text)
        except (ApiError, Unreachable, NoAnswer) as exc:  # 20 seconds: no second chance
            log.warning("wecom: the welcome did not go out: %s", exc)
