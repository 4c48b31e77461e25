"""Passive replies: while WeChat waits on a client's request, the first answer to that
client goes back in the HTTP response instead of through the customer-service API."""

from __future__ import annotations

import asyncio


class Slot:
    __slots__ = ("future", "openid")

    def __init__(self, openid: str) -> None:
        self.openid = openid
        self.future: asyncio.Future[str] = asyncio.get_running_loop().create_future()


class PassiveReplies:
    def __init__(self) -> None:
        self._open: dict[str, Slot] = {}

    def open(self, openid: str) -> Slot | None:
        """A slot for this request; None when another request of the client holds one."""
        if openid in self._open:
            return None
        slot = self._open[openid] = Slot(openid)
        return slot

    def close(self, slot: Slot) -> None:
        """The request is being answered: later messages take the API."""
        if self._open.get(slot.openid) is slot:
            del self._open[slot.openid]
        if not slot.future.done():
            slot.future.cancel()

    def take(self, openid: str, text: str) -> bool:
        """Hand `text` to a waiting request; False when none is waiting for this client."""
        slot = self._open.pop(openid, None)
        if slot is None or slot.future.done():
            return False
        slot.future.set_result(text)
        return True
