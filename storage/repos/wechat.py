"""WeChat customer-service windows: after a client does something the account may send them
a few messages for a while (WeChat's rule; the numbers are settings)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.schema import wechat_windows as w


class WechatRepo(Repo):
    async def open_window(self, chat: str, span: timedelta, messages: int) -> None:
        """The client acted: the window reaches at least `span` from now with at least
        `messages` left (WeChat does not add quotas up; the larger one holds)."""
        now = self.now().astimezone(UTC)
        row = (
            await self.conn.execute(sa.select(w.c.until, w.c.remaining).where(w.c.chat == chat))
        ).first()
        until, remaining = now + span, messages
        if row is not None and _aware(row.until) > now:
            until, remaining = max(until, _aware(row.until)), max(remaining, row.remaining)
        await self.upsert(w, {"chat": chat}, {"until": until, "remaining": remaining})

    async def use_window(self, chat: str) -> bool:
        """Take one message from the client's open window; False when it is closed or used up
        (then a customer-service message would be refused)."""
        now = self.now().astimezone(UTC)
        result = await self.conn.execute(
            w.update()
            .where(w.c.chat == chat, w.c.until > now, w.c.remaining > 0)
            .values(remaining=w.c.remaining - 1)
        )
        return bool(result.rowcount)

    async def give_back(self, chat: str) -> None:
        """A message taken from the window did not go out after all."""
        await self.conn.execute(
            w.update().where(w.c.chat == chat).values(remaining=w.c.remaining + 1)
        )

    async def close_window(self, chat: str) -> None:
        """WeChat said the window is gone (out of time, used up, or unfollowed)."""
        await self.conn.execute(w.delete().where(w.c.chat == chat))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
