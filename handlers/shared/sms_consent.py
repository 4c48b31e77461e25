"""How SMS consent reads in a chat: the client file's line and the client's own view."""

from __future__ import annotations

from bot.core.i18n import Translator
from handlers.shared.desk_policy import DeskPolicy
from storage.records import SmsConsent


def state(t: Translator, consent: SmsConsent | None) -> str:
    if consent is None or consent.consented is None:
        return t("sms.state_unknown")
    return t("sms.state_yes" if consent.consented else "sms.state_no")


def consent_line(t: Translator, consent: SmsConsent | None, desk: DeskPolicy) -> str:
    """「短信:同意(2026-12-07 10:00,客户在聊天中)」 on the client file."""
    if consent is None or consent.consented is None or consent.at is None:
        return t("clientfile.sms", state=state(t, consent))
    return t(
        "clientfile.sms_given",
        state=state(t, consent),
        at=desk.local(consent.at),
        source=t(f"sms.source_{consent.source}"),
    )


def masked(phone: str) -> str:
    """139****5678: enough for the client to know which number, no more in a chat."""
    return f"{phone[:3]}****{phone[-4:]}"
