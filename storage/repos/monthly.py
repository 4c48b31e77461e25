"""The month's figures for the service manager's feedback report, each one aggregate query."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from storage.repos.base import Repo
from storage.repos.onboarding import OnboardingRepo, flow_figures
from storage.repos.retention import RetentionRepo
from storage.repos.sms import SmsRepo
from storage.schema import (
    broadcasts,
    faq_feedback,
    faq_unanswered,
    return_visits,
    subscription_events,
    tickets,
)
from storage.schema import messages as m

# How the first reply to a question came about (an asked question has exactly one of these).
FAQ_ASKED = ("answer", "suggest", "unknown")


def _hours(values: list[tuple[Any, Any]]) -> float | None:
    spans = [(b - a).total_seconds() / 3600 for a, b in values if a is not None and b is not None]
    return round(sum(spans) / len(spans), 2) if spans else None


class MonthlyRepo(Repo):
    async def faq_replies(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        """The FAQ's replies between `start` and `end` by how they came about (their outbox
        `ref`, handlers.faq.answers): answer, suggest, unknown, chosen, none."""
        how = m.c.payload["ref"].as_string()
        rows = await self.conn.execute(
            sa.select(how.label("how"), sa.func.count().label("n"))
            .where(
                m.c.direction == "out",
                m.c.created_at >= start.astimezone(dt.UTC),
                m.c.created_at < end.astimezone(dt.UTC),
                m.c.broadcast_id.is_(None),
                how.like("faq:%"),
            )
            .group_by(how)
        )
        return {str(r.how).removeprefix("faq:"): int(r.n) for r in rows}

    async def figures(
        self, start: dt.datetime, end: dt.datetime, onboarding_due: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """The month's figures; `onboarding_due`: the service flow's due days (overdue counts
        are as of now)."""
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        c = self.conn
        in_month = sa.and_(tickets.c.created_at >= start, tickets.c.created_at < end)
        complaints = [
            {"category": r.category or "other", "status": r.status, "n": int(r.n)}
            for r in await c.execute(
                sa.select(tickets.c.category, tickets.c.status, sa.func.count().label("n"))
                .where(in_month, tickets.c.kind == "complaint")
                .group_by(tickets.c.category, tickets.c.status)
                .order_by(tickets.c.category, tickets.c.status)
            )
        ]
        times = (
            await c.execute(
                sa.select(
                    tickets.c.created_at, tickets.c.responded_at, tickets.c.resolved_at
                ).where(in_month)
            )
        ).all()
        breaches = await c.execute(
            sa.select(sa.func.count()).where(in_month, tickets.c.breach_alerted.is_(True))
        )
        rated = (
            await c.execute(
                sa.select(sa.func.avg(tickets.c.rating), sa.func.count(tickets.c.rating)).where(
                    in_month
                )
            )
        ).one()
        visits = (
            await c.execute(
                sa.select(
                    sa.func.avg(return_visits.c.score), sa.func.count(return_visits.c.score)
                ).where(return_visits.c.answered_at >= start, return_visits.c.answered_at < end)
            )
        ).one()
        helpful = (
            await c.execute(
                sa.select(
                    sa.func.sum(sa.case((faq_feedback.c.helpful.is_(True), 1), else_=0)),
                    sa.func.count(),
                ).where(faq_feedback.c.at >= start, faq_feedback.c.at < end)
            )
        ).one()
        unanswered_rows = (
            await c.execute(
                sa.select(faq_unanswered.c.normalized, sa.func.count().label("n"))
                .where(
                    faq_unanswered.c.at >= start,
                    faq_unanswered.c.at < end,
                    faq_unanswered.c.locked.is_(False),
                )
                .group_by(faq_unanswered.c.normalized)
                .order_by(sa.func.count().desc())
                .limit(5)
            )
        ).all()
        unanswered = await c.execute(
            sa.select(sa.func.count()).where(
                faq_unanswered.c.at >= start, faq_unanswered.c.at < end
            )
        )
        replies = await self.faq_replies(start, end)
        subs = [
            {"topic": r.topic_key, "action": r.action, "n": int(r.n)}
            for r in await c.execute(
                sa.select(
                    subscription_events.c.topic_key,
                    subscription_events.c.action,
                    sa.func.count().label("n"),
                )
                .where(subscription_events.c.at >= start, subscription_events.c.at < end)
                .group_by(subscription_events.c.topic_key, subscription_events.c.action)
                .order_by(subscription_events.c.topic_key, subscription_events.c.action)
            )
        ]
        sent = (
            sa.select(sa.func.count())
            .where(m.c.broadcast_id == broadcasts.c.id, m.c.part == 0, m.c.status == "sent")
            .scalar_subquery()
        )
        casts = [
            {"id": r.id, "text": r.text[:40], "recipients": r.recipients, "sent": int(r.sent or 0)}
            for r in await c.execute(
                sa.select(
                    broadcasts.c.id, broadcasts.c.text, broadcasts.c.recipients, sent.label("sent")
                )
                .where(broadcasts.c.created_at >= start, broadcasts.c.created_at < end)
                .order_by(broadcasts.c.id)
            )
        ]
        return {
            "complaints": complaints,
            "first_response_hours": _hours([(a, b) for a, b, _ in times]),
            "resolution_hours": _hours([(a, r) for a, _, r in times]),
            "sla_breaches": int(breaches.scalar() or 0),
            "satisfaction": {"mean": _mean(rated[0]), "n": int(rated[1] or 0)},
            "return_visits": {"mean": _mean(visits[0]), "n": int(visits[1] or 0)},
            "faq": {
                "asked": sum(replies.get(k, 0) for k in FAQ_ASKED),
                "answered": replies.get("answer", 0),
                "suggested": replies.get("suggest", 0),
                "chosen": replies.get("chosen", 0),
                "handed_on": replies.get("unknown", 0) + replies.get("none", 0),
                "helpful": int(helpful[0] or 0),
                "rated": int(helpful[1] or 0),
                "unanswered": int(unanswered.scalar() or 0),
                "top_unanswered": [
                    {"question": r.normalized, "n": int(r.n)} for r in unanswered_rows
                ],
            },
            "subscriptions": subs,
            "broadcasts": casts,
            "sms": await SmsRepo(self.conn, self.now, self.state).figures(start, end),
            "onboarding": flow_figures(
                await OnboardingRepo(self.conn, self.now, self.state).opened_between(start, end),
                onboarding_due or {},
                self.now(),
            ),
            # What the retention purges deleted in the month (from their audit entries).
            "retention": await RetentionRepo(self.conn, self.now, self.state).purged(start, end),
        }


def _mean(value: Any) -> float | None:
    return round(float(value), 2) if value is not None else None
