"""Return visits: who is due a survey, who is asked again, and the answers."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from storage.records import aware
from storage.repos.base import Repo
from storage.repos.onboarding import OnboardingRepo
from storage.repos.routes import best_address
from storage.schema import clients, identities, onboarding_steps, return_visits, roles

WINDOW = dt.timedelta(days=7)  # first contacts older than the wave plus this are not surveyed


class ReturnVisitRepo(Repo):
    async def due(
        self, wave: int, now: dt.datetime, *, exclude: tuple[str, ...] = (), limit: int = 500
    ) -> list[tuple[int, str, str]]:
        """(client id, address, language) of clients whose account was opened (the service
        flow's first step), else whose first contact was, `wave` days ago (within a week), who
        hold no role (nor an address in `exclude`: the admins), and who were not asked this
        wave yet; each is recorded as asked once, in one statement."""
        rv = return_visits
        first = best_address(now)
        cutoff = now - dt.timedelta(days=wave)
        opened = (
            sa.select(onboarding_steps.c.at)
            .where(
                onboarding_steps.c.client_id == clients.c.id,
                onboarding_steps.c.step == "opened",
                onboarding_steps.c.state == "done",
            )
            .scalar_subquery()
        )
        since = sa.func.coalesce(opened, clients.c.created_at)
        query = (
            sa.select(clients.c.id, first.label("address"), clients.c.language)
            .where(
                clients.c.erased_at.is_(None),
                since <= cutoff,
                since > cutoff - WINDOW,
                ~sa.exists().where(rv.c.client_id == clients.c.id, rv.c.wave == wave),
                ~sa.exists().where(
                    identities.c.client_id == clients.c.id, identities.c.address.in_(exclude)
                ),
                # Tied to this client's own addresses: one colleague holding a role must
                # not keep every client from being surveyed.
                ~sa.exists().where(
                    identities.c.client_id == clients.c.id,
                    roles.c.address == identities.c.address,
                ),
            )
            .order_by(clients.c.id)
            .limit(limit)
        )
        rows = [(r.id, r.address, r.language) for r in await self.conn.execute(query) if r.address]
        if rows:
            await self.conn.execute(
                rv.insert(),
                [{"client_id": c, "wave": wave, "asks": 1, "asked_at": now} for c, _, _ in rows],
            )
        return rows

    async def ask_again(
        self, wave: int, now: dt.datetime, after: dt.timedelta
    ) -> list[tuple[int, str, str]]:
        """Those asked once without an answer `after` ago: asked a second and last time."""
        rv = return_visits
        first = best_address(now)
        query = (
            sa.select(clients.c.id, first.label("address"), clients.c.language)
            .join(rv, rv.c.client_id == clients.c.id)
            .where(
                rv.c.wave == wave,
                rv.c.asks == 1,
                rv.c.score.is_(None),
                rv.c.asked_at <= now - after,
                clients.c.erased_at.is_(None),
            )
        )
        rows = [(r.id, r.address, r.language) for r in await self.conn.execute(query) if r.address]
        if rows:
            await self.conn.execute(
                rv.update()
                .where(rv.c.wave == wave, rv.c.client_id.in_([c for c, _, _ in rows]))
                .values(asks=2, asked_at=now)
            )
        return rows

    async def answer(self, client_id: int, wave: int, score: int) -> bool:
        """A client's score; False when there was no such visit or it is answered already."""
        rv = return_visits
        result = await self.conn.execute(
            rv.update()
            .where(rv.c.client_id == client_id, rv.c.wave == wave, rv.c.score.is_(None))
            .values(score=score, answered_at=self.now())
        )
        if result.rowcount:  # the return visit step of the service flow (新开户客户回访)
            flow = OnboardingRepo(self.conn, self.now, self.state)
            await flow.mark(client_id, "visit", "done", "bot", overwrite=False)
        return bool(result.rowcount)

    async def comment(self, client_id: int, wave: int, text: str) -> None:
        rv = return_visits
        await self.conn.execute(
            rv.update().where(rv.c.client_id == client_id, rv.c.wave == wave).values(comment=text)
        )

    async def of(
        self, client_id: int
    ) -> list[tuple[int, int | None, str | None, dt.datetime | None]]:
        """(wave, score, comment, answered at) of a client's visits."""
        rv = return_visits
        query = sa.select(rv).where(rv.c.client_id == client_id).order_by(rv.c.wave)
        return [
            (r.wave, r.score, r.comment, aware(r.answered_at))
            for r in await self.conn.execute(query)
        ]
