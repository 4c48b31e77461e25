"""Client side of the FAQ: free text in, an answer, a choice of questions, or an honest hand-off.

Seed rule: never guess. A question the knowledge base cannot answer with confidence is
recorded (the call record form) and offered to a person in one tap (the tickets feature takes
the press: `handlers.shared.handoff`).

Every text no other route claimed (or that another declined) comes here: tier FALLBACK.
"""

from __future__ import annotations

from bot.core.commands import COMMAND_PREFIX
from bot.core.i18n import Markup, Translator
from bot.core.router import UNHANDLED, Router
from bot.core.text import clean_input, escape
from bot.core.types import Button, Inbound, Outbound
from handlers.faq.engine import Candidate, Match
from handlers.faq.index_cache import FaqService
from handlers.shared.handoff import TO_PERSON, to_person
from handlers.shared.language import language_of
from handlers.shared.menus import main_menu
from storage.records import Client, FaqEntry
from storage.tx import Tx

router = Router("faq")


def _entry_buttons(entry: FaqEntry) -> list[list[Button]]:
    """URL buttons open the link; command buttons run the command as if typed."""
    rows = []
    for spec in entry.buttons:
        if spec.get("url"):
            rows.append([Button(spec["label"], url=spec["url"])])
        elif spec.get("command"):
            rows.append([Button(spec["label"], f"{COMMAND_PREFIX}{spec['command']}")])
    return rows


async def in_language(tx: Tx, entry: FaqEntry, language: str) -> FaqEntry:
    """The entry's twin in the client's language (`x` <-> `x-en`), when there is one."""
    if entry.language == language:
        return entry
    twin_id = entry.id.removesuffix("-en") if entry.id.endswith("-en") else f"{entry.id}-en"
    twin = await tx.faq.get(twin_id)
    return twin if twin is not None and twin.enabled and twin.language == language else entry


# How each FAQ reply came about, kept on the outbox row (`ref`) for the monthly hit rate:
# asked = answer + suggest + unknown; chosen and none follow a suggestion.
ANSWERED, CHOSEN, SUGGESTED, UNKNOWN, NONE_FIT = (
    "faq:answer", "faq:chosen", "faq:suggest", "faq:unknown", "faq:none",
)  # fmt: skip
CHOSEN_MARK = ":c"


def answer(entry: FaqEntry, t: Translator, message_id: int, how: str = ANSWERED) -> Outbound:
    """The entry's answer, then "did this solve it?" with yes / no. `message_id`: the
    client's question (for a chosen suggestion, ":c" marks the rating as one that may teach
    the FAQ the question's wording)."""
    body = escape(entry.answer.replace("{firm}", t.firm).strip())
    chosen = CHOSEN_MARK if how == CHOSEN else ""
    buttons = [
        *_entry_buttons(entry),
        [
            Button(t("faq.yes"), f"faq:y:{entry.id}:{message_id}{chosen}"),
            Button(t("faq.no"), f"faq:n:{entry.id}:{message_id}{chosen}"),
        ],
    ]
    return Outbound(t("faq.answer", answer=Markup(body)), buttons=buttons, ref=how)


async def _hand_over(
    tx: Tx,
    t: Translator,
    event: Inbound,
    client: Client,
    text: str,
    message_id: int,
    best: Candidate | None,
    normalized: str,
    how: str = UNKNOWN,
) -> Outbound:
    record_id = await tx.faq.record_unanswered(
        message_id=message_id,
        client_id=client.id,
        chat=event.chat,
        text=text[:2000],
        normalized=normalized[:2000],
        best_entry=best.entry.id if best else None,
        best_score=best.score if best else None,
    )
    buttons = [[Button(t("faq.to_human"), to_person(record_id))], *main_menu(t)]
    # The reference is the client's message number, the same kind complaints get.
    return Outbound(t("faq.unknown", ref=message_id), buttons=buttons, ref=how)


def _suggest(match: Match, t: Translator, message_id: int) -> Outbound:
    rows = [
        [Button(c.entry.question[:60], f"faq:a:{c.entry.id}:{message_id}")]
        for c in match.candidates
    ]
    rows.append([Button(t("faq.none_of_these"), f"faq:x:{message_id}")])
    return Outbound(t("faq.did_you_mean"), buttons=rows, ref=SUGGESTED)


