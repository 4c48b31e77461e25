"""The audit log, for admins: who did what and when, filtered by who or what."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.web.desk import who
from bot.web.guard import database

routes = web.RouteTableDef()
SHOWN = 200


@routes.get("/audit")
async def audit_page(request: web.Request) -> web.Response:
    if not who(request).is_admin:
        raise web.HTTPForbidden(text="the audit log is for admins")
    action = request.query.get("action", "").strip()[:60] or None
    actor = request.query.get("actor", "").strip()[:200]
    async with database(request).read() as tx:
        rows = await tx.audit.recent(action, limit=SHOWN)
    if actor:
        rows = [r for r in rows if actor in str(r.get("actor", ""))]
    context = {"rows": rows, "action": action or "", "actor": actor}
    return aiohttp_jinja2.render_template("audit.html", request, context)
