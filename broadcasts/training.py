"""Non-farm day training (非农培训): invitations some days before each US payroll release,
answers with seats and a waiting list, and a reminder to those with a seat on the day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from bot.core.i18n import LANGUAGES, Translator
from bot.core.types import Outbound
from broadcasts import lifecycle, nfp
from broadcasts.compose import final_texts
from broadcasts.lifecycle import BroadcastError
from storage.tx import Tx

ANSWERS = ("attend", "maybe", "no")


@dataclass(frozen=True, slots=True)
class TrainingPolicy:
    invite_days: int = 3
    seats: int = 30
    place: str = "公司培训室"
    time: str = "19:30"


def buttons(t: Translator, day: dt.date) -> list[list[dict[str, str]]]:
    return [[{"label": t(f"training.{a}"), "data": f"tr:{day.isoformat()}:{a}"} for a in ANSWERS]]


async def tick(
    tx: Tx, t: Translator, policy: TrainingPolicy, today: dt.date, staff: tuple[str, ...]
) -> list[Outbound]:
    """Invite N days before a release day; remind those with a seat on the day itself."""
    outs: list[Outbound] = []
    for release in [*nfp.releases_in(today.year), *nfp.releases_in(today.year + 1)]:
        day = release.date
        if day - dt.timedelta(days=policy.invite_days) == today:
            outs += await _invite(tx, t, policy, day, release.beijing_time, staff)
        if day == today:
            outs += await _remind(tx, t, day)
    return outs


async def _invite(
    tx: Tx,
    t: Translator,
    policy: TrainingPolicy,
    day: dt.date,
    beijing: str,
    staff: tuple[str, ...],
) -> list[Outbound]:
    key = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    if not await tx.rhythm.claim_fire("training.invite", key, "done"):
        return []
    session = await tx.training.ensure(
        day, place=policy.place, time=policy.time, seats=policy.seats
    )
    texts = {
        lang: t.with_lang(lang)(
            "training.invite", day=day.isoformat(), time=session.time, place=session.place,
            release=beijing[11:16], seats=session.seats,
        )
        for lang in LANGUAGES
    }  # fmt: skip
    author = staff[0] if staff else "system"
    try:  # an educational session; still screened like every broadcast, in each language
        for text in texts.values():
            plan = await lifecycle.plan(tx, t, author=author, text=text, topics=["training"])
    except BroadcastError as exc:
        return [Outbound(t("training.refused", why=str(exc)), chat=s) for s in staff]
    # Each client reads the invitation in their own language, like its buttons.
    final = {
        lang: final_texts(text, t, advisory=plan.advisory, markup=True)[lang]
        for lang, text in texts.items()
    }
    created = await lifecycle.create(
        tx,
        replace(plan, final=final),
        author=author,
        send_at=tx.now(),
        buttons={lang: buttons(t.with_lang(lang), day) for lang in LANGUAGES},
    )
    await tx.training.update(day, broadcast_id=created.id)
    return [
        Outbound(t("training.invited", day=day.isoformat(), n=created.recipients), chat=s)
        for s in staff
    ]


async def _remind(tx: Tx, t: Translator, day: dt.date) -> list[Outbound]:
    key = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    session = await tx.training.session(day)
    if session is None or not await tx.rhythm.claim_fire("training.remind", key, "done"):
        return []
    outs = []
    for _name, chat, _answer, status, _at in await tx.training.attendees(day):
        if status == "seat":
            client = await tx.clients.by_address(chat)
            tl = t.with_lang(client.language if client else "zh")
            text = tl("training.today", time=session.time, place=session.place)
            outs.append(Outbound(text, chat=chat))
    return outs
