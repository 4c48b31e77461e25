"""Staff keep the knowledge base from the chat: guided add and edit, delete, gaps, ratings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.core.compliance import forbidden_in
from bot.core.gaps import group_gaps
from bot.core.i18n import Translator
from bot.core.router import Router
from bot.core.state import StateControl
from bot.core.text import escape
from bot.core.types import Button, Inbound, Outbound
from broadcasts.rhythm import Rhythm
from handlers.faq import learning
from handlers.faq.engine import Decider
from handlers.faq.index_cache import FaqService
from handlers.faq.judge import Judge
from handlers.faq.kb_file import (
    ID_RE,
    MAX_ANSWER,
    MAX_CATEGORY,
    MAX_PHRASING,
    KbFileError,
    as_mapping,
    check,
    parse_enabled,
)
from storage.records import FaqEntry
from storage.tx import Tx

router = Router("faq-staff")
STAFF = ("staff",)
ADD_STEPS = ("question", "variants", "answer", "category")
EDITABLE = ("question", "variants", "answer", "category", "enabled")
GAP_DAYS = 7
# What one typed line of each field may hold: the file's limits, told rather than cut.
LIMITS = {"question": MAX_PHRASING, "variants": MAX_PHRASING, "answer": MAX_ANSWER,
          "category": MAX_CATEGORY}  # fmt: skip


def _too_long(field: str, text: str) -> int | None:
    """The limit `text` breaks for `field` (each variant on its own line), or None."""
    limit = LIMITS.get(field)
    parts = text.splitlines() if field == "variants" else [text]
    return limit if limit is not None and any(len(p.strip()) > limit for p in parts) else None


def _checked(entry: FaqEntry, t: Translator) -> FaqEntry | Outbound:
    """The entry as a file import would take it, or the reason it would not."""
    try:
        return check(as_mapping(entry))
    except KbFileError as exc:
        problems = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        return Outbound(t("faqstaff.invalid", problems=problems), buttons=_cancel(t))


@router.command("faq", roles=STAFF)
async def faq_command(
    event: Inbound,
    tx: Tx,
    t: Translator,
    fsm: StateControl,
    faq: FaqService,
    args: list[str],
    rhythm: Rhythm,
) -> Outbound:
    action = args[0].lower() if args else ""
    if action == "test" and len(args) > 1:
        return Outbound(await _test(tx, t, faq, event.text.split(None, 2)[2].strip()))
    if action == "add":
        await fsm.set("faq.add.question", entry={})
        return Outbound(t("faqstaff.ask_question"), buttons=_cancel(t))
    if action in ("edit", "del", "show") and len(args) == 2:
        entry = await tx.faq.get(args[1])
        if entry is None:
            return Outbound(t("faqstaff.unknown_id", id=args[1][:40]))
        if action == "show":
            return Outbound(_describe(entry, t))
        if action == "del":
            return Outbound(
                t("faqstaff.confirm_delete", id=entry.id, question=entry.question),
                buttons=[
                    [
                        Button(t("delete.yes"), f"faqs:del:{entry.id}"),
                        Button(t("common.cancel"), "faqs:cancel"),
                    ]
                ],
            )
        await fsm.set("faq.edit", id=entry.id)
        fields = [[Button(t(f"faqstaff.field_{f}"), f"faqs:field:{f}")] for f in EDITABLE]
        return Outbound(
            _describe(entry, t) + "\n\n" + t("faqstaff.choose_field"),
            buttons=[*fields, *_cancel(t)],
        )
    if action == "gaps":
        return Outbound(await _gaps(tx, t))
    if action == "teach":
        return await _teach_ask(tx, t, args[1:])
    if action == "learn":
        return await learning.learn(event, tx, t, args[1:])
    if action == "notours":
        return await learning.not_ours(event, tx, t, args[1:])
    if action == "stats":
        return Outbound(await _stats(tx, t, rhythm.tz, (await faq.index(tx)).judge))
    if action == "syn":
        return Outbound(await _synonyms(event, tx, t, args[1:]))
    return Outbound(t("faqstaff.usage"))


def _cancel(t: Translator) -> list[list[Button]]:
    return [[Button(t("common.cancel"), "faqs:cancel")]]


def _describe(entry: FaqEntry, t: Translator) -> str:
    return t(
        "faqstaff.entry",
        id=entry.id,
        language=entry.language,
        category=entry.category,
        question=entry.question,
        variants=" | ".join(entry.variants) or "-",
        answer=entry.answer,
        enabled=t("faqstaff.on") if entry.enabled else t("faqstaff.off"),
        by=entry.updated_by or "-",
        at=entry.updated_at.strftime("%Y-%m-%d %H:%M UTC") if entry.updated_at else "-",
    )


@router.state(*(f"faq.add.{s}" for s in ADD_STEPS), roles=STAFF)
async def add_step(event: Inbound, tx: Tx, t: Translator, fsm: StateControl) -> Outbound:
    step = (fsm.name or "").rsplit(".", 1)[1]
    data = dict(fsm.current.data["entry"]) if fsm.current else {}
    text = event.text.strip()
    if not text:
        return Outbound(t(f"faqstaff.ask_{step}"), buttons=_cancel(t))
    if found := forbidden_in(text):  # questions and variants are shown to clients too
        return Outbound(t("faqstaff.forbidden", words=", ".join(found)), buttons=_cancel(t))
    if limit := _too_long(step, text):
        return Outbound(t("faqstaff.too_long", limit=limit), buttons=_cancel(t))
    data[step] = (
        []
        if step == "variants" and text in ("-", "无", "none")
        else ([v.strip() for v in text.splitlines() if v.strip()] if step == "variants" else text)
    )
    following = ADD_STEPS.index(step) + 1
    if following < len(ADD_STEPS):
        await fsm.set(f"faq.add.{ADD_STEPS[following]}", entry=data)
        return Outbound(t(f"faqstaff.ask_{ADD_STEPS[following]}"), buttons=_cancel(t))
    entry = _checked(
        FaqEntry(
            id=await _new_id(tx, t.lang),
            language=t.lang,
            category=data["category"],
            question=data["question"],
            answer=data["answer"],
            variants=tuple(data["variants"]),
        ),
        t,
    )
    if isinstance(entry, Outbound):
        return entry
    await tx.faq.save(entry, by=event.sender)
    await tx.audit.log(event.sender, "faq.add", id=entry.id)
    await fsm.clear()
    return Outbound(t("faqstaff.saved", id=entry.id) + "\n\n" + _describe(entry, t))


async def _new_id(tx: Tx, lang: str) -> str:
    existing = {e.id for e in await tx.faq.entries()}
    n = 1
    while f"custom-{n}{'-en' if lang == 'en' else ''}" in existing:
        n += 1
    entry_id = f"custom-{n}{'-en' if lang == 'en' else ''}"
    assert ID_RE.match(entry_id)
    return entry_id


@router.callback("faqs", roles=STAFF)
async def staff_button(
    event: Inbound, tx: Tx, t: Translator, fsm: StateControl, data: str
) -> Outbound:
    action, _, rest = data.partition(":")
    if action == "cancel":
        await fsm.clear()
        return Outbound(t("request.cancelled"), replace=True)
    if action == "del" and (entry := await tx.faq.get(rest)):
        await tx.faq.delete(entry.id)
        await tx.audit.log(
            event.sender, "faq.delete", id=entry.id, question=entry.question, answer=entry.answer
        )
        return Outbound(t("faqstaff.deleted", id=entry.id), replace=True)
    if action == "teach":
        return await _teach(event, tx, t, rest)
    if action == "learn":
        return await learning.button(event, tx, t, rest)
    if action == "field" and rest in EDITABLE and fsm.name == "faq.edit" and fsm.current:
        await fsm.set("faq.edit.value", id=fsm.current.data["id"], field=rest)
        return Outbound(t(f"faqstaff.new_{rest}"), buttons=_cancel(t))
    return Outbound(t("errors.stale_button"))


@router.state("faq.edit", "faq.edit.value", roles=STAFF)
async def edit_value(
    event: Inbound, tx: Tx, t: Translator, fsm: StateControl, state_data: dict[str, str]
) -> Outbound:
    entry = await tx.faq.get(state_data.get("id", ""))
    field = state_data.get("field")
    if entry is None:
        await fsm.clear()
        return Outbound(t("faqstaff.unknown_id", id=state_data.get("id", "")))
    if field not in EDITABLE:  # typed before choosing what to change
        fields = [[Button(t(f"faqstaff.field_{f}"), f"faqs:field:{f}")] for f in EDITABLE]
        return Outbound(t("faqstaff.choose_field"), buttons=[*fields, *_cancel(t)])
    text = event.text.strip()
    if not text:
        return Outbound(t(f"faqstaff.new_{field}"), buttons=_cancel(t))
    if field != "enabled" and (found := forbidden_in(text)):
        return Outbound(t("faqstaff.forbidden", words=", ".join(found)), buttons=_cancel(t))
    if limit := _too_long(field, text):
        return Outbound(t("faqstaff.too_long", limit=limit), buttons=_cancel(t))
    enabled = parse_enabled(text) if field == "enabled" else None
    if field == "enabled" and enabled is None:
        return Outbound(t("faqstaff.new_enabled"), buttons=_cancel(t))
    if field == "variants":
        edited = replace(entry, variants=tuple(v.strip() for v in text.splitlines() if v.strip()))
    elif field == "enabled":
        edited = replace(entry, enabled=bool(enabled))
    else:
        edited = replace(entry, **{field: text})
    checked = _checked(edited, t)
    if isinstance(checked, Outbound):
        return checked
    entry = checked
    await tx.faq.save(entry, by=event.sender)
    await tx.audit.log(event.sender, "faq.edit", id=entry.id, field=field)
    await fsm.clear()
    return Outbound(t("faqstaff.saved", id=entry.id) + "\n\n" + _describe(entry, t))


async def _test(tx: Tx, t: Translator, faq: FaqService, question: str) -> str:
    """What a client asking `question` would get — an answer, a choice, or a hand-off — told
    without answering it, and without recording it as a question nobody answered."""
    match = await faq.match(tx, question)
    if not any(ch.isalpha() for ch in match.normalized):
        return t("faqstaff.test_no_words")
    lines = []
    if match.outcome == "answer" and match.best is not None:
        entry = match.best.entry
        score = f"{match.best.score:.2f}"
        lines.append(t("faqstaff.test_answer", id=entry.id, question=entry.question, score=score))
        lines.append(escape(entry.answer.replace("{firm}", t.firm).strip()))
    elif match.outcome == "suggest":
        lines.append(t("faqstaff.test_suggest"))
    else:
        lines.append(t("faqstaff.test_none"))
    for c in match.candidates if match.outcome != "answer" else ():
        lines.append(
            t(
                "faqstaff.test_candidate",
                id=c.entry.id,
                question=c.entry.question,
                score=f"{c.score:.2f}",
            )
        )
    return "\n".join(lines)


async def _gaps(tx: Tx, t: Translator, limit: int = 10) -> str:
    rows = await tx.faq.unanswered_since(tx.now() - timedelta(days=GAP_DAYS))
    if not rows:
        return t("faqstaff.no_gaps", days=GAP_DAYS)
    lines = [t("faqstaff.gaps_title", days=GAP_DAYS, count=len(rows))]
    groups = group_gaps(rows)
    for group in groups[:limit]:
        handed = sum(r.handed_off for r in group)
        lines.append(
            t(
                "faqstaff.gap_line",
                count=len(group),
                text=group[-1].text[:80],
                handed=handed,
                ref=group[-1].id,
            )
        )
    lines.append(t("faqstaff.gap_teach_hint"))
    return "\n".join(lines)


async def _teach_ask(tx: Tx, t: Translator, args: list[str]) -> Outbound:
    """/faq teach GAP ENTRY: a question the FAQ could not answer, to become one of the entry's
    phrasings once staff confirm (one tap, or "1" where there are no buttons)."""
    gap_ref = args[0].lstrip("#") if args else ""
    if len(args) != 2 or not (gap_ref.isdigit() and len(gap_ref) < 10):
        return Outbound(t("faqstaff.teach_usage"))
    gap = await tx.faq.unanswered(int(gap_ref))
    entry = await tx.faq.get(args[1])
    if gap is None:
        return Outbound(t("faqstaff.teach_no_gap", ref=gap_ref))
    if entry is None:
        return Outbound(t("faqstaff.unknown_id", id=args[1][:40]))
    data = f"faqs:teach:{gap.id}:{entry.id}"
    buttons = [[Button(t("faqstaff.teach_yes"), data), Button(t("common.cancel"), "faqs:cancel")]]
    said = t("faqstaff.teach_confirm", text=gap.text[:200], id=entry.id, question=entry.question)
    return Outbound(said, buttons=buttons)


async def _teach(event: Inbound, tx: Tx, t: Translator, rest: str) -> Outbound:
    gap_ref, _, entry_id = rest.partition(":")
    gap = await tx.faq.unanswered(int(gap_ref)) if gap_ref.isdigit() else None
    entry = await tx.faq.get(entry_id) if entry_id else None
    if gap is None or entry is None:
        return Outbound(t("errors.stale_button"))
    phrasing = learning.phrasing_of(gap.text)
    refused = await learning.add_phrasing(event, tx, t, entry, phrasing)
    if refused is not None:
        return refused
    count = await tx.faq.taught(gap.normalized, entry.id, by=event.sender)
    await tx.audit.log(event.sender, "faq.teach", id=entry.id, gap=gap.id, text=phrasing)
    return Outbound(t("faqstaff.taught", text=phrasing, id=entry.id, n=count), replace=True)


async def _stats(tx: Tx, t: Translator, timezone: ZoneInfo, judge: Decider | None) -> str:
    counts = await tx.faq.feedback_counts()
    lines = await learning.stats(tx, t, timezone, judge if isinstance(judge, Judge) else None)
    if not counts:
        return "\n".join([*lines, t("faqstaff.no_stats")])
    ranked = sorted(counts.items(), key=lambda kv: (kv[1][1], kv[1][0]), reverse=True)
    lines.append(t("faqstaff.stats_title"))
    lines += [t("faqstaff.stats_line", id=k, yes=y, no=n) for k, (y, n) in ranked[:30]]
    return "\n".join(lines)


async def _synonyms(event: Inbound, tx: Tx, t: Translator, args: list[str]) -> str:
    action = args[0].lower() if args else "list"
    if action == "add" and len(args) == 3 and len(args[1]) < 2:
        return t("faqstaff.syn_too_short", term=args[1])
    if action == "add" and len(args) == 3:
        await tx.faq.set_synonym(args[1][:100], args[2][:100], by=event.sender)
        await tx.audit.log(event.sender, "faq.synonym", term=args[1], canonical=args[2])
        return t("faqstaff.syn_saved", term=args[1], word=args[2])
    if action == "del" and len(args) == 2:
        gone = await tx.faq.delete_synonym(args[1])
        return t("faqstaff.syn_deleted" if gone else "faqstaff.syn_unknown", term=args[1])
    if action == "list":
        table = await tx.faq.synonyms()
        by_word: dict[str, list[str]] = {}
        for term, word in table.items():
            by_word.setdefault(word, []).append(term)
        return "\n".join(
            [t("faqstaff.syn_title")]
            + [
                t("faqstaff.syn_line", word=w, terms="、".join(ts))
                for w, ts in sorted(by_word.items())
            ]
        )
    return t("faqstaff.usage")
