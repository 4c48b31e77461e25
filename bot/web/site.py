"""The staff console's aiohttp application: templates (Jinja2, autoescaped), the static files,
the guard, and the pages' routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.web import audit, broadcasts, clients, desk, faq, flow, login, notes, reports, talk
from bot.web.console import HERE, ConsoleSettings
from bot.web.guard import APP, SESSIONS, SETTINGS, VISITOR, guard
from bot.web.sessions import session_store

if TYPE_CHECKING:
    from bot.app import App

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@web.middleware
async def headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def build(app: App, config: ConsoleSettings) -> web.Application:
    site = web.Application(middlewares=[headers, guard])
    site[APP] = app
    site[SETTINGS] = config
    site[SESSIONS] = session_store(app.db, config.redis_url, config.max_hours)

    async def close_sessions(_: web.Application) -> None:
        await site[SESSIONS].aclose()

    site.on_cleanup.append(close_sessions)
    tz = ZoneInfo(config.timezone)
    env = aiohttp_jinja2.setup(
        site,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        context_processors=[aiohttp_jinja2.request_processor, _context(app, config)],
    )
    env.filters["local"] = lambda at: at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at else "-"
    site.add_routes(login.routes)
    site.add_routes(desk.routes)
    site.add_routes(talk.routes)
    site.add_routes(audit.routes)
    site.add_routes(clients.routes)
    site.add_routes(flow.routes)
    site.add_routes(broadcasts.routes)
    site.add_routes(notes.routes)
    site.add_routes(faq.routes)
    site.add_routes(reports.routes)
    site.router.add_static("/static/", HERE / "static", append_version=True)
    return site


def _context(app: App, config: ConsoleSettings) -> Any:
    async def context(request: web.Request) -> dict[str, Any]:
        who = request.get(VISITOR)
        t = app.translator
        if who is not None:
            async with app.db.read() as tx:
                person = await tx.clients.by_address(who.account.address)
            if person is not None and person.language:
                t = t.with_lang(person.language)
        elif request.query.get("lang") in ("zh", "en"):
            t = t.with_lang(request.query["lang"])
        return {"t": t, "root": config.path, "who": who, "firm": t("web.title")}

    return context
