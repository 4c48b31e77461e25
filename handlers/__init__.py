"""What the bot does for people: one router per feature, assembled in order."""

from __future__ import annotations

from bot.core.router import Router
from handlers import admin, fallback, menu, profile, requests, subscriptions


def build_router() -> Router:
    """Within a tier, earlier routers win; the fallback router must stay last."""
    root = Router("root")
    root.include(
        menu.router,
        subscriptions.router,
        profile.router,
        requests.router,
        admin.router,
        fallback.router,
    )
    return root
