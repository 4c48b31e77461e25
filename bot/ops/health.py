"""GET /readyz: whether this process should get traffic now.

Ready when the database answers `SELECT 1` (within `TIMEOUT`), its schema is at the code's
newest migration, and no channel is down (`bot.core.health`: a failing poll, webhook
registration, socket or send). The answer is a small JSON object with each check and, for
those that fail, why; 200 when all pass, 503 otherwise. Nothing in it comes from the
database URL or a driver's message (they can name the host, the user or more): a failure is
told by its exception's type alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core.health import Health
from storage.database import Database
from storage.migrate import applied_revision, head_revision

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)

TIMEOUT = 2.0  # seconds the database check may take before it counts as unreachable
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    why: str = ""

    def json(self) -> dict[str, Any]:
        return {"ok": True} if self.ok else {"ok": False, "why": self.why}


@functools.cache
def _head() -> str:
    return head_revision()  # reads the migration scripts: once per process


class Readiness:
    def __init__(self, db: Database, health: Health, *, timeout: float = TIMEOUT) -> None:
        self.db = db
        self.health = health
        self.timeout = timeout

    async def checks(self) -> dict[str, Check]:
        database, migrations = await self._database()
        return {"database": database, "migrations": migrations, "channels": self._channels()}

    async def _database(self) -> tuple[Check, Check]:
        try:
            async with asyncio.timeout(self.timeout):
                applied = await self.db.run_sync(_ping_and_revision)
        except TimeoutError:
            why = f"no answer within {self.timeout:g}s"
            return Check(False, why), Check(False, "unknown: the database did not answer")
        except Exception as exc:  # the type only: a driver's text may carry the URL
            log.warning("readyz: the database is not reachable (%s)", type(exc).__name__)
            why = f"unreachable ({type(exc).__name__})"
            return Check(False, why), Check(False, "unknown: the database is not reachable")
        head = _head()
        if applied != head:
            why = (
                f"at {applied or 'nothing'}, the code needs {head}: run `python -m bot db upgrade`"
            )
            return Check(True), Check(False, why)
        return Check(True), Check(True)

    def _channels(self) -> Check:
        down = [
            f"{h.channel}: {h.error or 'down'}"[:MAX_REASON]
            for h in self.health.channels()
            if h.down
        ]
        return Check(False, "; ".join(down)) if down else Check(True)

    async def handle(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        checks = await self.checks()
        ready = all(c.ok for c in checks.values())
        body = {"ready": ready, **{name: c.json() for name, c in checks.items()}}
        return web.json_response(body, status=200 if ready else 503)


def _ping_and_revision(conn: Any) -> str | None:
    conn.exec_driver_sql("SELECT 1")
    return applied_revision(conn)
