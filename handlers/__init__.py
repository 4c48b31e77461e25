"""What the bot does for people: one router per feature, assembled in order."""

from __future__ import annotations

from bot.core.router import Router
from handlers import (
    admin,
    broadcasting,
    clients,
    fallback,
    health,
    linking,
    menu,
    notes,
    onboarding,
    profile,
    return_visits,
    smalltalk,
    sms,
    subscriptions,
    training,
    wecom,
)
from handlers.faq import answers as faq_answers
from handlers.faq import staff as faq_staff
from handlers.mood import calm, dialect
from handlers.tickets import desk, followup, handover, intake, ratings


def build_router() -> Router:
    """Within a tier, earlier routers win; the fallback router must stay last."""
    root = Router("root")
    root.include(
        intake.router,  # before the menu: the menu's complaint and advisor buttons start it
        followup.router,
        ratings.router,  # a rating in words, whatever was said since the question
        menu.router,
        sms.router,  # before subscriptions: by SMS, TD and 退订 end the texts, not the topics
        subscriptions.router,
        profile.router,
        linking.router,
        desk.router,
        clients.router,
        onboarding.router,
        broadcasting.router,
        notes.router,
        return_visits.router,
        training.router,
        wecom.router,
        admin.router,
        health.router,
        faq_staff.router,
        smalltalk.router,
        handover.router,  # a quoted ticket message goes back to the desk, before the FAQ
        calm.router,  # an upset client is calmed, never told "not sure" by the FAQ
        faq_answers.router,  # every free text not claimed (or declined) above: the FAQ
        dialect.router,  # Cantonese, English or other text the FAQ declined: a kind reply
        fallback.router,
    )
    return root
