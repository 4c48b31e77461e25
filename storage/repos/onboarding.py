"""The standard service flow per client: which steps are done or skipped, by whom and when;
a step without a row is pending. Due times are the firm's (settings), counted from the day
the account was opened, so they are worked out by the caller, not stored."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from storage.records import ONBOARDING_STEPS, StepRecord, aware
from storage.repos.base import Repo
from storage.repos.message_rows import utc
from storage.repos.routes import best_address
from storage.schema import Ts, clients, onboarding_steps

STATES = ("done", "skipped")
OPENED = ONBOARDING_STEPS[0]


@dataclass(frozen=True, slots=True)
class Flow:
    """One client's steps as recorded."""

    client_id: int
    steps: dict[str, StepRecord]
    name: str | None = None  # the client's, where the query had it (the board)

    @property
    def opened_at(self) -> datetime | None:
        opened = self.steps.get(OPENED)
        return opened.at if opened else None

    def next_step(self) -> str | None:
        return next((s for s in ONBOARDING_STEPS if s not in self.steps), None)

    def due_at(self, step: str, due: dict[str, int]) -> datetime | None:
        """When `step` is due: `due[step]` days after the account was opened."""
        opened = self.opened_at
        if opened is None or step not in due:
            return None
        return opened + timedelta(days=due[step])

    def overdue(self, due: dict[str, int], now: datetime) -> list[str]:
        """Pending steps whose due time has passed."""
        return [
            s
            for s in ONBOARDING_STEPS
            if s not in self.steps and (at := self.due_at(s, due)) is not None and at < now
        ]


def _record(row: sa.Row[tuple[object, ...]]) -> StepRecord:
    return StepRecord(row.step, row.state, row.by, aware(row.at), row.reason)  # type: ignore[arg-type]


