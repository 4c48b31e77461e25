"""The clients pages: find a client by name, phone, address or tag, and their file —
addresses, tier, tags, advisor, subscriptions, tickets, return visits, notes. Changing the
file is the chat's `/client ID …` command sent as the staff member (`acting.act`), so the
same rules, role checks and audit entries hold as in a chat."""

from __future__ import annotations

import secrets

import aiohttp_jinja2
from aiohttp import web

from bot.web.acting import act, answers_to
from bot.web.desk import who
from bot.web.guard import APP, ID_DIGITS, config, database, path_id, redirect
from storage.records import ONBOARDING_STEPS

routes = web.RouteTableDef()

# Who may run /client in a chat (handlers/clients.py: advisor, staff; admins pass any check).
CLIENT_ROLES = frozenset({"advisor", "staff", "admin"})

MAX_QUERY = 100
SHOWN = 50
# The page's edit forms and the /client command each one sends (the value comes last).
EDITS = {
    "tier": "tier", "tag_add": "tag add", "tag_del": "tag del", "phone": "phone",
    "email": "email", "note": "note", "assign": "assign",
}  # fmt: skip
SMS_CONSENT = ("on", "off")  # `/sms on|off ID`, as staff type it in a chat


def _allowed(request: web.Request) -> None:
    if not who(request).roles & CLIENT_ROLES:
        raise web.HTTPForbidden(text="client files are for advisors and staff")


def _client_id(request: web.Request) -> int:
    return path_id(request, "client")


@routes.get("/clients")
async def clients_page(request: web.Request) -> web.Response:
    _allowed(request)
    q = request.query.get("q", "").strip()[:MAX_QUERY]
    rows = []
    if q:
        async with database(request).read() as tx:
            found = await tx.files.search(q, SHOWN)
            if q.isdigit() and len(q) <= ID_DIGITS and q.lstrip("0"):
                by_id = await tx.clients.get(int(q))
                if by_id and by_id.erased_at is None and by_id.id not in {c.id for c in found}:
                    found.insert(0, by_id)
            for client in found:
                fields = await tx.files.fields(client.id)
                addresses = [i.address for i in await tx.clients.identities(client.id)]
                rows.append((client, fields, sorted(addresses)))
    return aiohttp_jinja2.render_template("clients.html", request, {"q": q, "rows": rows})


@routes.get("/clients/{client}")
async def client_page(request: web.Request) -> web.Response:
    _allowed(request)
    client_id = _client_id(request)
    file = tickets = visits = preferred = consent = opted_out = flow = None
    async with database(request).read() as tx:
        client = await tx.clients.get(client_id)
        if client is None:
            raise web.HTTPNotFound(text="no such client")
        if client.erased_at is None:
            file = await tx.files.get(client)
            tickets = await tx.tickets.of_client(client.id, limit=SHOWN)
            visits = await tx.return_visits.of(client.id)
            preferred = await tx.files.preferred(client.id)
            consent = await tx.sms.consent(client.id)
            opted_out = await tx.sms.opted_out(file.phone) if file.phone else None
            flow = await tx.onboarding.of(client.id)
    context = {
        "client": client, "file": file, "visits": visits, "preferred": preferred,
        "consent": consent, "opted_out": opted_out, "flow": flow, "steps": ONBOARDING_STEPS,
        "due": request.config_dict[APP].settings.desk.onboarding_due,
        "open": [tk for tk in tickets or () if tk.active],
        "past": [tk for tk in tickets or () if not tk.active],
        "nonce": secrets.token_urlsafe(16),
        "answers": await answers_to(request, who(request), request.query.get("done")),
    }  # fmt: skip
    return aiohttp_jinja2.render_template("client.html", request, context)


@routes.post("/clients/{client}")
async def client_action(request: web.Request) -> web.StreamResponse:
    """tier, tag add/del, phone, e-mail, note, assign: `/client ID …` as typed in a chat; SMS
    consent: `/sms on|off ID`."""
    _allowed(request)
    client_id = _client_id(request)
    form = await request.post()
    action, value = str(form.get("action", "")), str(form.get("value", "")).strip()
    if (action not in EDITS and action != "sms") or not value:
        raise web.HTTPBadRequest(text="unknown change, or nothing given")
    if action == "sms" and value not in SMS_CONSENT:
        raise web.HTTPBadRequest(text="SMS consent is on or off")
    async with database(request).read() as tx:
        client = await tx.clients.get(client_id)
    if client is None:
        raise web.HTTPNotFound(text="no such client")
    if action != "note":  # one line; more than one word gets the chat's usage answer
        value = " ".join(value.split())
    nonce = str(form.get("nonce", "")) or None
    typed = (
        f"/sms {value} {client.id}"
        if action == "sms"
        else f"/client {client.id} {EDITS[action]} {value}"
    )
    done = await act(request, who(request), text=typed, nonce=nonce)
    back = f"{config(request).path}/clients/{client.id}"
    return redirect(back + (f"?done={done}" if done else "?again=1"))
