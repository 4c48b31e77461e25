"""WeCom 微信客服: the welcome codes of enter_session events, shared by every process. The
process that reads the event is not always the one that sends the greeting, and WeCom's
code (20 seconds) works once: `take` deletes it, so only one sender ever uses it."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.records import aware
from storage.repos.base import Repo
from storage.schema import wecom_welcome_codes as codes


class WecomKfRepo(Repo):
    async def put(self, chat: str, code: str, expires_at: datetime) -> None:
        """The chat's welcome code, good until `expires_at` (a newer one replaces it);
        codes that ran out are cleared on the way."""
        now = self.now().astimezone(UTC)
        await self.conn.execute(codes.delete().where(codes.c.expires_at <= now))
        await self.upsert(
            codes, {"chat": chat}, {"code": code, "expires_at": expires_at.astimezone(UTC)}
        )

    async def take(self, chat: str) -> str | None:
        """The chat's code if it is still good, removed in the same statement: of two
        senders asking at once, one gets it."""
        row = (
            await self.conn.execute(
                codes.delete()
                .where(codes.c.chat == chat)
                .returning(codes.c.code, codes.c.expires_at)
            )
        ).first()
        if row is None:
            return None
        expires = aware(row.expires_at)
        assert expires is not None
        return str(row.code) if expires > self.now().astimezone(UTC) else None
