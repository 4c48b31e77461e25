"""A message in Cantonese, English or another language that the FAQ could not answer (it
declines those rather than say "not sure"): a kind reply in the seed's spirit, asking to
write in Mandarin if they can, or offering a person who reads it (the advisor button: a
ticket in that language goes to an advisor on duty who reads it, see /duty langs).

Tier FALLBACK, included just after the FAQ."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Translator
from bot.core.router import UNHANDLED, Router, Tier
from bot.core.text import clean_input
from bot.core.types import Button, Inbound, Outbound
from handlers.shared.language import language_of

router = Router("mood.dialect")

LANGUAGE = "mood:language"  # the reply's reference on its outbox row, for the monthly figures


def _text(event: Inbound, _ctx: dict[str, Any]) -> dict[str, Any] | None:
    return {} if event.kind == "text" else None


@router.add(Tier.FALLBACK, _text, ())
async def kind_reply(event: Inbound, t: Translator) -> Outbound:
    language = language_of(clean_input(event.text))
    if language == "mandarin":
        return UNHANDLED
    tc = t.with_lang("en") if language == "english" else t
    buttons = [[Button(tc(f"mood.reader_{language}"), "menu:advisor")]]
    return Outbound(tc(f"mood.{language}"), buttons=buttons, ref=LANGUAGE)