class OnboardingRepo(Repo):
    async def mark(
        self,
        client_id: int,
        step: str,
        state: str,
        by: str,
        *,
        reason: str | None = None,
        at: datetime | None = None,
        overwrite: bool = True,
    ) -> bool:
        """Record a step done or skipped; True when it changed. `overwrite=False` keeps a
        step already recorded (what the bot notices never undoes what staff said)."""
        if step not in ONBOARDING_STEPS or state not in STATES:
            raise ValueError(f"unknown step or state: {step!r} {state!r}")
        values = {"state": state, "by": by, "reason": reason, "at": utc(at or self.now())}
        key = {"client_id": client_id, "step": step}
        if await self.insert_new(onboarding_steps.insert().values(**key, **values)):
            return True
        if not overwrite:
            return False
        result = await self.conn.execute(
            onboarding_steps.update()
            .where(onboarding_steps.c.client_id == client_id, onboarding_steps.c.step == step)
            .values(**values)
        )
        return bool(result.rowcount)

    async def reopen(self, client_id: int, step: str) -> bool:
        """The step is pending again (marked by mistake)."""
        result = await self.conn.execute(
            onboarding_steps.delete().where(
                onboarding_steps.c.client_id == client_id, onboarding_steps.c.step == step
            )
        )
        return bool(result.rowcount)

    async def of(self, client_id: int) -> Flow:
        query = sa.select(onboarding_steps).where(onboarding_steps.c.client_id == client_id)
        return Flow(client_id, {r.step: _record(r) for r in await self.conn.execute(query)})

    async def board(self, due: dict[str, int], now: datetime) -> list[tuple[Flow, list[str]]]:
        """Clients in the flow with their overdue steps: those with any first, then by when
        their next step is due."""
        rows = []
        for flow in await self.started():
            late = flow.overdue(due, now)
            step = flow.next_step()
            at = (flow.due_at(step, due) if step else None) or now
            rows.append((not late, at, flow, late))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [(flow, late) for _, _, flow, late in rows]

    async def started(self) -> list[Flow]:
        """Every client on file whose account was opened and whose flow is not complete."""
        open_ = sa.select(onboarding_steps.c.client_id).where(onboarding_steps.c.step == OPENED)
        counted = (
            sa.select(onboarding_steps.c.client_id)
            .group_by(onboarding_steps.c.client_id)
            .having(sa.func.count() < len(ONBOARDING_STEPS))
        )
        query = (
            sa.select(onboarding_steps, clients.c.display_name)
            .join(clients, clients.c.id == onboarding_steps.c.client_id)
            .where(
                clients.c.erased_at.is_(None),
                onboarding_steps.c.client_id.in_(open_),
                onboarding_steps.c.client_id.in_(counted),
            )
        )
        return self._flows(await self.conn.execute(query))

    async def opened_between(self, start: datetime, end: datetime) -> list[Flow]:
        """The flows of clients whose account was opened in [start, end)."""
        opened = sa.select(onboarding_steps.c.client_id).where(
            onboarding_steps.c.step == OPENED,
            onboarding_steps.c.at >= utc(start),
            onboarding_steps.c.at < utc(end),
        )
        query = sa.select(onboarding_steps).where(onboarding_steps.c.client_id.in_(opened))
        return self._flows(await self.conn.execute(query))

    async def address(self, client_id: int, sms: str | None = None) -> str | None:
        """Where a message to the client goes now (`routes.best_address`; `sms` as there)."""
        query = sa.select(best_address(self.now(), sms=sms)).where(clients.c.id == client_id)
        return (await self.conn.execute(query)).scalar()

    async def start_at(self, client_ids: Sequence[int], stage: str, by: str) -> None:
        """Clients from a list enter at `stage`: every step before it is done (by `by`)."""
        if stage not in ONBOARDING_STEPS:
            raise ValueError(f"unknown step {stage!r}")
        now = utc(self.now())
        for step in ONBOARDING_STEPS[: ONBOARDING_STEPS.index(stage)]:
            known = sa.select(onboarding_steps.c.client_id).where(onboarding_steps.c.step == step)
            fresh = sa.select(
                clients.c.id, sa.literal(step), sa.literal("done"), sa.literal(by),
                sa.literal(now, Ts),
            ).where(clients.c.id.in_(list(client_ids)), clients.c.id.not_in(known))  # fmt: skip
            await self.conn.execute(
                onboarding_steps.insert().from_select(
                    ["client_id", "step", "state", "by", "at"], fresh
                )
            )

    @staticmethod
    def _flows(rows: object) -> list[Flow]:
        flows: dict[int, dict[str, StepRecord]] = {}
        names: dict[int, str | None] = {}
        for r in rows:  # type: ignore[attr-defined]
            flows.setdefault(r.client_id, {})[r.step] = _record(r)
            names[r.client_id] = getattr(r, "display_name", None)
        return [Flow(c, steps, names[c]) for c, steps in sorted(flows.items())]


def flow_figures(flows: list[Flow], due: dict[str, int], now: datetime) -> dict[str, object]:
    """Of the clients whose account was opened in a period: how many reached each step (done
    or skipped), the median days from each step to the next, and how many are overdue at
    each step now."""
    reached = {s: sum(1 for f in flows if s in f.steps) for s in ONBOARDING_STEPS}
    skipped = {
        s: sum(1 for f in flows if (r := f.steps.get(s)) and r.state == "skipped")
        for s in ONBOARDING_STEPS
    }
    median_days: dict[str, float | None] = {}
    for before, step in itertools.pairwise(ONBOARDING_STEPS):
        spans = sorted(
            (f.steps[step].at - f.steps[before].at).total_seconds() / 86400
            for f in flows
            if step in f.steps and before in f.steps
        )
        median_days[step] = round(statistics.median(spans), 1) if spans else None
    late = [f.overdue(due, now) for f in flows]
    overdue = {s: sum(1 for steps in late if s in steps) for s in ONBOARDING_STEPS[1:]}
    return {
        "opened": len(flows), "reached": reached, "skipped": skipped,
        "median_days": median_days, "overdue": overdue,
    }  # fmt: skip