def _served(text: str, client: Client) -> bool:
    """Whether "not sure, a person will answer" suits the language of `text`: Mandarin, or
    English from a client who chose English."""
    language = language_of(text)
    return language == "mandarin" or (language == "english" and client.language == "en")


@router.fallback("text")
async def ask(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    faq: FaqService,
    message_id: int,
) -> Outbound:
    text = clean_input(event.text)
    if not text:
        return Outbound(t("errors.empty"), buttons=main_menu(t))
    match = await faq.match(tx, text)
    if not any(ch.isalpha() for ch in match.normalized):  # punctuation, emoji, bare numbers
        return Outbound(t("faq.no_words"), buttons=main_menu(t))
    if match.outcome == "answer" and match.best is not None:
        return answer(await in_language(tx, match.best.entry, client.language), t, message_id)
    if match.outcome == "suggest":
        return _suggest(match, t, message_id)
    if not _served(text, client):
        return UNHANDLED  # not "not sure": the dialect route asks kindly and offers a reader
    return await _hand_over(tx, t, event, client, text, message_id, match.best, match.normalized)


@router.callback("faq")
async def on_button(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    faq: FaqService,
    data: str,
    message_id: int,
) -> Outbound:
    action, _, rest = data.partition(":")
    if f"faq:{action}" == TO_PERSON:
        return UNHANDLED  # "ask a person": the tickets feature opens the consultation
    if action == "a":
        entry_id, _, asked = rest.partition(":")  # asked: the question (older buttons lack it)
        entry = await tx.faq.get(entry_id)
        if entry is not None and entry.enabled:
            asked_id = int(asked) if asked.isdigit() else message_id
            return answer(await in_language(tx, entry, client.language), t, asked_id, CHOSEN)
    if action in ("y", "n"):
        chosen = rest.endswith(CHOSEN_MARK)
        entry_id, _, asked = rest.removesuffix(CHOSEN_MARK).rpartition(":")
        return await _rate(
            event, tx, client, t, entry_id, asked, helpful=action == "y", chosen=chosen
        )
    if action == "x" and rest.isdigit():
        asked = await tx.messages.get(int(rest))
        if asked is not None and asked.chat == event.chat and asked.direction == "in":
            text = asked.text or ""
            index = await faq.index(tx)
            return await _hand_over(
                tx, t, event, client, text, int(rest), None, index.normalize(text), NONE_FIT
            )
    return Outbound(t("errors.stale_button"), buttons=main_menu(t))


async def _rate(
    event: Inbound,
    tx: Tx,
    client: Client,
    t: Translator,
    entry_id: str,
    asked: str,
    *,
    helpful: bool,
    chosen: bool = False,
) -> Outbound:
    message = await tx.messages.get(int(asked)) if asked.isdigit() else None
    entry = await tx.faq.get(entry_id)
    if entry is None or message is None or message.chat != event.chat:
        return Outbound(t("errors.stale_button"), buttons=main_menu(t))
    fresh = await tx.faq.feedback(entry_id, message.id, client_id=client.id, helpful=helpful)
    typed = message.text or ""
    # A pressed button or a typed option number is not the client's question.
    words = message.kind != "callback" and not typed.isdigit() and bool(typed.strip())
    if fresh and words and (chosen or not helpful):
        # Learning from use: a chosen suggestion that solved it proposes the wording as a
        # phrasing (staff confirm, /faq learn); a 👎 teaches the judge not to pair them.
        kind = "variant" if helpful else "negative"
        await tx.faq_learning.add(kind, typed[:500], entry_id=entry.id, message_id=message.id,
                                  client_id=client.id)  # fmt: skip
    if helpful:
        return Outbound(t("faq.thanks" if fresh else "faq.already_rated"))
    if not fresh:
        return Outbound(t("faq.already_rated"))
    question = typed if words else entry.question
    return await _hand_over(
        tx, t, event, client, question or entry.question, message.id, None, entry.question
    )
