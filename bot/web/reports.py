"""Reports in the staff console (staff and admins): a month's feedback report as its own page
with its charts, the same figures as CSV, and the month's complaint handling forms and call
record forms to download — what `python -m bot report` writes, from the same code."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bot.web.guard import APP, config, database, staff_only
from broadcasts import monthly, service_forms

routes = web.RouteTableDef()
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
FORMS = {"complaints": "complaint", "consultations": "consult"}
# The report page is a document of its own: inline styles and SVG, never a script.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


def _month(request: web.Request, raw: str | None) -> str:
    if raw is None:
        now = database(request).clock().astimezone(ZoneInfo(config(request).timezone))
        return f"{(now.replace(day=1) - timedelta(days=1)):%Y-%m}"  # last month
    if not MONTH.fullmatch(raw):
        raise web.HTTPNotFound(text="a month looks like 2026-11")
    return raw


@routes.get("/reports")
async def reports_page(request: web.Request) -> web.Response:
    staff_only(request)
    month = _month(request, request.query.get("month"))
    return aiohttp_jinja2.render_template("reports.html", request, {"month": month})


@routes.get("/reports/{month}/monthly.html")
async def monthly_page(request: web.Request) -> web.Response:
    staff_only(request)
    month = _month(request, request.match_info["month"])
    app = request.config_dict[APP]
    start, end = service_forms.bounds(month, ZoneInfo(config(request).timezone))
    async with database(request).read() as tx:
        figures = await tx.monthly.figures(start, end, app.settings.desk.onboarding_due)
    page = monthly.to_html(app.translator, month, app.settings.core.firm_name, figures)
    response = web.Response(text=page, content_type="text/html")
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response


@routes.get("/reports/{month}/{name}.csv")
async def download(request: web.Request) -> web.Response:
    staff_only(request)
    month = _month(request, request.match_info["month"])
    name = request.match_info["name"]
    tz = ZoneInfo(config(request).timezone)
    async with database(request).read() as tx:
        if name == "monthly":
            start, end = service_forms.bounds(month, tz)
            due = request.config_dict[APP].settings.desk.onboarding_due
            text = monthly.to_csv(await tx.monthly.figures(start, end, due))
        elif name in FORMS:
            found = await service_forms.rows(tx, FORMS[name], month, tz)
            text = service_forms.to_csv(FORMS[name], found)
        else:
            raise web.HTTPNotFound(text="no such report")
    return web.Response(
        body=text.encode("utf-8-sig"),  # a spreadsheet opens it as UTF-8 (Chinese intact)
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{month}.csv"'},
    )
