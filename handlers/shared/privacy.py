"""Personal matters (a complaint, a phone number, one's subscriptions) stay out of groups."""

from __future__ import annotations

from bot.core.i18n import Translator
from bot.core.types import Inbound, Outbound


def private(event: Inbound) -> bool:
    return event.chat == event.sender


def private_only(event: Inbound, t: Translator) -> Outbound | None:
    """The refusal to give in a group, or None in a private chat."""
    return None if private(event) else Outbound(t("errors.private_only"))
