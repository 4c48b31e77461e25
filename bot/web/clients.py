"""The staff console's clients pages (see README, "The staff console")."""

from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
