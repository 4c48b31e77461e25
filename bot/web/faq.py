"""The FAQ pages: the knowledge base with how clients rated each answer, the questions it
could not answer in the last days (what `/faq gaps` reports), and a box to try a question
(`/faq test`: what a client would get, recorded nowhere). Adding, editing and deleting an
entry are the chat's guided `/faq` steps sent one after the other as the staff member, each
only once the bot is where the previous one should have left it — so a refused or failed
step never lets the next one through as a client's question."""

from __future__ import annotations

import secrets
from datetime import timedelta

import aiohttp_jinja2
from aiohttp import web

from bot.core.gaps import group_gaps
from bot.core.middlewares import state_key
from bot.core.types import Inbound
from bot.web.acting import act, answers_to
from bot.web.console import CHANNEL
from bot.web.desk import who
from bot.web.guard import Visitor, config, database, redirect
from storage.records import Unanswered

routes = web.RouteTableDef()

GAP_DAYS = 7  # as `/faq gaps`
GAPS_SHOWN = 30
MAX_QUESTION = 500
FIELDS = ("question", "variants", "answer", "category", "enabled")  # what `/faq edit` changes
# One step: what is sent (a text, or ("press", a button's data)) and the state the bot is in
# after it when it went well (None: the last step).
Step = tuple[str | tuple[str, str], str | None]


@routes.get("/faq")
async def faq_page(request: web.Request) -> web.Response:
    async with database(request).read() as tx:
        entries = await tx.faq.entries()
        counts = await tx.faq.feedback_counts()
        gaps = await tx.faq.unanswered_since(tx.now() - timedelta(days=GAP_DAYS))
        proposals = await tx.faq_learning.pending()
    context = {
        "entries": entries, "counts": counts, "gaps": group(gaps)[:GAPS_SHOWN],
        "proposals": proposals,
        "gap_days": GAP_DAYS, "fields": FIELDS, "nonce": secrets.token_urlsafe(16),
        "answers": await answers_to(request, who(request), request.query.get("done")),
    }  # fmt: skip
    return aiohttp_jinja2.render_template("faq.html", request, context)


@routes.post("/faq")
async def faq_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    action = str(form.get("action", ""))
    given = {k: str(form.get(k, "")).strip() for k in ("text", "id", "field", "value", "ref")}
    entry_id = " ".join(given["id"].split())[:60]
    ref = given["ref"] if given["ref"].isdigit() else ""
    steps: list[Step]
    if action == "teach" and ref and entry_id:  # the answer asks to confirm, with a button
        steps = [(f"/faq teach {ref} {entry_id}", None)]
    elif action == "notours" and ref:
        steps = [(f"/faq notours {ref}", None)]
    elif action in ("adopt", "drop") and ref:
        steps = [(f"/faq learn {ref} {'yes' if action == 'adopt' else 'no'}", None)]
    elif action == "test" and given["text"]:
        steps = [(f"/faq test {' '.join(given['text'].split())[:MAX_QUESTION]}", None)]
    elif action == "del" and entry_id:
        steps = [(f"/faq del {entry_id}", None)]  # the answer asks to confirm, with buttons
    elif action == "edit" and entry_id and given["field"] in FIELDS and given["value"]:
        steps = [
            (f"/faq edit {entry_id}", "faq.edit"),
            (("press", f"faqs:field:{given['field']}"), "faq.edit.value"),
            (given["value"], None),
        ]
    elif action == "add" and all(str(form.get(k, "")).strip() for k in ("question", "answer")):
        texts = [str(form.get(k, "")).strip() for k in ("question", "variants", "answer")]
        texts[1] = texts[1] or "-"  # no other phrasings
        category = str(form.get("category", "")).strip()
        if not category:
            raise web.HTTPBadRequest(text="a category is needed")
        steps = [
            ("/faq add", "faq.add.question"),
            (texts[0], "faq.add.variants"),
            (texts[1], "faq.add.answer"),
            (texts[2], "faq.add.category"),
            (category, None),
        ]
    else:
        raise web.HTTPBadRequest(text="unknown action, or nothing given")
    done = await _run(request, who(request), steps, str(form.get("nonce", "")) or None)
    return redirect(f"{config(request).path}/faq" + (f"?done={done}" if done else "?again=1"))


async def _run(
    request: web.Request, me: Visitor, steps: list[Step], nonce: str | None
) -> int | None:
    """Send the steps in order; the event whose answers the page shows (the last one sent),
    or None when this form was sent before."""
    done = None
    for n, (sent, then) in enumerate(steps):
        key = f"{nonce}:{n}" if nonce else None
        if isinstance(sent, tuple):
            done = await act(request, me, callback=sent[1], nonce=key)
        else:
            done = await act(request, me, text=sent, nonce=key)
        if done is None or then is None:
            return done
        async with database(request).read() as tx:
            state = await tx.states.get(_state_key(me))
        if state is None or state.state != then:
            return done  # refused or not accepted: the bot's answer says why
    return done


def _state_key(me: Visitor) -> str:
    """Where the bot keeps the flow of this staff member's console chat."""
    return state_key(Inbound(CHANNEL, me.chat, me.account.address))


def group(rows: list[Unanswered]) -> list[tuple[int, int, Unanswered]]:
    """Near-identical questions together, as `/faq gaps` groups them: (times asked, handed
    to a person, the latest asking), the most asked first."""
    return [(len(g), sum(r.handed_off for r in g), g[-1]) for g in group_gaps(rows)]
