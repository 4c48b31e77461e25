"""Outgoing QQ messages through the connected OneBot implementation: one action per send,
its answer matched by echo. No connection: the row waits (retry); no answer: ambiguous."""

from __future__ import annotations

from bot.channels.qq import cq
from bot.channels.qq.hub import Hub
from bot.channels.qq.link import ActionTimeout, LinkClosed
from bot.core.delivery import Limits, OutMessage, SendFailure
from bot.core.text import to_plain
from bot.core.types import KNOWN_CAPABILITIES, Capabilities

RECONNECT_WAIT = 5.0  # seconds a row waits for the implementation to come back
TRANSIENT = frozenset({103, 201})  # "operation failed", "worker busy": worth another try


class QQSender:
    def __init__(self, hub: Hub, channel: str, *, limits: Limits, timeout: float) -> None:
        self.hub = hub
        self.channel = channel  # "qq" (people) or "qqgroup" (groups)
        self.capabilities: Capabilities = KNOWN_CAPABILITIES[channel]
        self.limits = limits
        self.timeout = timeout

    def is_group(self, chat: str) -> bool:
        return self.channel == "qqgroup"

    async def send(self, message: OutMessage) -> str | None:
        link = self.hub.api()
        if link is None:
            raise SendFailure("retry", "QQ is not connected", retry_after=RECONNECT_WAIT)
        target = int(message.chat.split(":", 1)[1])
        text = to_plain(message.text)
        if message.document:  # OneBot v11 has no portable way to send a file
            text += f"\n[{message.document.get('name', '')}]"
        if self.is_group(message.chat):
            action, params = "send_group_msg", {"group_id": target}
        else:
            action, params = "send_private_msg", {"user_id": target}
        params["message"] = cq.text_message(text)
        try:
            answer = await link.call(action, params, self.timeout)
        except LinkClosed as exc:
            raise SendFailure("retry", str(exc), retry_after=RECONNECT_WAIT) from None
        except ActionTimeout as exc:
            raise SendFailure("ambiguous", str(exc)) from None
        status, retcode = answer.get("status"), answer.get("retcode")
        if status in ("ok", "async") and retcode in (0, 1, None):
            data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
            return str(data.get("message_id", "")) or None
        said = str(answer.get("message") or answer.get("wording") or "")[:120]
        detail = f"onebot {action} {status} {retcode}: {said}"
        if retcode in TRANSIENT:
            raise SendFailure("retry", detail)
        raise SendFailure("rejected", detail)
