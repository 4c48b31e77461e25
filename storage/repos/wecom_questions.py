"""A new WeCom contact no client file was found for: the advisor they added is asked who it
is. The question stays open until answered (a client on file, or "a new client"), and each
advisor can have it shown again."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from storage.records import Client, WecomQuestion, aware
from storage.repos.base import Repo
from storage.schema import clients, identities
from storage.schema import wecom_questions as q

CANDIDATES = 5  # options beside "a new client": more would not fit one message


def _question(row: sa.Row) -> WecomQuestion:
    return WecomQuestion(
        row.client_id, row.chat, row.advisor, row.name, aware(row.asked_at),  # type: ignore[arg-type]
        aware(row.answered_at), row.answer,
    )  # fmt: skip


class WecomQuestionRepo(Repo):
    async def ask(self, client_id: int, chat: str, advisor: str, name: str | None) -> bool:
        """Open the question; False when it is open or answered already (WeCom's retry)."""
        return await self.insert_new(
            q.insert().values(
                client_id=client_id,
                chat=chat,
                advisor=advisor,
                name=(name or None) and name[:100],
                asked_at=self.now(),
            )
        )

    async def get(self, client_id: int) -> WecomQuestion | None:
        row = (await self.conn.execute(sa.select(q).where(q.c.client_id == client_id))).first()
        return _question(row) if row else None

    async def open_for(self, advisor: str) -> list[WecomQuestion]:
        """The advisor's unanswered questions, newest first."""
        query = (  # a file merged or erased meanwhile has nothing left to ask
            sa.select(q)
            .join(clients, clients.c.id == q.c.client_id)
            .where(q.c.advisor == advisor, q.c.answered_at.is_(None), clients.c.erased_at.is_(None))
            .order_by(q.c.asked_at.desc(), q.c.client_id.desc())
        )
        return [_question(r) for r in await self.conn.execute(query)]

    async def answer(self, client_id: int, answer: str) -> bool:
        """Close the question once: False when someone answered it first."""
        result = await self.conn.execute(
            q.update()
            .where(q.c.client_id == client_id, q.c.answered_at.is_(None))
            .values(answered_at=self.now(), answer=answer[:40])
        )
        return bool(result.rowcount)

    async def candidates(
        self, advisor: str, names: Sequence[str], exclude: int
    ) -> list[tuple[Client, str | None]]:
        """Clients on file the contact may be: named as WeCom names them (the client's own
        name or the advisor's remark), this advisor's or nobody's, with no WeCom address yet.
        Each with their phone."""
        names = [n.strip() for n in names if n and n.strip()]
        if not names:
            return []
        has_wecom = sa.exists().where(
            identities.c.client_id == clients.c.id, identities.c.channel == "wecom"
        )
        query = (
            sa.select(clients)
            .where(
                clients.c.display_name.in_(names),
                clients.c.id != exclude,
                clients.c.erased_at.is_(None),
                sa.or_(clients.c.advisor == advisor, clients.c.advisor.is_(None)),
                ~has_wecom,
            )
            .order_by(clients.c.id)
            .limit(CANDIDATES)
        )
        return [
            (Client(r.id, r.display_name, r.language, aware(r.created_at)), r.phone)  # type: ignore[arg-type]
            for r in await self.conn.execute(query)
        ]

    async def forget(self, client_id: int, addresses: Sequence[str]) -> None:
        """/deleteme: the question names the contact."""
        where = q.c.client_id == client_id
        if addresses:
            where = sa.or_(where, q.c.chat.in_(list(addresses)))
        await self.conn.execute(q.delete().where(where))
