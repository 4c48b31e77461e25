"""Rating a resolved ticket, whenever the client gets to it: with the buttons of the
resolution notice, with the scores /tickets offers again, or in words on any channel
("评分 4", "4分", "评分 TS-20261128-0007 5", "#7 5"). A ticket is rated once."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.core.i18n import Markup, Translator
from bot.core.router import Router, Tier, fold
from bot.core.state import StateControl
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.ticket_notices import label
from storage.records import Client, Ticket
from storage.tx import Tx

router = Router("tickets.ratings")

OFFER_DAYS = 30  # resolved tickets older than this are no longer offered for a rating
SCORES = range(1, 6)

# On folded text (half-width, lower case). A word, a named ticket and a score, in that order;
# the score may carry a unit ("4分", "4 stars").
_RATING = re.compile(
    r"(?:(?P<word>评分|打分|评价|rate|rating|score)\s*[::]?\s*)?"
    r"(?:(?P<ref>#\s*\d{1,4}|(?:[a-z]{1,4}-?)?\d{8}-\d{1,4})\s*[::,]?\s*)?"
    r"(?:(?P<score>\d{1,2})\s*(?P<unit>分|星|颗星|⭐+|stars?|points?|/\s*5)?)?"
    r"[。.!]*"
)


def _rating_words(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    """A rating in words: a rating word ("评分", alone it asks for the scores again), a named
    ticket with a score, or a score with its unit. A bare number is left to the options."""
    if event.kind != "text" or not event.text or len(event.text) > 40:
        return None
    found = _RATING.fullmatch(fold(event.text).strip())
    if found is None or not any(found.groups()):
        return None
    word, ref, score, unit = found.group("word", "ref", "score", "unit")
    if not (word or (ref and score) or (score and unit)):
        return None
    return {"ticket_ref": ref, "score": int(score) if score else None}


def scores(ticket: Ticket) -> list[list[Button]]:
    return [[Button(f"{n}⭐", f"tkc:rate:{ticket.id}:{n}") for n in SCORES]]


async def rate(
    tx: Tx, t: Translator, fsm: StateControl, actor: str, ticket: Ticket, score: int
) -> Outbound:
    """The rating kept (once: a second one, or two at once, is told it was already given),
    then an optional word of feedback."""
    if not await tx.tickets.rate(ticket.id, score):
        return Outbound(t("ticket.already_rated"))
    await tx.tickets.event(ticket.id, actor, "rated", str(score))
    await fsm.set("ticket.feedback", ticket=ticket.id, started=tx.now().isoformat())
    skip = [[Button(t("ticket.no_comment"), f"tkc:skip:{ticket.id}")]]
    return Outbound(t("ticket.rated", stars="⭐" * score), buttons=skip)


def _done(ticket: Ticket, since: Any) -> bool:
    """Resolved (or closed after it) recently enough to be rated."""
    at = ticket.resolved_at or ticket.closed_at
    return ticket.status in ("resolved", "closed") and at is not None and at >= since


async def waiting(tx: Tx, client: Client) -> tuple[list[Ticket], list[Ticket]]:
    """(unrated, rated) recent resolved tickets of the client, newest first."""
    since = tx.now() - timedelta(days=OFFER_DAYS)
    done = [tk for tk in await tx.tickets.of_client(client.id, limit=20) if _done(tk, since)]
    return [tk for tk in done if tk.rating is None], [tk for tk in done if tk.rating is not None]


def offer(t: Translator, unrated: list[Ticket]) -> tuple[list[str], list[list[Button]]]:
    """Lines and scores asking for the newest unrated ticket's rating (how to rate the
    others in words, when there are more)."""
    if not unrated:
        return [], []
    lines = [t("ticket.rate_offer", label=Markup(label(t, unrated[0])))]
    if len(unrated) > 1:
        lines.append(t("ticket.rate_others", number=unrated[1].number))
    return lines, scores(unrated[0])


def _named(tickets: list[Ticket], ref: str) -> Ticket | None:
    """The client's ticket a typed reference means: its number, with or without its prefix,
    or "#7" for the one numbered …-0007 (the newest, if several days have one)."""
    ref = ref.replace(" ", "").lstrip("#")
    for ticket in tickets:
        number = ticket.number.casefold()
        sequence = number.rsplit("-", 1)[-1]
        if ref.isdigit():
            if sequence.isdigit() and int(sequence) == int(ref):
                return ticket
        elif number == ref or number.endswith(f"-{ref}") or number.replace("-", "") == ref:
            return ticket
    return None


@router.add(Tier.ANYTIME, _rating_words, ())
async def rate_in_words(
    event: Inbound,
    t: Translator,
    tx: Tx,
    client: Client,
    fsm: StateControl,
    ticket_ref: str | None,
    score: int | None,
) -> Outbound:
    if score is not None and score not in SCORES:
        return Outbound(t("ticket.rate_range"))
    if ticket_ref is not None:
        ticket = _named(await tx.tickets.of_client(client.id, limit=50), ticket_ref)
        if ticket is None:
            return Outbound(t("ticket.rate_not_found", ref=ticket_ref.upper()))
        if ticket.active:
            return Outbound(t("ticket.rate_not_yet", label=Markup(label(t, ticket))))
        if ticket.rating is not None:
            return Outbound(t("ticket.already_rated"))
        if score is None:
            return _offered(offer(t, [ticket]))
        return await rate(tx, t, fsm, event.sender, ticket, score)
    unrated, rated = await waiting(tx, client)
    if not unrated:
        return Outbound(t("ticket.already_rated" if rated else "ticket.rate_none"))
    if score is None:
        return _offered(offer(t, unrated))
    if len(unrated) > 1:  # which one is meant: the client names it
        names = "\n".join(f"· {label(t, tk)}" for tk in unrated)
        return Outbound(t("ticket.rate_which", tickets=Markup(names), number=unrated[0].number))
    return await rate(tx, t, fsm, event.sender, unrated[0], score)


def _offered(found: tuple[list[str], list[list[Button]]]) -> Outbound:
    lines, buttons = found
    return Outbound("\n".join(lines), buttons=buttons)
