"""WeCom's API for 微信客服: the access token of the app that holds the kf secret (shared in
the database like the official account's), reading messages (`kf/sync_msg`) and sending
them (`kf/send_msg`, `kf/send_msg_on_event` for the welcome and the closing words), and
ending a session a servicer holds (`kf/service_state/trans`)."""

from __future__ import annotations

import hashlib
from typing import Any

from bot.channels.wechat.api import ApiError, NoAnswer, Unreachable, WechatApi
from storage.database import Database

__all__ = ["ApiError", "NoAnswer", "Unreachable", "WecomApi"]


class WecomApi(WechatApi):
    def __init__(
        self, db: Database, *, base: str, corp_id: str, secret: str, kf_id: str, label: str = "kf"
    ) -> None:
        # One token per secret: the stored one is recognised by the corp and the secret's
        # fingerprint, so a changed secret never reuses the old token.
        fingerprint = hashlib.sha256(secret.encode()).hexdigest()[:12]
        super().__init__(
            db, base=base, app_id=f"{corp_id}:{label}:{fingerprint}", secret=secret,
            token_key=f"wecom.token.{label}",
        )  # fmt: skip
        self.corp_id = corp_id
        self.kf_id = kf_id

    def _token_request(self) -> tuple[str, dict[str, str]]:
        return "/cgi-bin/gettoken", {"corpid": self.corp_id, "corpsecret": self._secret}

    async def sync_msg(self, cursor: str | None, token: str | None, limit: int = 1000) -> Any:
        """A page of what clients sent since `cursor` (`token`: the callback's, 10 minutes)."""
        body: dict[str, Any] = {"limit": limit, "open_kfid": self.kf_id, "voice_format": 0}
        if cursor:
            body["cursor"] = cursor
        if token:
            body["token"] = token
        return await self.call("/cgi-bin/kf/sync_msg", body)

    async def send_text(
        self, external_userid: str, text: str, menu: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Text, or a menu message (`menu`: head_content, list, tail_content)."""
        body = {"touser": external_userid, "open_kfid": self.kf_id, **_content(text, menu)}
        return await self.call("/cgi-bin/kf/send_msg", body)

    async def send_on_event(
        self, code: str, text: str, menu: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The welcome (or another event's answer), with the event's one-time code."""
        return await self.call(
            "/cgi-bin/kf/send_msg_on_event", {"code": code, **_content(text, menu)}
        )

    async def end_session(self, external_userid: str) -> str | None:
        """Hand a session a servicer holds back (service_state 4, ended): the next message
        of the client's starts one with the bot. Returns the code for the closing words."""
        answer = await self.call(
            "/cgi-bin/kf/service_state/trans",
            {"open_kfid": self.kf_id, "external_userid": external_userid, "service_state": 4},
        )
        code = answer.get("msg_code")
        return code if isinstance(code, str) and code else None


def _content(text: str, menu: dict[str, Any] | None) -> dict[str, Any]:
    if menu is not None:
        return {"msgtype": "msgmenu", "msgmenu": menu}
    return {"msgtype": "text", "text": {"content": text}}
