"""Where the staff console keeps its sessions: the database by default, or Redis when
STAFF_CONSOLE_REDIS_URL is set (several processes behind one proxy share either). Only a
hash of each session token is stored; a session belongs to one account, so disabling it or
changing its password ends them all."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from storage.database import Database
from storage.records import StaffSession

PREFIX = "staff-console"


class SessionStore(Protocol):
    async def open(self, token_hash: str, account_id: int, csrf: str, stage: str) -> None: ...

    async def get(self, token_hash: str) -> StaffSession | None: ...

    async def touch(self, token_hash: str) -> None: ...

    async def close(self, token_hash: str) -> None: ...

    async def close_account(self, account_id: int) -> None: ...

    async def aclose(self) -> None: ...


class DatabaseSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, token_hash: str, account_id: int, csrf: str, stage: str) -> None:
        async with self.db.write() as tx:
            await tx.staff.open_session(token_hash, account_id, csrf, stage)

    async def get(self, token_hash: str) -> StaffSession | None:
        async with self.db.read() as tx:
            return await tx.staff.session(token_hash)

    async def touch(self, token_hash: str) -> None:
        async with self.db.write() as tx:
            await tx.staff.touch(token_hash)

    async def close(self, token_hash: str) -> None:
        async with self.db.write() as tx:
            await tx.staff.close_session(token_hash)

    async def close_account(self, account_id: int) -> None:
        async with self.db.write() as tx:
            await tx.staff.close_sessions(account_id)

    async def aclose(self) -> None:
        return None


class RedisSessions:
    """A hash per session (expiring after the absolute lifetime) and a set per account."""

    def __init__(self, url: str, clock: Any, lifetime: timedelta) -> None:
        from redis.asyncio import Redis  # only where Redis is configured

        self.redis = Redis.from_url(url, decode_responses=True)
        self.clock = clock
        self.lifetime = lifetime

    def _key(self, token_hash: str) -> str:
        return f"{PREFIX}:session:{token_hash}"

    def _account(self, account_id: int) -> str:
        return f"{PREFIX}:account:{account_id}"

    async def open(self, token_hash: str, account_id: int, csrf: str, stage: str) -> None:
        now = self.clock().isoformat()
        fields = {"account": account_id, "csrf": csrf, "stage": stage, "created": now, "seen": now}
        seconds = int(self.lifetime.total_seconds()) + 60
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(token_hash), mapping=fields)
            pipe.expire(self._key(token_hash), seconds)
            pipe.sadd(self._account(account_id), token_hash)
            pipe.expire(self._account(account_id), seconds)
            await pipe.execute()

    async def get(self, token_hash: str) -> StaffSession | None:
        found = await self.redis.hgetall(self._key(token_hash))
        if not found:
            return None
        return StaffSession(
            token_hash, int(found["account"]), found["csrf"], found["stage"],
            datetime.fromisoformat(found["created"]), datetime.fromisoformat(found["seen"]),
        )  # fmt: skip

    async def touch(self, token_hash: str) -> None:
        key = self._key(token_hash)
        if await self.redis.exists(key):
            await self.redis.hset(key, "seen", self.clock().isoformat())

    async def close(self, token_hash: str) -> None:
        account = await self.redis.hget(self._key(token_hash), "account")
        await self.redis.delete(self._key(token_hash))
        if account is not None:
            await self.redis.srem(self._account(int(account)), token_hash)

    async def close_account(self, account_id: int) -> None:
        tokens = await self.redis.smembers(self._account(account_id))
        if tokens:
            await self.redis.delete(*(self._key(t) for t in tokens))
        await self.redis.delete(self._account(account_id))

    async def aclose(self) -> None:
        await self.redis.aclose()


def session_store(db: Database, redis_url: str | None, max_hours: int) -> SessionStore:
    if redis_url:
        return RedisSessions(redis_url, db.clock, timedelta(hours=max_hours))
    return DatabaseSessions(db)
