"""Learning from use, the staff side: phrasings clients confirmed by choosing a suggestion
and saying it solved their question (`/faq learn`), questions that are not the FAQ's
(`/faq notours`), and how direct answers went week by week (`/faq stats`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.i18n import Translator
from bot.core.types import Button, Inbound, Outbound
from handlers.faq import judging
from handlers.faq.judge import Judge
from handlers.faq.kb_file import MAX_PHRASING, KbFileError, as_mapping, check
from storage.records import FaqEntry
from storage.repos.monthly import FAQ_ASKED
from storage.tx import Tx

NOT_OURS = "-"  # the entry a gap is "taught" as when staff say it is not the FAQ's
WEEKS = 8


def phrasing_of(text: str) -> str:
    return " ".join(text.split())[:MAX_PHRASING]


async def add_phrasing(
    event: Inbound, tx: Tx, t: Translator, entry: FaqEntry, text: str
) -> Outbound | None:
    """Make `text` one of the entry's phrasings (checked as an import would); the reason
    when it cannot be."""
    phrasing = phrasing_of(text)
    known = {" ".join(p.split()) for p in (entry.question, *entry.variants)}
    if phrasing in known:
        return None
    try:
        checked = check(as_mapping(replace(entry, variants=(*entry.variants, phrasing))))
    except KbFileError as exc:
        problems = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        return Outbound(t("faqstaff.invalid", problems=problems))
    await tx.faq.save(checked, by=event.sender)
    return None


async def learn(event: Inbound, tx: Tx, t: Translator, args: list[str]) -> Outbound:
    """`/faq learn` lists what waits; `/faq learn N yes|no` settles one (as the buttons do)."""
    if len(args) == 2 and args[0].lstrip("#").isdigit() and args[1].lower() in YES_NO:
        return await decide(event, tx, t, int(args[0].lstrip("#")), YES_NO[args[1].lower()])
    waiting = await tx.faq_learning.pending()
    if not waiting:
        return Outbound(t("faqstaff.learn_none"))
    lines = [t("faqstaff.learn_title")]
    buttons = []
    for lesson in waiting[:10]:
        lines.append(t("faqstaff.learn_line", ref=lesson.id, text=lesson.text[:100],
                       id=lesson.entry_id or "-"))  # fmt: skip
        buttons.append([
            Button(t("faqstaff.learn_yes", ref=lesson.id), f"faqs:learn:{lesson.id}:y"),
            Button(t("faqstaff.learn_no", ref=lesson.id), f"faqs:learn:{lesson.id}:n"),
        ])  # fmt: skip
    lines.append(t("faqstaff.learn_hint"))
    return Outbound("\n".join(lines), buttons=buttons)


YES_NO = {"yes": True, "y": True, "是": True, "采用": True, "no": False, "n": False, "否": False}


async def decide(event: Inbound, tx: Tx, t: Translator, ref: int, yes: bool) -> Outbound:
    lesson = await tx.faq_learning.get(ref)
    if lesson is None or lesson.kind != "variant" or lesson.status != "pending":
        return Outbound(t("faqstaff.learn_unknown", ref=ref))
    entry = await tx.faq.get(lesson.entry_id or "")
    if yes and entry is not None:
        refused = await add_phrasing(event, tx, t, entry, lesson.text)
        if refused is not None:
            return refused
    await tx.faq_learning.decide(lesson.id, confirmed=yes and entry is not None, by=event.sender)
    await tx.audit.log(event.sender, "faq.learn", lesson=lesson.id, id=lesson.entry_id, yes=yes)
    key = "faqstaff.learn_done" if yes and entry is not None else "faqstaff.learn_rejected"
    return Outbound(t(key, text=lesson.text[:100], id=lesson.entry_id or "-"), replace=True)


async def button(event: Inbound, tx: Tx, t: Translator, rest: str) -> Outbound:
    ref, _, answer = rest.partition(":")
    if not ref.isdigit() or answer not in ("y", "n"):
        return Outbound(t("errors.stale_button"))
    return await decide(event, tx, t, int(ref), answer == "y")


async def not_ours(event: Inbound, tx: Tx, t: Translator, args: list[str]) -> Outbound:
    """`/faq notours GAP`: the question is not the FAQ's; the judge learns to leave such
    questions to a person, and it leaves the list of gaps."""
    gap = await tx.faq.unanswered(int(args[0])) if args and args[0].isdigit() else None
    if gap is None:
        return Outbound(t("faqstaff.notours_usage"))
    await tx.faq_learning.add("outside", phrasing_of(gap.text), message_id=gap.message_id,
                              client_id=gap.client_id, by=event.sender)  # fmt: skip
    count = await tx.faq.taught(gap.normalized, NOT_OURS, by=event.sender)
    await tx.audit.log(event.sender, "faq.notours", gap=gap.id)
    return Outbound(t("faqstaff.notours_done", text=gap.text[:100], n=count))


async def stats(tx: Tx, t: Translator, timezone: ZoneInfo, judge: Judge | None) -> list[str]:
    """Direct answers week by week (Mondays, the firm's time), and the judge's training."""
    today = tx.now().astimezone(timezone).date()
    monday = today - timedelta(days=today.weekday())
    starts = [
        datetime.combine(monday - timedelta(weeks=w), time(), timezone)
        for w in range(WEEKS - 1, -1, -1)
    ]
    ends = [*starts[1:], starts[-1] + timedelta(weeks=1)]
    lines = [t("faqstaff.stats_trend_title")]
    for start, end in zip(starts, ends, strict=True):
        replies = await tx.monthly.faq_replies(start, end)
        asked = sum(replies.get(k, 0) for k in FAQ_ASKED)
        if asked:
            answered = replies.get("answer", 0)
            share = f"{answered / asked:.0%}"
            lines.append(t("faqstaff.stats_trend_line", start=start.strftime("%m-%d"),
                           answered=answered, asked=asked, share=share))  # fmt: skip
    if len(lines) == 1:
        lines.append(t("faqstaff.stats_trend_none"))
    lines.append(await _judge_line(tx, t, timezone, judge))
    return lines


async def _judge_line(tx: Tx, t: Translator, timezone: ZoneInfo, judge: Judge | None) -> str:
    """The judge deciding now: trained here (when, on what), or shipped with the base."""
    if judge is None:
        return t("faqstaff.stats_no_judge")
    figures = judge.figures
    shown = {"examples": figures.get("examples", 0), "direct": f"{figures.get('direct', 0):.0%}",
             "wrong": f"{figures.get('wrong', 0):.1%}"}  # fmt: skip
    last = await judging.last_training(tx)
    if not last or Judge.loads(last.get("judge") or "{}") != judge:
        return t("faqstaff.stats_judge_shipped", **shown)
    at = datetime.fromisoformat(last["trained_at"]).astimezone(timezone)
    return t("faqstaff.stats_judge", at=at.strftime("%Y-%m-%d %H:%M"),
             seconds=last.get("seconds", 0), **shown)  # fmt: skip
